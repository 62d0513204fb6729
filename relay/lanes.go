package relay

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// A webhook's events are held in lanes, one per ticket: a lane hands the
// router its next event only once the one before was acknowledged, that is
// delivered or kept as a dead letter, so that a ticket's events reach the
// webhook in log order while other tickets' go concurrently. The pump that
// owns the lanes runs on one goroutine (subscriber.go); each lane's event
// in the router has a goroutine of its own waiting for its outcome.

// item is one event received for a webhook and not yet acknowledged.
type item struct {
	seq  uint64
	lane string
	id   string
	data []byte

	mu  sync.Mutex
	msg jetstream.Msg // its latest delivery by the server
}

func (it *item) js() jetstream.Msg {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.msg
}

func (it *item) setJS(m jetstream.Msg) {
	it.mu.Lock()
	it.msg = m
	it.mu.Unlock()
}

// lane holds a ticket's events in log order; the head is in the router
// while busy.
type lane struct {
	queue []*item
	busy  bool
}

// insert puts it in log order, behind the head if that is in the router
// already: a redelivery that comes late cannot overtake what is under way.
func (l *lane) insert(it *item) {
	from := 0
	if l.busy {
		from = 1
	}
	i, _ := slices.BinarySearchFunc(l.queue[from:], it.seq, func(x *item, seq uint64) int {
		switch {
		case x.seq < seq:
			return -1
		case x.seq > seq:
			return 1
		}
		return 0
	})
	l.queue = slices.Insert(l.queue, from+i, it)
}

// result is the outcome of a lane's head: ok when it was acknowledged,
// false when this instance gave up on it.
type result struct {
	it *item
	ok bool
}

// recent remembers the positions acknowledged lately, so that a
// redelivery of one whose acknowledgement was lost is not sent again.
type recent struct {
	ring []uint64
	next int
	set  map[uint64]struct{}
}

func newRecent(n int) *recent {
	return &recent{ring: make([]uint64, n), set: make(map[uint64]struct{}, n)}
}

func (r *recent) add(seq uint64) {
	if old := r.ring[r.next]; old != 0 {
		delete(r.set, old)
	}
	r.ring[r.next] = seq
	r.set[seq] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}

func (r *recent) has(seq uint64) bool {
	_, ok := r.set[seq]
	return ok
}

// handOver gives it to the router and waits for its outcome. A message the
// router nacks (the dead letter could not be written, or the handler broke
// outside its recoverer) is handed over again after a pause, keeping its
// lane's place. It returns false once ctx, the generation, is cancelled.
func (s *subscriber) handOver(ctx context.Context, it *item) bool {
	attempts, posted := "0", ""
	for {
		wm := message.NewMessage(it.id, it.data)
		wm.Metadata.Set(mdSeq, strconv.FormatUint(it.seq, 10))
		wm.Metadata.Set(mdEventID, it.id)
		wm.Metadata.Set(mdAttempts, attempts)
		if posted != "" {
			wm.Metadata.Set(mdPosted, posted)
		}
		wm.SetContext(context.WithValue(ctx, genKey{}, ctx))
		select {
		case s.out <- wm:
		case <-ctx.Done():
			return false
		}
		acked, done := s.outcome(ctx, wm)
		if acked {
			s.ack(it)
			return true
		}
		if !done {
			return false
		}
		// Closing the channel published the handler's metadata.
		attempts, posted = wm.Metadata.Get(mdAttempts), wm.Metadata.Get(mdPosted)
		if !sleep(ctx, s.h.r.cfg.FirstRetry) {
			return false
		}
	}
}

// genKey holds, in a message's context, the generation it was handed over
// in: the middlewares leave the message with contexts of their own, one
// attempt's deadline that has passed by the time the dead letter is
// written.
type genKey struct{}

// generation returns the generation ctx descends from.
func generation(ctx context.Context) context.Context {
	if g, ok := ctx.Value(genKey{}).(context.Context); ok {
		return g
	}
	return ctx
}

// outcome waits for the router to ack or nack wm. Once ctx is cancelled
// the handler returns soon; it is given an attempt's time to do so.
func (s *subscriber) outcome(ctx context.Context, wm *message.Message) (acked, done bool) {
	select {
	case <-wm.Acked():
		return true, true
	case <-wm.Nacked():
		return false, ctx.Err() == nil
	case <-ctx.Done():
	}
	grace := time.NewTimer(s.h.r.cfg.AttemptTimeout)
	defer grace.Stop()
	select {
	case <-wm.Acked():
		return true, true
	case <-wm.Nacked():
	case <-grace.C:
	}
	return false, false
}

// ack acknowledges it to the server and waits for the server to confirm,
// so that a lost acknowledgement shows in the log rather than as a silent
// second delivery.
func (s *subscriber) ack(it *item) {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if err := it.js().DoubleAck(ctx); err != nil {
		s.h.r.log.Warn("relay: acknowledgement not confirmed; the event may be delivered again", "webhook", s.h.w.ID, "position", it.seq, "err", err)
	}
}

const ackTimeout = 5 * time.Second

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
