package engine

// Snapshots of evicted profiles, in the index: a profile the cache drops
// is written there as it was, with its sequence, so that reading it back
// costs one SQLite row instead of a read of its subject in the log. A read
// of a subject whose block nats-server no longer holds in memory makes it
// load and index the whole block (8 MB, ~50 ms measured at 1M tickets);
// the working set stays cheap however long the history. Like the log's
// snapshots they are a cache, never the truth: the events after a
// snapshot's sequence that the index knows of are read from the log, and
// a stale one fails its append's check and is read again.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// maxEvictedQueue bounds the snapshots waiting for the index writer; past
// it evicted profiles are simply read from the log next time.
const maxEvictedQueue = 16384

// evictedSnapshot is a profile dropped from the cache, encoded then.
type evictedSnapshot struct {
	id   string
	seq  uint64
	data []byte
}

// onEvict queues the snapshot of a profile the cache drops. It runs under
// the state's lock, as every change of a cached aggregate does.
func (e *Engine) onEvict(id string, a *profileAgg) {
	if a.seq == 0 || len(e.st.evicted) >= maxEvictedQueue {
		return
	}
	b, err := json.Marshal(profileSnapshot{Format: snapshotFormat, Seq: a.seq, Profile: a.p, TicketSeq: a.ticketSeq})
	if err != nil {
		return
	}
	e.st.evicted = append(e.st.evicted, evictedSnapshot{id: id, seq: a.seq, data: b})
}

// takeEvicted hands the queued snapshots to the index writer.
func (e *Engine) takeEvicted() []evictedSnapshot {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	out := e.st.evicted
	e.st.evicted = nil
	return out
}

// writeSnapshots stores snapshots in the index writer's transaction; an
// older one never replaces a newer.
func (ix *index) writeSnapshots(ctx context.Context, tx *sql.Tx, snaps []evictedSnapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	st := tx.StmtContext(ctx, ix.wr.snapshot)
	for _, s := range snaps {
		if _, err := st.ExecContext(ctx, s.id, s.seq, s.data); err != nil {
			return fmt.Errorf("snapshot of %s: %w", s.id, err)
		}
	}
	return nil
}

// indexSnapshot returns the snapshot of an evicted profile, nil when the
// index has none it can use.
func (e *Engine) indexSnapshot(ctx context.Context, id string) (*profileAgg, error) {
	var seq int64
	var data []byte
	err := e.ix.rd.snapshot.QueryRowContext(ctx, id).Scan(&seq, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index: snapshot of %s: %w", id, err)
	}
	return decodeSnapshot(id, data), nil
}
