package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/ticketbus/ticketbus/domain"
)

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Now is the engine's clock. Event times come from it and only from it.
	Now func() time.Time
	// NewID makes ticket, message, event and user ids; uuid.NewString by
	// default.
	NewID func() string
	// Metrics receives the engine's measurements; nil discards them.
	Metrics *Metrics
	// Logger logs what an operator needs to know; slog.Default by default.
	Logger *slog.Logger
	// WakeInterval is how often the scheduler looks for due snoozes
	// (default 1s); Wake fires them at once whatever the interval.
	WakeInterval time.Duration
	// CatchUpTimeout bounds how long a lookup waits for the tail to reach
	// the log's end before saying not_found (default 5s).
	CatchUpTimeout time.Duration
	// ErasureInterval is how often the erasure loop looks for rotations to
	// run and erasures to confirm (default 10s); a block starts it at once.
	ErasureInterval time.Duration
}

// Engine is the command side of Ticketbus: it decides commands against
// state rebuilt from the log and appends the resulting events atomically,
// with an optimistic check on every aggregate it read.
type Engine struct {
	log   *Log
	cfg   EngineConfig
	st    *state
	locks stripes

	cancel context.CancelFunc
	wg     sync.WaitGroup
	tailMu sync.Mutex
	tailEr error

	eraseMu   sync.Mutex
	erasePoke chan struct{}
	// keysToDestroy are blocked profiles whose key could not be destroyed
	// yet; the erasure loop tries again.
	eraseKeysMu   sync.Mutex
	keysToDestroy map[string]struct{}
}

// maxAttempts bounds the retries of a command whose optimistic check keeps
// failing; past it the caller gets conflict.
const maxAttempts = 8

// OpenEngine replays the whole log into memory, then keeps up with it and
// starts the snooze scheduler.
func OpenEngine(ctx context.Context, l *Log, cfg EngineConfig) (*Engine, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WakeInterval <= 0 {
		cfg.WakeInterval = time.Second
	}
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = 5 * time.Second
	}
	if cfg.ErasureInterval <= 0 {
		cfg.ErasureInterval = defaultErasureInterval
	}
	e := &Engine{log: l, cfg: cfg, st: newState(), erasePoke: make(chan struct{}, 1), keysToDestroy: map[string]struct{}{}}
	last, err := l.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("open engine: %w", err)
	}
	if last > 0 {
		if err := l.ReadRange(ctx, 1, last, e.applyEntry); err != nil {
			return nil, fmt.Errorf("open engine: replay: %w", err)
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(3)
	go e.tail(runCtx, last+1)
	go e.schedule(runCtx)
	go e.eraseLoop(runCtx)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.sweepKeys(runCtx)
	}()
	return e, nil
}

// Close stops the tail and the scheduler. In-flight commands finish first
// because the caller stops sending them before closing.
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
}

// applyEntry applies one entry of the log to the state.
func (e *Engine) applyEntry(en Entry) error {
	// The tail delivers this instance's own events too: skip those already
	// applied when their append was acknowledged, and take those still in
	// flight from memory, before paying for decoding.
	e.st.mu.Lock()
	seen := en.Seq <= e.st.seqs[en.Subject]
	var ev domain.Event
	ok := false
	if seen || en.Void {
		seen = true
		e.st.passLocked(en.Subject, en.Seq)
		e.advanceLocked(en.Seq)
	} else {
		ev, ok = e.st.inflightLocked(en.Subject, en.Data)
	}
	e.st.mu.Unlock()
	if seen {
		return nil
	}
	var err error
	if !ok {
		ev, err = domain.UnmarshalEvent(en.Data)
	}
	if err != nil {
		// An event this version cannot read must not stop the engine: it
		// is logged and skipped, and its sequence still counts as seen.
		e.cfg.Logger.Error("skipping unreadable event", "seq", en.Seq, "err", err)
		e.st.mu.Lock()
		e.st.passLocked(en.Subject, en.Seq)
		e.advanceLocked(en.Seq)
		e.st.mu.Unlock()
		return nil
	}
	e.st.mu.Lock()
	e.st.applyLocked(en.Seq, ev)
	e.advanceLocked(en.Seq)
	e.st.mu.Unlock()
	e.forgetBlockedKey(ev)
	return nil
}

// forgetBlockedKey drops a blocked profile's key from this instance's
// memory when another instance wrote the block, so no reader here can
// still open the texts.
func (e *Engine) forgetBlockedKey(ev domain.Event) {
	if ev.Type == domain.ProfileBlocked && ev.Aggregate.Kind == domain.KindProfile {
		e.log.Keys().forget(profileToken(ev.ProfileID))
	}
}

func (e *Engine) advanceLocked(seq uint64) {
	if seq > e.st.applied {
		e.st.applied = seq
		e.st.cond.Broadcast()
	}
}

func (e *Engine) tail(ctx context.Context, from uint64) {
	defer e.wg.Done()
	for ctx.Err() == nil {
		err := e.log.Tail(ctx, from, func(en Entry) error {
			from = en.Seq + 1
			return e.applyEntry(en)
		})
		if ctx.Err() != nil {
			return
		}
		e.tailMu.Lock()
		e.tailEr = err
		e.tailMu.Unlock()
		e.cfg.Logger.Warn("event tail stopped, restarting", "from", from, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// CatchUp waits until the engine has applied every event the log held
// when it was called, so that a lookup sees what other instances wrote.
func (e *Engine) CatchUp(ctx context.Context) error {
	last, err := e.log.LastSeq(ctx)
	if err != nil {
		return domain.Errorf(domain.EUnavailable, "the log cannot be read right now")
	}
	return e.WaitApplied(ctx, last)
}

// WaitApplied waits until the engine's state includes position seq.
func (e *Engine) WaitApplied(ctx context.Context, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CatchUpTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		e.st.mu.Lock()
		e.st.cond.Broadcast()
		e.st.mu.Unlock()
	})
	defer stop()
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	for e.st.applied < seq {
		if ctx.Err() != nil {
			return domain.Errorf(domain.EUnavailable, "the engine has not caught up with the log (at %d of %d)", e.st.applied, seq)
		}
		e.st.cond.Wait()
	}
	return nil
}

// LastEventTime returns the time of the latest event the engine has seen.
func (e *Engine) LastEventTime() time.Time {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	return e.st.lastAt
}

// refresh reads what other instances wrote on the given subjects since
// the engine last saw them, after an optimistic check failed.
func (e *Engine) refresh(ctx context.Context, subjects []string) error {
	for _, subj := range subjects {
		e.st.mu.Lock()
		after := e.st.seqs[subj]
		e.st.mu.Unlock()
		err := e.log.ReadSubject(ctx, subj, after, func(en Entry) error {
			var ev domain.Event
			var err error
			if !en.Void {
				ev, err = domain.UnmarshalEvent(en.Data)
			}
			if en.Void || err != nil {
				e.st.mu.Lock()
				e.st.passLocked(en.Subject, en.Seq)
				e.st.mu.Unlock()
				return nil
			}
			e.st.mu.Lock()
			e.st.applyLocked(en.Seq, ev)
			e.st.mu.Unlock()
			e.forgetBlockedKey(ev)
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("refresh %s: %w", subj, err)
		}
	}
	return nil
}
