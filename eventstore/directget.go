package eventstore

// Reads of one subject go through the stream's direct-get API rather than
// a consumer: one request streams back every message of the subject (the
// server walks its per-subject index), where a consumer would cost a
// create, a pull and a delete for an aggregate of a handful of events.

import (
	"context"
	"encoding/json"
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

	statusNotFound = "404"
	statusEOB      = "204"

	directBatch = 1000
)

type directGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

// readSubject streams the messages on subject with seq > after in batches,
// until the server reports none pending.
func (l *Log) readSubject(ctx context.Context, stream, subject string, after uint64, fn func(Entry) error) error {
	inbox := l.nc.NewInbox()
	sub, err := l.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	apiSubj := "$JS.API.DIRECT.GET." + stream
	next := after + 1
	for {
		req, err := json.Marshal(directGetRequest{Seq: next, NextFor: subject, Batch: directBatch})
		if err != nil {
			return err
		}
		if err := l.nc.PublishRequest(apiSubj, inbox, req); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		for {
			m, err := l.nextAnswer(ctx, sub)
			if err != nil {
				return err
			}
			status := m.Header.Get(hdrStatus)
			if status == statusEOB {
				if m.Header.Get(hdrNumPending) == "0" {
					return nil
				}
				break // more than one batch: ask again from next
			}
			if status == statusNotFound {
				return nil
			}
			if status != "" {
				return statusError(m)
			}
			e, err := directEntry(m)
			if err != nil {
				return err
			}
			next = e.Seq + 1
			if err := fn(e); err != nil {
				return err
			}
		}
	}
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

// lastOnSubject fetches the newest message on subject.
func (l *Log) lastOnSubject(ctx context.Context, stream, subject string) (Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.PublishTimeout)
	defer cancel()
	m, err := l.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+stream+"."+subject, nil)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch m.Header.Get(hdrStatus) {
	case "":
		return directEntry(m)
	case statusNotFound:
		return Entry{}, ErrNotFound
	default:
		return Entry{}, statusError(m)
	}
}

func statusError(m *nats.Msg) error {
	if m.Header.Get(hdrStatus) == "503" {
		return fmt.Errorf("%w: %w", ErrUnavailable, nats.ErrNoResponders)
	}
	return fmt.Errorf("%w: direct get: status %s %s", ErrUnavailable, m.Header.Get(hdrStatus), m.Header.Get("Description"))
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
