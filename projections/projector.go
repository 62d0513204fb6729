package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
)

// ProjectorConfig configures a Projector. Zero values take the defaults.
type ProjectorConfig struct {
	// BatchSize bounds the events applied in one SQLite transaction
	// (default 1000). A batch takes whatever has arrived, up to this.
	BatchSize int
	// Metrics receives the projector's measurements; nil discards them.
	Metrics *Metrics
	// Logger reports skipped events and restarts; slog.Default by default.
	Logger *slog.Logger
}

const defaultBatchSize = 1000

// Retry delays of Run after a failure (log unreachable, disk full).
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// checkpointRetry is how often a WAL truncation that readers held off is
// tried again while no new events arrive.
const checkpointRetry = time.Second

// Projector applies the log's events to a DB in batches. Each batch is one
// SQLite transaction that also stores its last position, so a crash at any
// point resumes exactly after the last committed batch: no event is ever
// applied twice or skipped.
type Projector struct {
	log *eventstore.Log
	cfg ProjectorConfig

	// mu is held while a batch is applied, and by Pause; it orders batches
	// from concurrent runs and guards db swaps and closed.
	mu     sync.Mutex
	db     atomic.Pointer[DB]
	closed bool
	done   chan struct{}

	pos      atomic.Uint64
	seen     atomic.Uint64 // highest log position known to exist, for the lag
	notifyMu sync.Mutex
	advanced chan struct{} // closed and replaced whenever pos moves

	// needCheckpoint records an erasure whose WAL truncation readers held
	// off; guarded by mu.
	needCheckpoint bool
}

// NewProjector returns a projector writing to db from the position db
// holds.
func NewProjector(db *DB, log *eventstore.Log, cfg ProjectorConfig) *Projector {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Projector{log: log, cfg: cfg, done: make(chan struct{}), advanced: make(chan struct{})}
	p.db.Store(db)
	p.pos.Store(db.pos.Load())
	p.seen.Store(p.pos.Load())
	cfg.Metrics.setPosition(p.pos.Load(), p.pos.Load())
	return p
}

// DB returns the DB the projector writes to.
func (p *Projector) DB() *DB { return p.db.Load() }

// SetDB makes the projector write to db from the next batch on, and takes
// db's position as its own. db should be at the projector's position:
// Views.Rebuild catches its new file up to exactly there first.
func (p *Projector) SetDB(db *DB) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setDBLocked(db)
}

func (p *Projector) setDBLocked(db *DB) {
	p.db.Store(db)
	p.needCheckpoint = false
	p.advance(db.pos.Load())
}

// Position returns the last log position applied and committed.
func (p *Projector) Position() uint64 { return p.pos.Load() }

// WaitPosition blocks until Position() >= pos or ctx ends; it is how a
// query honours min_position (read-your-writes).
func (p *Projector) WaitPosition(ctx context.Context, pos uint64) error {
	for {
		p.notifyMu.Lock()
		ch := p.advanced
		p.notifyMu.Unlock()
		if p.Position() >= pos {
			return nil
		}
		select {
		case <-ch:
		case <-p.done:
			return fmt.Errorf("wait for position %d: %w", pos, ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("wait for position %d (views at %d): %w", pos, p.Position(), ctx.Err())
		}
	}
}

// Pause holds the projector between two batches until resume is called;
// a batch in progress finishes first. Position() does not move meanwhile.
func (p *Projector) Pause() (resume func()) {
	p.mu.Lock()
	var once sync.Once
	return func() { once.Do(p.mu.Unlock) }
}

// close stops the projector for good: Run returns and no batch starts.
func (p *Projector) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
}

func (p *Projector) advance(pos uint64) {
	p.pos.Store(pos)
	raise(&p.seen, pos)
	p.notifyMu.Lock()
	close(p.advanced)
	p.advanced = make(chan struct{})
	p.notifyMu.Unlock()
}

// Run applies the log from the stored position on, then follows it as it
// grows, until ctx ends (it then returns nil) or the projector is closed
// (ErrClosed). Failures such as an unreachable log are logged and retried
// from the last committed position.
func (p *Projector) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	go p.sampleLag(ctx)
	delay := retryMin
	for {
		from := p.Position()
		err := p.pump(ctx, from+1, p.log.Tail)
		select {
		case <-p.done:
			return ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return nil
		}
		if p.Position() > from {
			delay = retryMin
		}
		p.cfg.Logger.Warn("projector stopped; restarting from the last committed position",
			"position", p.Position(), "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, retryMax)
	}
}

