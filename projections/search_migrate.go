package projections

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// indexExisting makes the search index of a file written before it
// existed (migration 4), from the rows the file holds: the same rows the
// upkeep would have made, had it run all along. It walks the tickets in
// position order with their messages, so each bucket is complete, and
// written, before the next one starts.
func indexExisting(ctx context.Context, tx *sql.Tx) error {
	phones := map[string][]string{}
	err := scanRows(ctx, tx, `SELECT profile_id, phone FROM profile_phones`, func(r *sql.Rows) error {
		var p, ph string
		if err := r.Scan(&p, &ph); err != nil {
			return err
		}
		phones[p] = append(phones[p], ph)
		return nil
	})
	if err != nil {
		return fmt.Errorf("index existing tickets: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO search_postings (bucket, term, part, tickets) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("index existing tickets: %w", err)
	}
	defer ins.Close()
	bucket := map[postingKey][]int64{}
	cur, curBucket := int64(-1), int64(-1)
	write := func() error {
		for k, ps := range bucket {
			slices.Sort(ps)
			if _, err := ins.ExecContext(ctx, k.bucket, k.term, k.part, encodePostings(k.bucket, slices.Compact(ps))); err != nil {
				return err
			}
		}
		clear(bucket)
		return nil
	}
	add := func(w string) { k := keyOf(w, cur); bucket[k] = append(bucket[k], cur) }
	err = scanRows(ctx, tx, `SELECT t.position, t.profile_id, m.body FROM tickets t
		LEFT JOIN messages m ON m.ticket = t.position ORDER BY t.position`, func(r *sql.Rows) error {
		var pos int64
		var profile string
		var body sql.NullString
		if err := r.Scan(&pos, &profile, &body); err != nil {
			return err
		}
		if pos != cur {
			if pos>>bucketBits != curBucket {
				if err := write(); err != nil {
					return err
				}
				curBucket = pos >> bucketBits
			}
			cur = pos
			ticketTerms(profile, phones[profile], add)
		}
		words(body.String, add)
		return nil
	})
	if err == nil {
		err = write()
	}
	if err != nil {
		return fmt.Errorf("index existing tickets: %w", err)
	}
	return nil
}

// scanRows calls fn for each row of a query.
func scanRows(ctx context.Context, tx *sql.Tx, query string, fn func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
