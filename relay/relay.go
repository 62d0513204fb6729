// Package relay delivers the engine's events to webhooks (spec section 7):
// each event a webhook subscribed to, appended after the webhook was
// created, POSTed as signed JSON, at least once, a ticket's events in log
// order, retried with backoff for a day, then kept as a dead letter.
//
// Each webhook has a durable JetStream consumer (consumer.go) that every
// ticketd instance pulls from, one instance at a time (pinned priority
// group); a watermill router of its own (router.go) whose subscriber keeps
// a lane per ticket (subscriber.go, lanes.go); and a subject of the dead
// letter stream (failures.go).
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
)

// Relay delivers events to the active webhooks until Close.
type Relay struct {
	cfg      Config
	js       jetstream.JetStream
	events   jetstream.Stream
	failures jetstream.Stream
	replicas int
	m        *metrics
	wm       wmetrics.PrometheusMetricsBuilder
	log      *slog.Logger
	wlog     watermill.LoggerAdapter

	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	runners map[string]*runner
}

// orphansEvery is how many listings of the webhooks go between two looks
// for consumers of removed webhooks.
const orphansEvery = 60

// Start creates the dead letter stream and starts relaying; it lists the
// webhooks at once, then every PollInterval. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Relay, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, js: cfg.Log.JetStream(), events: cfg.Log.Stream(), log: cfg.Logger,
		runners: map[string]*runner{}, done: make(chan struct{})}
	info, err := r.events.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("relay: event stream: %w", err)
	}
	// The dead letters and the consumers are replicated as the events are.
	r.replicas = info.Config.Replicas
	if r.failures, err = r.ensureFailuresStream(ctx); err != nil {
		return nil, fmt.Errorf("relay: stream %s: %w", FailuresStream, err)
	}
	if r.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("relay: metrics: %w", err)
	}
	r.wm = wmetrics.NewPrometheusMetricsBuilder(cfg.Registerer, "ticketbus", "webhooks")
	// Watermill tells of every handler it adds and stops at info level.
	r.wlog = watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	lctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.loop(lctx)
	return r, nil
}

// Close stops relaying: deliveries under way are abandoned, and every
// event held is handed back to the server for the next instance, or the
// next start.
func (r *Relay) Close() {
	r.stop()
	<-r.done
}

func (r *Relay) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for n := 0; ; n++ {
		if active := r.sync(ctx); active != nil && n%orphansEvery == 0 {
			r.removeOrphans(ctx, active)
		}
		select {
		case <-ctx.Done():
			r.stopAll()
			return
		case <-t.C:
		}
	}
}

// sync starts relaying the webhooks that are new and stops the removed
// ones; it returns the active webhooks' ids, nil when they are unknown.
func (r *Relay) sync(ctx context.Context) map[string]bool {
	hooks, err := r.cfg.Engine.Webhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("relay: cannot list the webhooks", "err", err)
		}
		return nil
	}
	active := make(map[string]bool, len(hooks))
	for _, w := range hooks {
		active[w.ID] = true
	}
	r.mu.Lock()
	runners := make(map[string]*runner, len(r.runners))
	for id, rn := range r.runners {
		runners[id] = rn
	}
	r.mu.Unlock()
	for id, rn := range runners {
		if !active[id] {
			r.remove(ctx, id, rn)
		}
	}
	for _, w := range hooks {
		rn := runners[w.ID]
		switch {
		case rn != nil && !sameHook(rn.h.w, w):
			rn.stop()
		case rn != nil && rn.stopped():
			// Its consumer vanished. Another instance may have removed the
			// webhook a moment before this one's engine heard of it: a new
			// consumer would deliver everything again, so wait a little.
			if rn.stoppedAt.IsZero() {
				rn.stoppedAt = time.Now()
			}
			if time.Since(rn.stoppedAt) < r.vanishGrace() {
				continue
			}
			r.log.Warn("relay: recreating a webhook's consumer; events since its creation may be delivered again", "webhook", w.ID)
			rn.stop()
		case rn != nil:
			continue
		}
		nrn, err := r.startRunner(w)
		if err != nil {
			r.log.Error("relay: cannot relay a webhook", "webhook", w.ID, "err", err)
			continue
		}
		r.mu.Lock()
		r.runners[w.ID] = nrn
		r.mu.Unlock()
	}
	return active
}

func (r *Relay) vanishGrace() time.Duration { return max(5*r.cfg.PollInterval, time.Second) }

func sameHook(a, b domain.Webhook) bool {
	return a.URL == b.URL && a.Position == b.Position && slices.Equal(a.Events, b.Events)
}

// remove stops relaying a removed webhook and removes its consumer and its
// dead letters; every instance does it, which is harmless.
func (r *Relay) remove(ctx context.Context, id string, rn *runner) {
	rn.stop()
	r.mu.Lock()
	delete(r.runners, id)
	r.mu.Unlock()
	r.m.forget(id)
	if err := r.deleteConsumer(ctx, id); err != nil {
		r.log.Warn("relay: cannot remove a removed webhook's consumer", "webhook", id, "err", err)
	}
	if err := r.purgeFailures(ctx, id); err != nil {
		r.log.Warn("relay: cannot remove a removed webhook's dead letters", "webhook", id, "err", err)
	}
	r.log.Info("relay: webhook removed", "webhook", id)
}

func (r *Relay) stopAll() {
	r.mu.Lock()
	runners := r.runners
	r.runners = map[string]*runner{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, rn := range runners {
		wg.Go(rn.stop)
	}
	wg.Wait()
}

// activeHook returns the relay's view of an active webhook.
func (r *Relay) activeHook(ctx context.Context, id string) (*hook, error) {
	r.mu.Lock()
	rn := r.runners[id]
	r.mu.Unlock()
	if rn != nil {
		return rn.h, nil
	}
	hooks, err := r.cfg.Engine.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range hooks {
		if w.ID == id {
			return &hook{r: r, w: w}, nil
		}
	}
	return nil, fmt.Errorf("%w: webhook %s", ErrNotFound, id)
}
