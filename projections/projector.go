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
	// CatchUpBatchSize bounds them instead while the projector is far
	// behind the log (default 8192, never below BatchSize): a catch-up
	// pays for each commit, and for each ticket row written back once per
	// batch, far more often with small ones.
	CatchUpBatchSize int
	// Metrics receives the projector's measurements; nil discards them.
	Metrics *Metrics
	// Logger reports skipped events and restarts; slog.Default by default.
	Logger *slog.Logger
}

const (
	defaultBatchSize        = 1000
	defaultCatchUpBatchSize = 8192
)

// bulkLag is how far behind the log's end the projector must be for Run to
// catch up in bulk before following it.
const bulkLag = 10_000

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

	// verifying is set on the replay that Verify makes.
	verifying *verifying
}

// NewProjector returns a projector writing to db from the position db
// holds.
func NewProjector(db *DB, log *eventstore.Log, cfg ProjectorConfig) *Projector {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.CatchUpBatchSize <= 0 {
		cfg.CatchUpBatchSize = defaultCatchUpBatchSize
	}
	cfg.CatchUpBatchSize = max(cfg.CatchUpBatchSize, cfg.BatchSize)
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
		err := p.bulkCatchUp(ctx, bulkLag)
		if err == nil {
			err = p.pump(ctx, p.Position()+1, p.log.Tail, p.cfg.BatchSize)
		}
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
		p.reportFailure(err, delay)
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
	if err := p.catchUp(ctx, to); err != nil {
		return fmt.Errorf("catch up to %d: %w", to, err)
	}
	return nil
}

// bulkCatchUp catches up to the log's last position when the projector is
// more than lag behind it.
func (p *Projector) bulkCatchUp(ctx context.Context, lag uint64) error {
	last, err := p.log.LastSeq(ctx)
	if err != nil {
		return err
	}
	if last <= p.Position()+lag {
		return nil
	}
	return p.catchUp(ctx, last)
}

// catchUp applies every event up to to, which is in the log already, in
// catch-up sized batches read with batched direct gets.
func (p *Projector) catchUp(ctx context.Context, to uint64) error {
	from := p.Position()
	if from >= to {
		return nil
	}
	defer p.DB().startBulk()()
	return p.pump(ctx, from+1, func(ctx context.Context, from uint64, fn func(eventstore.Entry) error) error {
		return readDirect(ctx, p.log, from, to, fn)
	}, p.cfg.CatchUpBatchSize)
}

// Why the projector stopped, as the failures metric counts it.
const (
	failKeyMissing  = "key_missing"
	failUnavailable = "log_unavailable"
	failOther       = "other"
)

var failureReasons = []string{failKeyMissing, failUnavailable, failOther}

// reportFailure logs and counts a stop. A customer message whose key is
// missing without an erasure to explain it is never skipped: the views
// stay at the event before it, loudly, until the key can be read.
func (p *Projector) reportFailure(err error, retry time.Duration) {
	switch {
	case errors.Is(err, eventstore.ErrKeyMissing):
		p.cfg.Metrics.failed(failKeyMissing)
		p.cfg.Logger.Error("views stopped: a customer message cannot be opened and nothing in the log erased it; "+
			"it is not skipped, the views wait at the position before it", "position", p.Position(), "retry_in", retry, "err", err)
	case errors.Is(err, eventstore.ErrUnavailable):
		p.cfg.Metrics.failed(failUnavailable)
		p.cfg.Logger.Warn("projector stopped; restarting from the last committed position",
			"position", p.Position(), "retry_in", retry, "err", err)
	default:
		p.cfg.Metrics.failed(failOther)
		p.cfg.Logger.Error("projector stopped; restarting from the last committed position",
			"position", p.Position(), "retry_in", retry, "err", err)
	}
}
