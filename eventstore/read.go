package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound reports that no message matched.
var ErrNotFound = errors.New("eventstore: not found")

// Entry is one message read from the log. Header holds the headers the
// record was appended with, nil if none.
type Entry struct {
	Seq     uint64
	Subject string
	Data    []byte
	Header  nats.Header
	Time    time.Time
	// Void marks a position that holds no event (see Log.Void): readers
	// skip it, but count it as read.
	Void bool
}

// readBuffer is how many messages an ordered consumer keeps pulled ahead:
// large enough that replaying millions of events is bound by the handler,
// not by round trips.
const readBuffer = 4096

// LastSeq returns the stream's last sequence, 0 when it is empty.
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	info, err := l.events.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("last seq: %w: %w", ErrUnavailable, err)
	}
	return info.State.LastSeq, nil
}

// ReadRange calls fn for every entry with from <= seq <= to, in order, and
// returns once it has seen to. When to is 0 it is the last sequence at the
// time of the call. A to beyond the log waits for it to be written, until
// ctx ends. fn's error stops the read and is returned.
func (l *Log) ReadRange(ctx context.Context, from, to uint64, fn func(Entry) error) error {
	if from == 0 {
		from = 1
	}
	if to == 0 {
		last, err := l.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("read range from %d: %w", from, err)
		}
		to = last
	}
	if to < from {
		return nil
	}
	err := l.consume(ctx, from, func(e Entry) (bool, error) {
		if e.Seq > to {
			return true, nil
		}
		if err := fn(e); err != nil {
			return true, err
		}
		return e.Seq >= to, nil
	})
	if err != nil {
		return fmt.Errorf("read range %d..%d: %w", from, to, err)
	}
	return nil
}

// Tail calls fn for every entry from seq from on, in order, until ctx ends
// (returning ctx's error) or fn fails. The ordered consumer behind it
// recreates itself after a reconnect or a server restart and resumes after
// the last entry delivered.
func (l *Log) Tail(ctx context.Context, from uint64, fn func(Entry) error) error {
	if from == 0 {
		from = 1
	}
	err := l.consume(ctx, from, func(e Entry) (bool, error) {
		if err := fn(e); err != nil {
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("tail from %d: %w", from, err)
	}
	return ctx.Err()
}

// consume runs an ordered consumer from seq from, handing entries to step in
// order until step says stop, step fails, or ctx ends.
func (l *Log) consume(ctx context.Context, from uint64, step func(Entry) (stop bool, err error)) error {
	cons, err := l.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		// Backstop for a consumer whose deletion below did not get through.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	done := make(chan error, 1)
	// mu spans each call of step, so that once consume returns fn is neither
	// running nor called again.
	var (
		mu      sync.Mutex
		stopped bool
	)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		e, err := entryOf(m)
		var stop bool
		if err == nil {
			stop, err = step(l.markVoid(e))
		}
		if stop || err != nil {
			stopped = true
			select {
			case done <- err:
			default:
			}
		}
	}, jetstream.PullMaxMessages(readBuffer), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			select {
			case done <- fmt.Errorf("%w: %w", ErrUnavailable, err):
			default:
			}
		}
	}))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() {
		cc.Stop()
		mu.Lock()
		stopped = true
		mu.Unlock()
		// Stopping leaves the consumer on the server until it idles out;
		// replays would pile them up.
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.Background(), l.cfg.PublishTimeout)
			_ = l.js.DeleteConsumer(dctx, EventsStream, info.Name)
			cancel()
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func entryOf(m jetstream.Msg) (Entry, error) {
	md, err := m.Metadata()
	if err != nil {
		return Entry{}, fmt.Errorf("message metadata: %w", err)
	}
	return Entry{
		Seq:     md.Sequence.Stream,
		Subject: m.Subject(),
		Data:    m.Data(),
		Header:  ownHeaders(m.Headers()),
		Time:    md.Timestamp.UTC(),
	}, nil
}

// storeHeaders are written by the commit path for the server's sake and
// stored with each message; readers get only the caller's own headers.
var storeHeaders = []string{hdrBatchID, hdrBatchSeq, hdrBatchCommit, hdrExpectedLastSubjSeq}

func ownHeaders(h nats.Header) nats.Header {
	if len(h) == 0 {
		return nil
	}
	for _, k := range storeHeaders {
		delete(h, k)
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

// ReadSubject calls fn, in order, for every entry on subject with seq >
// after, up to the last one when the read started.
func (l *Log) ReadSubject(ctx context.Context, subject string, after uint64, fn func(Entry) error) error {
	if err := l.readSubject(ctx, EventsStream, subject, after, func(e Entry) error { return fn(l.markVoid(e)) }); err != nil {
		return fmt.Errorf("read subject %s after %d: %w", subject, after, err)
	}
	return nil
}

// LastOnSubject returns the last entry on subject, or ErrNotFound.
func (l *Log) LastOnSubject(ctx context.Context, subject string) (Entry, error) {
	e, err := l.lastOnSubject(ctx, EventsStream, subject)
	if err != nil {
		return Entry{}, fmt.Errorf("last on subject %s: %w", subject, err)
	}
	return l.markVoid(e), nil
}

// Get returns the entry at one position of the event log, or ErrNotFound.
// Auditors' history reads the events themselves from the log: the views
// keep only which positions belong to which ticket. Any replica may answer
// (a direct get); one that has not applied the position yet answers 404,
// and only the leader's 404 is taken for "not in the log".
func (l *Log) Get(ctx context.Context, seq uint64) (Entry, error) {
	m, err := l.events.GetMsg(ctx, seq)
	if err == nil {
		return l.markVoid(Entry{Seq: m.Sequence, Subject: m.Subject, Data: m.Data, Header: ownHeaders(m.Header), Time: m.Time}), nil
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Entry{}, fmt.Errorf("event %d: %w: %w", seq, ErrUnavailable, err)
	}
	e, err := l.leaderGet(ctx, EventsStream, msgGetRequest{Seq: seq})
	if err != nil {
		return Entry{}, fmt.Errorf("event %d: %w", seq, err)
	}
	return l.markVoid(e), nil
}
