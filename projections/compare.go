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
	// A row is named by its key, and by its id where the key is internal
	// (a ticket's is its opening position).
	named := slices.Clone(key)
	if i := slices.Index(cols, "id"); i >= 0 && !slices.Contains(key, i) {
		named = append(named, i)
	}
	describe := func(row []any) string {
		parts := make([]string, len(named))
		for i, k := range named {
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
