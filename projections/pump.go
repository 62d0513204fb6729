package projections

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
)

// reader is Log.Tail or a Log.ReadRange with its end bound.
type reader func(ctx context.Context, from uint64, fn func(eventstore.Entry) error) error

// pump runs a read of the log into batches: the reading goroutine decodes
// entries and hands them over, and one goroutine applies them, so that
// decoding and SQLite overlap. It returns once everything read is applied,
// or at the first failure, with nothing half-applied.
func (p *Projector) pump(ctx context.Context, from uint64, read reader, batchSize int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan item, batchSize)
	applied := make(chan error, 1)
	go func() {
		err := p.applyLoop(ctx, items, batchSize)
		if err != nil {
			cancel(err)
		}
		applied <- err
	}()
	readErr := read(ctx, from, func(e eventstore.Entry) error {
		it, err := decode(e)
		it.open(ctx, p.log, p.verifying)
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
func (p *Projector) applyLoop(ctx context.Context, items <-chan item, batchSize int) error {
	batch := make([]item, 0, batchSize)
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
	// A truncation owed from before a restart is tried again too.
	arm(p.retryCheckpoint(ctx))
	for {
		select {
		case it, ok := <-items:
			if !ok {
				return nil
			}
			batch = append(batch[:0], it)
		case <-retry:
			retry = nil
			arm(p.retryCheckpoint(ctx))
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
	last, erased, err := db.applyBatch(ctx, batch)
	if err != nil {
		return false, err
	}
	if last == 0 {
		return p.needCheckpoint, nil
	}
	obs()
	raise(&p.seen, batch[len(batch)-1].seq)
	if erased || p.needCheckpoint {
		// The position is published only once the erased texts are out of
		// the WAL too, so that a reader who waited for a block's position
		// finds them gone from every file. A checkpoint kept busy for long
		// is left owed rather than stalling the views.
		giveUp := time.NewTimer(erasureCheckpointWait)
		defer giveUp.Stop()
	retry:
		for {
			if p.needCheckpoint = !p.truncateWAL(ctx, db); !p.needCheckpoint {
				break
			}
			select {
			case <-giveUp.C:
				break retry
			case <-ctx.Done():
				break retry
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	p.advance(last)
	m.applied(int(last-prev), last, p.seen.Load())
	return p.needCheckpoint, nil
}

// erasureCheckpointWait bounds how long a batch that erased texts waits for
// the WAL truncation before its position is published anyway.
const erasureCheckpointWait = 2 * time.Second

// retryCheckpoint tries an owed WAL truncation again; it reports whether
// one is still owed.
func (p *Projector) retryCheckpoint(ctx context.Context) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.needCheckpoint {
		return false
	}
	p.needCheckpoint = !p.truncateWAL(ctx, p.db.Load())
	return p.needCheckpoint
}

// truncateWAL empties the WAL after an erasure. The batch is committed
// already, so a failure (a reader or the checkpointer in the way, an I/O
// error) only leaves the truncation owed: it is tried again after the next
// batches and every checkpointRetry.
func (p *Projector) truncateWAL(ctx context.Context, db *DB) bool {
	done, err := db.truncateWAL(ctx)
	if err != nil {
		p.cfg.Logger.Warn("could not truncate the views' WAL after an erasure; will retry", "err", err)
	}
	return done
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
