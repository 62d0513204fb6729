package projections

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxDifferences bounds Verify's report: past it, views that differ
// wholesale are summed up in one last line.
const maxDifferences = 1000

// Verify checks the live views against the log: it replays the log into a
// temporary file up to the live position P, and compares every row of
// every table of the two. The live projector is paused only long enough to
// open a read transaction at exactly P; the comparison reads that
// snapshot while the projector goes on. It returns one line per row that
// differs, is missing from the live views, or is extra in them; none means
// the views are exactly what the log says.
func (v *Views) Verify(ctx context.Context) ([]string, error) {
	v.maint.Lock()
	defer v.maint.Unlock()
	ctx, cancel := v.opContext(ctx)
	defer cancel()
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
	rp := NewProjector(rdb, v.log, ProjectorConfig{BatchSize: v.cfg.BatchSize, Logger: v.cfg.Logger})
	if err := rp.CatchUp(ctx, v.proj.Position()); err != nil {
		return nil, fmt.Errorf("verify views: replay: %w", err)
	}
	live, pos, release, err := v.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify views: %w", err)
	}
	defer release()
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
	return column(ctx, tx, nil, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
}

// tableColumns returns a table's columns and the positions of its primary
// key columns, in key order.
func tableColumns(ctx context.Context, tx *sql.Tx, table string) ([]string, []int, error) {
	// Table names come from sqlite_schema, never from a caller.
	rows, err := tx.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cols []string
	var pks [][2]int
	for rows.Next() {
		var name string
		var pk int
		if err := rows.Scan(&name, &pk); err != nil {
			return nil, nil, err
		}
		if pk > 0 {
			pks = append(pks, [2]int{pk, len(cols)})
		}
		cols = append(cols, name)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(pks) == 0 {
		return nil, nil, fmt.Errorf("no primary key")
	}
	slices.SortFunc(pks, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	key := make([]int, len(pks))
	for i, p := range pks {
		key[i] = p[1]
	}
	return cols, key, nil
}

// compareTable walks both copies of a table in key order, as a merge.
func compareTable(ctx context.Context, live, replay *sql.Tx, table string, d *differences) error {
	cols, key, err := tableColumns(ctx, replay, table)
	if err != nil {
		return err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	order := make([]string, len(key))
	for i, k := range key {
		order[i] = quoted[k]
	}
	query := `SELECT ` + strings.Join(quoted, ", ") + ` FROM ` + quoteIdent(table) + ` ORDER BY ` + strings.Join(order, ", ")
	lr, err := newRowReader(ctx, live, query, len(cols))
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	defer lr.close()
	rr, err := newRowReader(ctx, replay, query, len(cols))
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer rr.close()
	describe := func(row []any) string {
		parts := make([]string, len(key))
		for i, k := range key {
			parts[i] = cols[k] + "=" + formatValue(row[k])
		}
		return table + "[" + strings.Join(parts, ", ") + "]"
	}
	for lr.row != nil || rr.row != nil {
		var c int
		switch {
		case lr.row == nil:
			c = 1
		case rr.row == nil:
			c = -1
		default:
			c = compareKeys(lr.row, rr.row, key)
		}
		switch {
		case c < 0:
			d.add("%s: in the live views but not in a replay of the log", describe(lr.row))
			err = lr.next()
		case c > 0:
			d.add("%s: missing from the live views", describe(rr.row))
			err = rr.next()
		default:
			for i := range cols {
				if a, b := formatValue(lr.row[i]), formatValue(rr.row[i]); a != b {
					d.add("%s: %s is %s in the live views, %s in a replay of the log", describe(lr.row), cols[i], a, b)
				}
			}
			if err = lr.next(); err == nil {
				err = rr.next()
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rowReader steps through a query's rows; row is nil past the last one.
type rowReader struct {
	rows *sql.Rows
	row  []any
	n    int
}

func newRowReader(ctx context.Context, tx *sql.Tx, query string, n int) (*rowReader, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	r := &rowReader{rows: rows, n: n}
	if err := r.next(); err != nil {
		rows.Close()
		return nil, err
	}
	return r, nil
}

func (r *rowReader) next() error {
	if !r.rows.Next() {
		r.row = nil
		return r.rows.Err()
	}
	vals := make([]any, r.n)
	ptrs := make([]any, r.n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		return err
	}
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			vals[i] = string(b)
		}
	}
	r.row = vals
	return nil
}

func (r *rowReader) close() { r.rows.Close() }

// compareKeys orders rows the way SQLite's ORDER BY does for the STRICT
// key columns here: integers by value, text by bytes.
func compareKeys(a, b []any, key []int) int {
	for _, k := range key {
		var c int
		switch x := a[k].(type) {
		case int64:
			y, _ := b[k].(int64)
			c = cmp.Compare(x, y)
		case string:
			y, _ := b[k].(string)
			c = strings.Compare(x, y)
		default:
			c = strings.Compare(formatValue(a[k]), formatValue(b[k]))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return strconv.Quote(x)
	default:
		return fmt.Sprint(x)
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
