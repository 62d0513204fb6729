package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Config configures an Engine.
type Config struct {
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
	// IndexPath is the engine's index file (index.go); empty, a temporary
	// file removed at Close, for tests and tools.
	IndexPath string
	// CacheProfiles bounds how many profiles the engine keeps in memory
	// (default DefaultCacheProfiles); the others are read from the log
	// when a command needs them.
	CacheProfiles int
}

// DefaultCacheProfiles is Config.CacheProfiles' default: a few times
// the profiles an inbox touches in an hour of a campaign, at a few
// kilobytes each.
const DefaultCacheProfiles = 20000

// Engine is the command side of Ticketbus: it decides commands against
// state rebuilt from the log and appends the resulting events atomically,
// with an optimistic check on every aggregate it read.
type Engine struct {
	log   *eventstore.Log
	cfg   Config
	st    *state
	locks stripes

	ix      *index
	tmpDir  string // the index's directory when it is temporary
	indexCh chan posEvent

	cancel context.CancelFunc
	wg     sync.WaitGroup

	eraseMu   sync.Mutex
	erasePoke chan struct{}
}

// maxAttempts bounds the retries of a command whose optimistic check keeps
// failing; past it the caller gets conflict.
const maxAttempts = 8

// Open opens the engine's index, reads the log from where the index
// stands up to its end, then keeps up with it and starts the scheduler and
// the erasure loop. Aggregates are read when commands need them, so a
// restart costs only what was written since the index's last batch.
func Open(ctx context.Context, l *eventstore.Log, cfg Config) (*Engine, error) {
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
	if cfg.CacheProfiles <= 0 {
		cfg.CacheProfiles = DefaultCacheProfiles
	}
	e := &Engine{log: l, cfg: cfg, st: newState(cfg.CacheProfiles), erasePoke: make(chan struct{}, 1),
		indexCh: make(chan posEvent, indexQueue)}
	e.st.profiles.OnEvict = e.onEvict
	if err := e.openIndex(ctx); err != nil {
		return nil, fmt.Errorf("open engine: %w", err)
	}
	from, lastAt, last, err := e.resume(ctx)
	if err == nil {
		err = e.ix.loadUsers(ctx, e.st.users, e.st.tokens)
	}
	if err == nil {
		err = e.ix.loadWebhooks(ctx, e.st.webhooks)
	}
	if err != nil {
		e.ix.close()
		return nil, fmt.Errorf("open engine: %w", err)
	}
	e.st.applied, e.st.lastAt = from, lastAt
	cfg.Metrics.indexAt(from)
	runCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(4)
	go e.writeIndex(runCtx)
	go e.tail(runCtx, from+1)
	go e.schedule(runCtx)
	go e.eraseLoop(runCtx)
	// Ready once the tail has the log as it was at the start: what the
	// index missed since its last batch, or all of it on a new index.
	e.st.mu.Lock()
	for e.st.applied < last && ctx.Err() == nil {
		stop := context.AfterFunc(ctx, func() {
			e.st.mu.Lock()
			e.st.cond.Broadcast()
			e.st.mu.Unlock()
		})
		e.st.cond.Wait()
		stop()
	}
	e.st.mu.Unlock()
	if err := ctx.Err(); err != nil {
		e.Close()
		return nil, fmt.Errorf("open engine: catching up to %d: %w", last, err)
	}
	return e, nil
}

// resume returns the position the index has reached and the log's last
// position. An index ahead of the log (the log restored from a backup
// older than the index) holds results and tickets the log does not: it is
// emptied and built again from the log.
func (e *Engine) resume(ctx context.Context) (from uint64, lastAt time.Time, last uint64, err error) {
	if from, lastAt, err = e.ix.position(ctx); err != nil {
		return 0, time.Time{}, 0, err
	}
	if last, err = e.log.LastSeq(ctx); err != nil {
		return 0, time.Time{}, 0, err
	}
	if from <= last {
		return from, lastAt, last, nil
	}
	e.cfg.Logger.Warn("the engine's index is ahead of the log (was the log restored from a backup?); building it again from the log",
		"index_position", from, "log_position", last, "index", e.ix.path)
	created, err := e.log.Created(ctx)
	if err != nil {
		return 0, time.Time{}, 0, err
	}
	if err := e.ix.reset(ctx, created.UTC().Format(time.RFC3339Nano)); err != nil {
		return 0, time.Time{}, 0, err
	}
	return 0, time.Time{}, last, nil
}

// openIndex opens the index at the configured path, or in a temporary
// directory.
func (e *Engine) openIndex(ctx context.Context) error {
	path := e.cfg.IndexPath
	if path == "" {
		dir, err := os.MkdirTemp("", "ticketbus-index-")
		if err != nil {
			return err
		}
		e.tmpDir, path = dir, filepath.Join(dir, "engine.db")
	}
	// The stream's creation time names the log the index was built from.
	created, err := e.log.Created(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	ix, err := openIndex(path, created.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return err
	}
	e.ix = ix
	return nil
}

// Close stops the tail, the index writer, the scheduler and the erasure
// loop. In-flight commands finish first because the caller stops sending
// them before closing.
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
	_ = e.ix.close()
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
	}
}

// applyEntry applies one entry of the log, delivered by the tail in order,
// to the state, and hands it to the index writer.
func (e *Engine) applyEntry(ctx context.Context, en eventstore.Entry) error {
	// The tail delivers this instance's own events too: those still in
	// flight are taken from memory rather than decoded again.
	e.st.mu.Lock()
	ev, ok := domain.Event{}, false
	if !en.Void {
		ev, ok = e.st.inflightLocked(en.Subject, en.Data)
	}
	e.st.mu.Unlock()
	var err error
	if !ok && !en.Void {
		ev, err = domain.UnmarshalEvent(en.Data)
	}
	e.st.mu.Lock()
	switch {
	case en.Void:
	case err != nil:
		// An event this version cannot read must not stop the engine: it
		// is logged and skipped, and its position still counts as seen.
		e.cfg.Logger.Error("skipping unreadable event", "seq", en.Seq, "err", err)
	default:
		e.st.applyLocked(en.Seq, ev)
	}
	e.st.mu.Unlock()
	if err == nil && !en.Void {
		e.forgetBlockedKey(ev)
	}
	select {
	case e.indexCh <- posEvent{seq: en.Seq, ev: ev}: // a zero event only moves the position
	case <-ctx.Done():
		return ctx.Err()
	}
	e.st.mu.Lock()
	e.advanceLocked(en.Seq)
	e.st.mu.Unlock()
	e.cfg.Metrics.tailApplied()
	return nil
}

// forgetBlockedKey drops a blocked profile's key from this instance's
// memory when another instance wrote the block, so no reader here can
// still open the texts.
func (e *Engine) forgetBlockedKey(ev domain.Event) {
	if ev.Type == domain.ProfileBlocked && ev.Aggregate.Kind == domain.KindProfile {
		e.log.Keys().Forget(eventstore.ProfileToken(ev.ProfileID))
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
		err := e.log.Tail(ctx, from, func(en eventstore.Entry) error {
			if err := e.applyEntry(ctx, en); err != nil {
				return err
			}
			from = en.Seq + 1
			return nil
		})
		if ctx.Err() != nil {
			return
		}
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

// Metrics returns the engine's metrics, for the transports built on it.
func (e *Engine) Metrics() *Metrics { return e.cfg.Metrics }

// Logger returns the engine's logger, for the transports built on it.
func (e *Engine) Logger() *slog.Logger { return e.cfg.Logger }
