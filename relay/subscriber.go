package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/eventstore"
)

// subscriber is the watermill Subscriber of one webhook: it reads the
// webhook's durable consumer and hands the router the events it wants,
// through lanes (lanes.go).
//
// Taking a webhook over. The server pins one instance, but when it pins
// another (the first died, or went quiet for PinnedTTL), the events the
// first held come back out of order: the server hands back each as its
// AckWait runs out, and new events may come in between. So an instance
// that has just been pinned delivers nothing until every event the
// consumer has out is one it holds (NumAckPending no more than its own),
// then starts in log order. PinnedTTL > AckWait + PullExpiry makes that
// wait short after a crash: by the time the server pins anew, all the dead
// instance's events are already due back. An instance that finds it lost
// the pin gives up its events (nak, in log order) so they come back at once.
type subscriber struct {
	h   *hook
	out chan *message.Message

	closing   chan struct{}
	closeOnce sync.Once
	started   atomic.Bool
	done      chan struct{}
}

var errVanished = errors.New("relay: consumer deleted")

func newSubscriber(h *hook) *subscriber {
	return &subscriber{h: h, out: make(chan *message.Message), closing: make(chan struct{}), done: make(chan struct{})}
}

// Subscribe implements message.Subscriber; the topic is the consumer's.
func (s *subscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	if !s.started.CompareAndSwap(false, true) {
		return nil, errors.New("relay: subscribed twice")
	}
	go s.run(ctx)
	return s.out, nil
}

// Close implements message.Subscriber: it gives back every event held and
// returns once nothing more is handed to the router.
func (s *subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	if s.started.Load() {
		<-s.done
	}
	return nil
}

func (s *subscriber) run(parent context.Context) {
	defer close(s.done)
	defer close(s.out)
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := 100 * time.Millisecond
	created := false
	for ctx.Err() == nil {
		err := s.session(ctx, &created)
		if errors.Is(err, errVanished) {
			// The webhook was removed, or its consumer lost: the relay
			// decides, after a grace, whether to make it again.
			s.h.r.log.Warn("relay: the consumer of a webhook is gone", "webhook", s.h.w.ID)
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.h.r.log.Warn("relay: reading a webhook's events failed; starting again", "webhook", s.h.w.ID, "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// session reads the consumer until ctx ends or reading must start again.
// Only the first session creates the consumer: a later one that found it
// gone would deliver the webhook's whole history again.
func (s *subscriber) session(ctx context.Context, created *bool) error {
	r := s.h.r
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	var (
		cons jetstream.Consumer
		err  error
	)
	if !*created {
		cons, err = r.js.CreateOrUpdateConsumer(cctx, eventstore.EventsStream, r.consumerConfig(s.h.w))
		*created = err == nil
	} else {
		cons, err = r.js.Consumer(cctx, eventstore.EventsStream, ConsumerName(s.h.w.ID))
	}
	cancel()
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return errVanished
	}
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	in := make(chan jetstream.Msg, pullBatch(r.cfg))
	stop := make(chan struct{})
	errs := make(chan error, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case in <- m:
		case <-stop:
			_ = m.Nak()
		}
	}, jetstream.PullPriorityGroup(pinGroup), jetstream.PullMaxMessages(pullBatch(r.cfg)),
		jetstream.PullExpiry(r.cfg.PullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	p := &pump{s: s, cons: cons, pending: map[uint64]*item{}, lanes: map[string]*lane{},
		recent: newRecent(2 * r.cfg.MaxPending), results: make(chan result, r.cfg.MaxPending),
		settle: time.NewTimer(time.Hour)}
	p.settle.Stop()
	p.newGen()
	err = p.loop(ctx, in, errs, cc.Closed())

	// Wind down: no more pulls, the lanes' events back from the router,
	// then every event held given back in log order for whoever is next.
	p.closing = true
	p.cancelGen(errAbandoned)
	cc.Stop()
	for p.inflight > 0 {
		select {
		case res := <-p.results:
			p.finished(res)
		case m := <-in:
			p.receive(m)
		}
	}
	close(stop)
	// Unsubscribed before the events go back and the pin is let go: the
	// server must hand them to another instance, not to this one.
	closedWait := time.NewTimer(ackTimeout)
	select {
	case <-cc.Closed():
	case <-closedWait.C:
	}
	closedWait.Stop()
	for {
		select {
		case m := <-in:
			p.receive(m)
			continue
		default:
		}
		break
	}
	if !errors.Is(err, errVanished) {
		p.nakAll()
		p.unpin()
	}
	return err
}

func pullBatch(c Config) int { return min(c.MaxPending, 128) }

func (p *pump) loop(ctx context.Context, in <-chan jetstream.Msg, errs <-chan error, closed <-chan struct{}) error {
	hb := time.NewTicker(p.s.h.r.cfg.AckWait / 3)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-in:
			p.receive(m)
		case res := <-p.results:
			p.finished(res)
		case <-hb.C:
			p.heartbeat()
		case <-p.settle.C:
			p.checkSettled(ctx)
		case <-closed:
			return errors.New("consume stopped")
		case err := <-errs:
			switch {
			case errors.Is(err, jetstream.ErrPinIDMismatch):
				p.s.h.r.log.Info("relay: another instance took a webhook over", "webhook", p.s.h.w.ID)
				p.abandon()
			case errors.Is(err, jetstream.ErrConsumerDeleted):
				return errVanished
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, ierr := p.cons.Info(ictx)
				cancel()
				if errors.Is(ierr, jetstream.ErrConsumerNotFound) {
					return errVanished
				}
			case errors.Is(err, jetstream.ErrConnectionClosed):
				return err
			}
		}
	}
}
