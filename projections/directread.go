package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/eventstore"
)

// A catch-up far behind the log reads it with the stream's batched direct
// get instead of an ordered consumer: the server sends the payloads alone
// (no_hdr), without a consumer's per-message bookkeeping, and the client
// has no headers to parse, which more than halves the CPU a read costs.
// The projector needs nothing of an entry but its position and data.
const (
	// directReadBatch is how many messages one request asks for.
	directReadBatch = 4096
	// directReadWait bounds the wait for each answer.
	directReadWait = 10 * time.Second
)

// errDirectRead reports an answer a batched direct get should not give:
// an older server, or messages lost on the way. The caller reads on with
// the ordered consumer.
var errDirectRead = errors.New("direct read")

// readDirect calls fn for every entry with from <= seq <= to, in order,
// through batched direct gets; to must be in the log already. When the
// server does not answer as expected it goes on with l.ReadRange, so that
// it fails only where ReadRange would.
func readDirect(ctx context.Context, l *eventstore.Log, from, to uint64, fn func(eventstore.Entry) error) error {
	if from == 0 {
		from = 1
	}
	next, err := directRange(ctx, l, from, to, fn)
	if errors.Is(err, errDirectRead) {
		return l.ReadRange(ctx, next, to, fn)
	}
	return err
}

type directRequest struct {
	Seq       uint64 `json:"seq"`
	Batch     int    `json:"batch"`
	NoHeaders bool   `json:"no_hdr"`
}

// directRange reads from..to and returns the position to go on from, with
// errDirectRead when the rest should be read another way.
func directRange(ctx context.Context, l *eventstore.Log, from, to uint64, fn func(eventstore.Entry) error) (uint64, error) {
	nc := l.JetStream().Conn()
	// One request is outstanding at a time and its answer is taken off
	// the channel before the next is sent, so a channel that holds a whole
	// answer never drops a message.
	ch := make(chan *nats.Msg, directReadBatch+1)
	sub, err := nc.ChanSubscribe(nc.NewInbox(), ch)
	if err != nil {
		return from, fmt.Errorf("%w: %w", errDirectRead, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	subject := "$JS.API.DIRECT.GET." + eventstore.EventsStream
	timer := time.NewTimer(directReadWait)
	defer timer.Stop()
	next := from
	ask := func() error {
		req, err := json.Marshal(directRequest{Seq: next, Batch: int(min(to-next+1, directReadBatch)), NoHeaders: true})
		if err != nil {
			return err
		}
		if err := nc.PublishRequest(subject, sub.Subject, req); err != nil {
			return fmt.Errorf("%w: %w", errDirectRead, err)
		}
		return nil
	}
	if next > to {
		return next, nil
	}
	if err := ask(); err != nil {
		return next, err
	}
	got := make([]eventstore.Entry, 0, directReadBatch)
	for {
		got = got[:0]
		last, err := directAnswer(ctx, ch, timer, next, &got)
		if err != nil {
			return next, err
		}
		// n messages in order, none before next and none after last, are
		// every position of next..last only if there are last-next+1 of
		// them: a count that does not add up is a gap or a lost message.
		if last < next || last-next+1 != uint64(len(got)) {
			return next, fmt.Errorf("%w: %d messages for %d..%d", errDirectRead, len(got), next, last)
		}
		for i := range got {
			got[i].Seq = next + uint64(i)
			got[i].Void = l.Void(got[i].Seq)
		}
		next = last + 1
		// The server prepares the next answer while this one is applied.
		if next <= to {
			if err := ask(); err != nil {
				return got[0].Seq, err
			}
		}
		for _, e := range got {
			if err := fn(e); err != nil {
				return e.Seq, err
			}
		}
		if next > to {
			return next, nil
		}
	}
}

// directAnswer collects the messages of one answer into got and returns
// the last position the server reports having sent.
func directAnswer(ctx context.Context, ch <-chan *nats.Msg, timer *time.Timer, from uint64, got *[]eventstore.Entry) (uint64, error) {
	for {
		timer.Reset(directReadWait)
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-timer.C:
			return 0, fmt.Errorf("%w: no answer within %s", errDirectRead, directReadWait)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if m.Header == nil {
			*got = append(*got, eventstore.Entry{Data: m.Data})
			continue
		}
		status := m.Header.Get("Status")
		if status == "" {
			// A server that ignores no_hdr: its messages name their
			// positions, which the count check does not need.
			*got = append(*got, eventstore.Entry{Data: m.Data})
			continue
		}
		if status != "204" {
			return 0, fmt.Errorf("%w: status %s %s", errDirectRead, status, m.Header.Get("Description"))
		}
		last, err := strconv.ParseUint(m.Header.Get("Nats-Last-Sequence"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: last sequence: %w", errDirectRead, err)
		}
		if len(*got) == 0 {
			return from - 1, nil
		}
		return last, nil
	}
}
