package eventstore

// Reads of one subject go through the stream's direct-get API rather than
// a consumer: one request streams back every message of the subject (the
// server walks its per-subject index), where a consumer would cost a
// create, a pull and a delete for an aggregate of a handful of events. The
// leader bounds each read (leaderget.go), since a replica may lag.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	hdrStatus     = "Status"
	hdrStream     = "Nats-Stream"
	hdrSubject    = "Nats-Subject"
	hdrSequence   = "Nats-Sequence"
	hdrTimeStamp  = "Nats-Time-Stamp"
	hdrNumPending = "Nats-Num-Pending"
	hdrLastSeq    = "Nats-Last-Sequence"

	statusEOB = "204"

	directBatch = 1000
)

type directGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

// readSubject calls fn, in order, for the messages on subject with seq >
// after, up to the last one the stream's leader holds when the read starts.
// Batched direct gets, which any replica may answer, do the bulk of the
// reading; the leader says where the subject ends, so that a replica that
// has not applied the newest writes cannot cut the read short: whatever it
// lacks is read from the leader (leaderget.go).
func (l *Log) readSubject(ctx context.Context, stream, subject string, after uint64, fn func(Entry) error) error {
	last, err := l.leaderGet(ctx, stream, msgGetRequest{LastFor: subject})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if last.Seq <= after {
		return nil
	}
	next, err := l.directSubject(ctx, stream, subject, after+1, last.Seq, fn)
	if err != nil {
		return err
	}
	for next <= last.Seq {
		e := last
		if next < last.Seq {
			e, err = l.leaderGet(ctx, stream, msgGetRequest{Seq: next, NextFor: subject})
			if errors.Is(err, ErrNotFound) {
				return nil // deleted meanwhile (keys only: the event log denies deletes)
			}
			if err != nil {
				return err
			}
			if e.Seq > last.Seq {
				return nil
			}
		}
		if err := fn(e); err != nil {
			return err
		}
		next = e.Seq + 1
	}
	return nil
}

// directSubject reads the messages on subject from seq from up to seq to
// with batched direct gets and returns the position to go on from: past to
// when it read everything, lower when the replica that answered had no
// more. Only fn's error and ctx's end are returned: any other failure just
// leaves the rest to the leader.
func (l *Log) directSubject(ctx context.Context, stream, subject string, from, to uint64, fn func(Entry) error) (uint64, error) {
	next := from
	inbox := l.nc.NewInbox()
	sub, err := l.nc.SubscribeSync(inbox)
	if err != nil {
		return next, nil
	}
	defer func() { _ = sub.Unsubscribe() }()
	apiSubj := "$JS.API.DIRECT.GET." + stream
	for next <= to {
		req, err := json.Marshal(directGetRequest{Seq: next, NextFor: subject, Batch: directBatch})
		if err != nil {
			return next, err
		}
		if err := l.nc.PublishRequest(apiSubj, inbox, req); err != nil {
			return next, nil
		}
		got := 0
		for {
			m, err := l.nextAnswer(ctx, sub)
			if err != nil {
				if ctx.Err() != nil {
					return next, ctx.Err()
				}
				return next, nil
			}
			status := m.Header.Get(hdrStatus)
			if status == statusEOB {
				if m.Header.Get(hdrNumPending) == "0" {
					return next, nil
				}
				break
			}
			if status != "" {
				return next, nil
			}
			e, err := directEntry(m)
			if err != nil || e.Seq < next {
				return next, nil
			}
			if e.Seq > to {
				return to + 1, nil
			}
			got++
			next = e.Seq + 1
			if err := fn(e); err != nil {
				return next, err
			}
		}
		if got == 0 {
			return next, nil
		}
	}
	return next, nil
}
func (l *Log) nextAnswer(ctx context.Context, sub *nats.Subscription) (*nats.Msg, error) {
	wait, cancel := context.WithTimeout(ctx, l.cfg.PublishTimeout)
	defer cancel()
	m, err := sub.NextMsgWithContext(wait)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: no answer within %s: %w", ErrUnavailable, l.cfg.PublishTimeout, err)
	}
	return m, nil
}

// lastOnSubject fetches the newest message on subject from the stream's
// leader, so that it is never older than an acknowledged write.
func (l *Log) lastOnSubject(ctx context.Context, stream, subject string) (Entry, error) {
	return l.leaderGet(ctx, stream, msgGetRequest{LastFor: subject})
}

// directEntry rebuilds an entry from a direct-get answer, dropping the
// headers the server added so that it reads like one from a consumer.
func directEntry(m *nats.Msg) (Entry, error) {
	h := m.Header
	seq, err := strconv.ParseUint(h.Get(hdrSequence), 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: direct get: bad sequence: %w", ErrUnavailable, err)
	}
	ts, err := time.Parse(time.RFC3339Nano, h.Get(hdrTimeStamp))
	if err != nil {
		return Entry{}, fmt.Errorf("%w: direct get: bad time: %w", ErrUnavailable, err)
	}
	e := Entry{Seq: seq, Subject: h.Get(hdrSubject), Data: m.Data, Time: ts}
	for _, k := range []string{hdrStream, hdrSubject, hdrSequence, hdrTimeStamp, hdrNumPending, hdrLastSeq} {
		delete(h, k)
	}
	e.Header = ownHeaders(h)
	return e, nil
}
