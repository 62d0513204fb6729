package relay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ticketbus/ticketbus/domain"
)

// runner relays one webhook: a watermill router of its own, so that a
// webhook's removal closes its router alone (a router whose last handler
// stops closes itself, so webhooks could not share one).
type runner struct {
	h      *hook
	router *message.Router
	sub    *subscriber
	done   chan struct{} // closed once the router has stopped
	// stoppedAt is when the relay saw the router stop by itself.
	stoppedAt time.Time
}

// jitter is the backoff's randomization: each wait is drawn within ±50%
// of its interval.
const jitter = 0.5

// startRunner builds a webhook's router, outermost middleware first:
// metrics; the poison queue, outside the retries, so that only what
// exhausts them or fails for good becomes a dead letter; the retries; the
// concurrency limit, per attempt, so that an event waiting for its retry
// holds no slot; the attempt's timeout; the recoverer, so that a panic is
// an attempt's error like any other.
func (r *Relay) startRunner(w domain.Webhook) (*runner, error) {
	h := &hook{r: r, w: w}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: r.cfg.AttemptTimeout + ackTimeout}, r.wlog)
	if err != nil {
		return nil, err
	}
	r.wm.AddPrometheusRouterMetrics(router)
	pub, err := r.wm.DecoratePublisher(poisonPublisher{h: h})
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueueWithFilter(pub, failureSubject(w.ID), func(err error) bool { return !abandoned(err) })
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(poison, r.retry().Middleware, limit(r.cfg.Concurrency),
		middleware.Timeout(r.cfg.AttemptTimeout), middleware.Recoverer)
	sub := newSubscriber(h)
	router.AddConsumerHandler("webhook_"+token(w.ID), deliverable, sub, h.handle)
	rn := &runner{h: h, router: router, sub: sub, done: make(chan struct{})}
	go func() {
		defer close(rn.done)
		if err := router.Run(context.Background()); err != nil {
			r.log.Error("relay: router stopped", "webhook", w.ID, "err", err)
		}
	}()
	// A router closed before it runs waits its whole CloseTimeout for a
	// handler that never started.
	select {
	case <-router.Running():
	case <-rn.done:
	}
	return rn, nil
}

// stop closes the router and waits until every event it held was given
// back.
func (rn *runner) stop() {
	_ = rn.router.Close()
	<-rn.done
	_ = rn.sub.Close()
}

// stopped reports whether the router stopped by itself.
func (rn *runner) stopped() bool {
	select {
	case <-rn.done:
		return true
	default:
		return false
	}
}

// retry is the retry middleware. Watermill's Retry draws twice from its
// backoff for each failed attempt (once for ShouldRetry's RetryParams.Delay,
// once for the wait), so the interval is multiplied twice between two
// waits: √2 a draw doubles each wait, and the first wait, the second draw,
// is FirstRetry. MaxInterval leaves room for the jitter under MaxRetryWait;
// MaxElapsedTime lets the last attempt come at least RetryFor after the
// first.
func (r *Relay) retry() middleware.Retry {
	maxInterval := time.Duration(float64(r.cfg.MaxRetryWait) / (1 + jitter))
	return middleware.Retry{
		MaxRetries:          math.MaxInt32,
		InitialInterval:     time.Duration(float64(min(r.cfg.FirstRetry, maxInterval)) / math.Sqrt2),
		Multiplier:          math.Sqrt2,
		MaxInterval:         maxInterval,
		RandomizationFactor: jitter,
		MaxElapsedTime:      r.cfg.RetryFor + r.cfg.MaxRetryWait,
		// The Timeout middleware inside sets each attempt's deadline on the
		// message's context; each attempt starts again from the original.
		ResetContextOnRetry: true,
		ShouldRetry: func(p middleware.RetryParams) bool {
			var panicked middleware.RecoveredPanicError
			if errors.As(p.Err, &panicked) {
				r.log.Error("relay: delivery panicked; retrying", "panic", fmt.Sprint(panicked.V), "stack", panicked.Stacktrace)
			}
			return !isPermanent(p.Err) && !abandoned(p.Err)
		},
	}
}

// limit bounds the attempts in flight through one router.
func limit(n int) message.HandlerMiddleware {
	slots := make(chan struct{}, n)
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			select {
			case slots <- struct{}{}:
			case <-msg.Context().Done():
				return nil, context.Cause(msg.Context())
			}
			defer func() { <-slots }()
			return h(msg)
		}
	}
}