// CatchUp applies every event up to position to (0: the log's last
// position when called) and returns.
func (p *Projector) CatchUp(ctx context.Context, to uint64) error {
	if to == 0 {
		last, err := p.log.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		to = last
	}
	from := p.Position()
	if from >= to {
		return nil
	}
	err := p.pump(ctx, from+1, func(ctx context.Context, from uint64, fn func(eventstore.Entry) error) error {
		return p.log.ReadRange(ctx, from, to, fn)
	})
	if err != nil {
		return fmt.Errorf("catch up to %d: %w", to, err)
	}
	return nil
}

// reader is Log.Tail or a Log.ReadRange with its end bound.
type reader func(ctx context.Context, from uint64, fn func(eventstore.Entry) error) error

// pump runs a read of the log into batches: the reading goroutine decodes
// entries and hands them over, and one goroutine applies them, so that
// decoding and SQLite overlap. It returns once everything read is applied,
// or at the first failure, with nothing half-applied.
func (p *Projector) pump(ctx context.Context, from uint64, read reader) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan item, p.cfg.BatchSize)
	applied := make(chan error, 1)
	go func() {
		err := p.applyLoop(ctx, items)
		if err != nil {
			cancel(err)
		}
		applied <- err
	}()
	readErr := read(ctx, from, func(e eventstore.Entry) error {
		it, err := decode(e)
		switch {
		case errors.Is(err, errUnknownType):
			p.cfg.Logger.Debug("skipping an event the views do not use", "position", e.Seq, "err", err)
		case err != nil:
			// An event this version cannot read must not stop the views;
			// its position still counts as applied.
			p.cfg.Logger.Error("skipping unreadable event", "position", e.Seq, "err", err)
		}
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(items)
	if err := <-applied; err != nil {
		return err
	}
	return readErr
}

// applyLoop applies batches until items is closed or a batch fails.
func (p *Projector) applyLoop(ctx context.Context, items <-chan item) error {
	batch := make([]item, 0, p.cfg.BatchSize)
	var (
		timer *time.Timer
		retry <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	arm := func(pending bool) {
		if pending && retry == nil {
			timer = time.NewTimer(checkpointRetry)
			retry = timer.C
		}
	}
	for {
		select {
		case it, ok := <-items:
			if !ok {
				return nil
			}
			batch = append(batch[:0], it)
		case <-retry:
			retry = nil
			pending, err := p.retryCheckpoint(ctx)
			if err != nil {
				return err
			}
			arm(pending)
			continue
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case it, ok := <-items:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		dbgBatches++
		dbgItems += len(batch)
		if dbgBatches%50 == 0 {
			fmt.Println("batches", dbgBatches, "items", dbgItems, "len", len(batch))
		}
		pending, err := p.applyBatch(ctx, batch)
		if err != nil {
			return err
		}
		arm(pending)
	}
}

// applyBatch applies one batch in one transaction. pending reports a WAL
// truncation still owed after an erasure.
func (p *Projector) applyBatch(ctx context.Context, batch []item) (pending bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, ErrClosed
	}
	m := p.cfg.Metrics
	obs := m.startBatch()
	db := p.db.Load()
	prev := db.pos.Load()
	last, erased, err := db.applyBatch(ctx, p.log.Keys(), batch)
	if err != nil {
		return false, err
	}
	if last == 0 {
		return p.needCheckpoint, nil
	}
	obs()
	raise(&p.seen, batch[len(batch)-1].seq)
	p.advance(last)
	m.applied(int(last-prev), last, p.seen.Load())
	if erased || p.needCheckpoint {
		done, err := db.checkpoint(ctx)
		if err != nil {
			return false, err
		}
		p.needCheckpoint = !done
	}
	return p.needCheckpoint, nil
}

func (p *Projector) retryCheckpoint(ctx context.Context) (pending bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.needCheckpoint {
		return false, nil
	}
	done, err := p.db.Load().checkpoint(ctx)
	if err != nil {
		return false, err
	}
	p.needCheckpoint = !done
	return p.needCheckpoint, nil
}

// sampleLag reads the log's last position once a second, so that the lag
// gauge shows events written but not yet applied even while none arrive.
func (p *Projector) sampleLag(ctx context.Context) {
	if p.cfg.Metrics == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if last, err := p.log.LastSeq(ctx); err == nil {
			raise(&p.seen, last)
		}
		p.cfg.Metrics.setPosition(p.Position(), p.seen.Load())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// raise sets v to n if n is greater.
func raise(v *atomic.Uint64, n uint64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

var dbgBatches, dbgItems int
