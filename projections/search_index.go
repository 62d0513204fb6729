package projections

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// The search index's upkeep. A ticket's terms are exactly the words of
// its profile's id, of every phone the profile ever wrote from, and of
// each of its messages still present. Each rule below depends on the
// log's order alone, never on how it is cut into batches, and a row holds
// a set, encoded one way, so that a replay makes the same rows (Verify
// compares them).

// indexWords adds the words of text to ticket pos. They are written at
// flush, one row per term and part of a bucket.
func (b *batch) indexWords(pos int64, text string) {
	words(text, func(w string) {
		k := keyOf(w, pos)
		b.search[k] = append(b.search[k], pos)
	})
}

// indexTicket adds a new ticket's own terms, with the phones its profile
// wrote from before it was opened; later ones come through linkPhone.
func (b *batch) indexTicket(t *ticketRow) error {
	phones, err := b.strings(b.st.profilePhones, t.profile)
	if err != nil {
		return fmt.Errorf("phones of %s: %w", t.profile, err)
	}
	ticketTerms(t.profile, phones, func(w string) {
		k := keyOf(w, t.pos)
		b.search[k] = append(b.search[k], t.pos)
	})
	return nil
}

// linkPhone records that a profile wrote from a phone. A phone new to the
// profile becomes a term of every ticket it has: those written already and
// those of this batch, still in memory.
func (b *batch) linkPhone(profile, phone string, seq uint64) error {
	if err := b.exec(b.st.profile, profile); err != nil {
		return err
	}
	res, err := b.stmt(b.st.phone).ExecContext(b.ctx, profile, phone, seq)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	rows, err := b.stmt(b.st.profileTickets).QueryContext(b.ctx, profile)
	if err != nil {
		return fmt.Errorf("tickets of %s: %w", profile, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pos int64
		if err := rows.Scan(&pos); err != nil {
			return fmt.Errorf("tickets of %s: %w", profile, err)
		}
		b.indexWords(pos, phone)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tickets of %s: %w", profile, err)
	}
	for _, t := range b.tickets {
		if t != nil && t.profile == profile {
			b.indexWords(t.pos, phone)
		}
	}
	return nil
}

// flushPostings merges what the batch indexed into search_postings: each
// row is read, merged with the batch's positions and written back, in
// groups of rows per statement.
func (b *batch) flushPostings() error {
	keys := make([]postingKey, 0, len(b.search))
	for k := range b.search {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y postingKey) int {
		return cmp.Or(cmp.Compare(x.bucket, y.bucket), cmp.Compare(x.term, y.term), cmp.Compare(x.part, y.part))
	})
	for _, n := range chunkSizes {
		for len(keys) >= n {
			if err := b.savePostings(n, keys[:n]); err != nil {
				return fmt.Errorf("search index: %w", err)
			}
			keys = keys[n:]
		}
	}
	clear(b.search)
	return nil
}

func (b *batch) savePostings(n int, keys []postingKey) error {
	args := make([]any, 0, 4*n)
	for _, k := range keys {
		args = append(args, k.bucket, k.term, k.part)
	}
	have := make(map[postingKey][]byte, n)
	rows, err := b.stmt(b.st.postingsRead[n]).QueryContext(b.ctx, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k postingKey
		var blob []byte
		if err := rows.Scan(&k.bucket, &k.term, &k.part, &blob); err != nil {
			rows.Close()
			return err
		}
		have[k] = blob
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	args = args[:0]
	for _, k := range keys {
		add := b.search[k]
		slices.Sort(add)
		add = slices.Compact(add)
		row, ok := appendPostings(k.bucket, have[k], add)
		if !ok {
			// A ticket older than the row's last: merge the sets.
			ps, err := decodePostings(k.bucket, have[k], add)
			if err != nil {
				return err
			}
			slices.Sort(ps)
			row = encodePostings(k.bucket, slices.Compact(ps))
		}
		args = append(args, k.bucket, k.term, k.part, row)
	}
	return b.exec(b.st.postingsSave[n], args...)
}

// eraseMessages deletes the erased inbound messages of a ticket, then
// takes the ticket out of the rows of the terms that only they held. It
// runs on the tables, so the batch is flushed first.
func (b *batch) eraseMessages(t *ticketRow, ids []string) error {
	if err := b.flush(); err != nil {
		return err
	}
	var gone []string
	for _, id := range ids {
		var body string
		err := b.stmt(b.st.eraseMessage).QueryRowContext(b.ctx, t.pos, id).Scan(&body)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Erased before, never opened, or not an inbound message.
		case err != nil:
			return fmt.Errorf("apply: %w", err)
		default:
			gone = append(gone, body)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	b.erased = true
	kept, err := b.terms(t)
	if err != nil {
		return err
	}
	for w := range distinctWords(gone...) {
		if !kept[w] {
			if err := b.unindex(keyOf(w, t.pos), t.pos); err != nil {
				return fmt.Errorf("search index: %w", err)
			}
		}
	}
	return nil
}

// unindex takes one ticket out of one row, deleting the row it empties.
func (b *batch) unindex(k postingKey, pos int64) error {
	var blob []byte
	err := b.stmt(b.st.postingsRead[1]).QueryRowContext(b.ctx, k.bucket, k.term, k.part).Scan(&k.bucket, &k.term, &k.part, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	ps, err := decodePostings(k.bucket, blob, nil)
	if err != nil {
		return err
	}
	ps = slices.DeleteFunc(ps, func(p int64) bool { return p == pos })
	if len(ps) == 0 {
		return b.exec(b.st.postingsDelete, k.bucket, k.term, k.part)
	}
	return b.exec(b.st.postingsSave[1], k.bucket, k.term, k.part, encodePostings(k.bucket, ps))
}

// terms computes a ticket's terms from the tables, as the rules above
// make them.
func (b *batch) terms(t *ticketRow) (map[string]bool, error) {
	phones, err := b.strings(b.st.profilePhones, t.profile)
	if err != nil {
		return nil, fmt.Errorf("phones of %s: %w", t.profile, err)
	}
	bodies, err := b.strings(b.st.ticketBodies, t.pos)
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", t.id, err)
	}
	set := distinctWords(bodies...)
	ticketTerms(t.profile, phones, func(w string) { set[w] = true })
	return set, nil
}

// strings returns the single text column of a statement's rows.
func (b *batch) strings(st *sql.Stmt, args ...any) ([]string, error) {
	rows, err := b.stmt(st).QueryContext(b.ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
