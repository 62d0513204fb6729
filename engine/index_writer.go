package engine

import (
	"context"
	"time"
)

// The index writer takes the events the tail applied, in log order, and
// writes them to the index in batches, each with its position; then what
// the engine kept in memory about them (engine_pending.go) can go.
const (
	// indexQueue is how many applied events may wait for the writer
	// before the tail waits for it in turn.
	indexQueue = 8192
	// indexBatch bounds the events written in one transaction.
	indexBatch = 2048
)

func (e *Engine) writeIndex(ctx context.Context) {
	defer e.wg.Done()
	batch := make([]posEvent, 0, indexBatch)
	for {
		select {
		case pe := <-e.indexCh:
			batch = append(batch, pe)
		case <-ctx.Done():
			e.drainIndex(batch)
			return
		}
	fill:
		for len(batch) < indexBatch {
			select {
			case pe := <-e.indexCh:
				batch = append(batch, pe)
			default:
				break fill
			}
		}
		e.flushIndex(ctx, batch)
		batch = batch[:0]
	}
}

// flushIndex writes a batch, trying again until it is written or ctx ends:
// the index must not skip a batch, since its position says it has it.
func (e *Engine) flushIndex(ctx context.Context, batch []posEvent) bool {
	evs := make([]posEvent, 0, len(batch))
	var lastAt time.Time
	for _, pe := range batch {
		if pe.ev.Type == "" {
			continue // a void or unreadable position: only the position moves
		}
		evs = append(evs, pe)
		if pe.ev.At.After(lastAt) {
			lastAt = pe.ev.At
		}
	}
	pos := batch[len(batch)-1].seq
	snaps := e.takeEvicted()
	wait := 100 * time.Millisecond
	for {
		err := e.ix.apply(ctx, evs, snaps, pos, lastAt)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		e.cfg.Logger.Error("could not write the engine's index; retrying", "position", pos, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
	e.st.mu.Lock()
	e.st.pend.prune(pos)
	e.st.mu.Unlock()
	e.cfg.Metrics.indexAt(pos)
	return true
}

// drainIndex writes what is still queued when the engine closes, so that
// the next start has less to read again.
func (e *Engine) drainIndex(batch []posEvent) {
	for {
		select {
		case pe := <-e.indexCh:
			batch = append(batch, pe)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.flushIndex(ctx, batch)
}
