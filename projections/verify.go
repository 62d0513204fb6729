package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// maxDifferences bounds Verify's report: past it, views that differ
// wholesale are summed up in one last line.
const maxDifferences = 1000

// settleTimeout bounds how long Verify lets the live projector take in
// the end of the log before it compares.
const settleTimeout = 5 * time.Second

// Verify checks the live views against the log: it replays the log into a
// temporary file up to the live position P, and compares every row of
// every table of the two. The live projector is paused only long enough to
// open a read transaction at exactly P; the comparison reads that
// snapshot while the projector goes on. It returns one line per row that
// differs, is missing from the live views, or is extra in them; none means
// the views are exactly what the log says.
//
// A replay opens only the texts whose keys still exist, so the live views
// are first given up to settleTimeout to apply what the log holds: a block
// written just before (its keys already destroyed) is then on both sides.
func (v *Views) Verify(ctx context.Context) ([]string, error) {
	v.maint.Lock()
	defer v.maint.Unlock()
	ctx, cancel := v.opContext(ctx)
	defer cancel()
	if last, err := v.log.LastSeq(ctx); err == nil {
		wctx, cancel := context.WithTimeout(ctx, settleTimeout)
		_ = v.proj.WaitPosition(wctx, last)
		cancel()
	}
	tmp := v.path + verifySuffix
	if err := removeDBFiles(tmp); err != nil {
		return nil, fmt.Errorf("verify views: %w", err)
	}
	rdb, err := Open(tmp)
	if err != nil {
		return nil, fmt.Errorf("verify views: %w", err)
	}
	defer func() {
		rdb.Close()
		removeDBFiles(tmp)
	}()
	// The live snapshot first: the replay takes from it the texts that a
	// block after its position erased (verifying.textAt).
	live, pos, release, err := v.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify views: %w", err)
	}
	defer release()
	rp := NewProjector(rdb, v.log, ProjectorConfig{BatchSize: v.cfg.BatchSize, Logger: v.cfg.Logger})
	rp.verifying = &verifying{at: pos, text: func(ctx context.Context, id string) (string, bool, error) {
		var body string
		err := live.QueryRowContext(ctx, `SELECT body FROM messages WHERE id = ?`, id).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return "", false, nil
		}
		return body, err == nil, err
	}}
	if err := rp.CatchUp(ctx, pos); err != nil {
		return nil, fmt.Errorf("verify views: replay: %w", err)
	}
	replay, err := rdb.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("verify views: %w", err)
	}
	defer replay.Rollback()
	diffs, err := compareViews(ctx, live, replay)
	if err != nil {
		return nil, fmt.Errorf("verify views at %d: %w", pos, err)
	}
	return diffs, nil
}

// snapshot opens a read transaction on the live views at the projector's
// position, pausing the projector only while the transaction takes its
// snapshot (its first read).
func (v *Views) snapshot(ctx context.Context) (*sql.Tx, uint64, func(), error) {
	resume := v.proj.Pause()
	defer resume()
	if v.proj.closed {
		return nil, 0, nil, ErrClosed
	}
	db := v.proj.DB()
	if !db.acquire() {
		return nil, 0, nil, ErrClosed
	}
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		db.release()
		return nil, 0, nil, err
	}
	var pos uint64
	if err := tx.QueryRowContext(ctx, `SELECT position FROM projector_position WHERE id = 1`).Scan(&pos); err != nil {
		tx.Rollback()
		db.release()
		return nil, 0, nil, err
	}
	return tx, pos, func() { tx.Rollback(); db.release() }, nil
}

// differences collects Verify's report lines, up to maxDifferences.
type differences struct {
	lines []string
	more  int
}

func (d *differences) add(format string, args ...any) {
	if len(d.lines) < maxDifferences {
		d.lines = append(d.lines, fmt.Sprintf(format, args...))
		return
	}
	d.more++
}

func (d *differences) result() []string {
	if d.more > 0 {
		d.lines = append(d.lines, fmt.Sprintf("... and %d more differences", d.more))
	}
	if d.lines == nil {
		return []string{}
	}
	return d.lines
}

// compareViews compares every table of the replayed views, as its schema
// lists them, with the live ones, row by row in primary-key order.
func compareViews(ctx context.Context, live, replay *sql.Tx) ([]string, error) {
	var d differences
	want, err := tableNames(ctx, replay)
	if err != nil {
		return nil, err
	}
	have, err := tableNames(ctx, live)
	if err != nil {
		return nil, err
	}
	for _, t := range have {
		if !slices.Contains(want, t) {
			d.add("table %s: in the live views but not in a replay of the log", t)
		}
	}
	for _, t := range want {
		if !slices.Contains(have, t) {
			d.add("table %s: missing from the live views", t)
			continue
		}
		if err := compareTable(ctx, live, replay, t, &d); err != nil {
			return nil, fmt.Errorf("table %s: %w", t, err)
		}
	}
	return d.result(), nil
}

func tableNames(ctx context.Context, tx *sql.Tx) ([]string, error) {
	return column[string](ctx, tx, nil, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
}
