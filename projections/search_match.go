package projections

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
)

// The tickets a search's words match, from the index (search_index.go)
// and the tickets' ids.

// wordPlan is a search's words, the rarest first, with the share of the
// tickets each is estimated to be on.
type wordPlan struct {
	ws     []queryWord
	shares []float64
	// all lists every bucket, as JSON.
	all string
}

// planWords estimates each word's share of the total tickets from a
// sample of the buckets (its ids from all of them), and puts the words in
// order, rarest first.
func planWords(ctx context.Context, tx *sql.Tx, ws []queryWord, total int) (wordPlan, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) FROM tickets`).Scan(&last); err != nil {
		return wordPlan{}, err
	}
	sample, sampled := sampleBuckets(last)
	// Tickets are about evenly spread over the buckets of the log.
	inSample := max(1, float64(total)*float64(sampled)/float64(last>>bucketBits+1))
	wp := wordPlan{all: everyBucket(last)}
	for _, w := range ws {
		terms, ids, err := wordSize(ctx, tx, w, sample)
		if err != nil {
			return wordPlan{}, err
		}
		wp.ws = append(wp.ws, w)
		wp.shares = append(wp.shares, min(1, float64(terms)/inSample+float64(ids)/max(1, float64(total))))
	}
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(wp.shares[a], wp.shares[b]) })
	sorted := wordPlan{all: wp.all}
	for _, i := range order {
		sorted.ws = append(sorted.ws, wp.ws[i])
		sorted.shares = append(sorted.shares, wp.shares[i])
	}
	return sorted, nil
}

// joint estimates the share of the tickets that have every word, taking
// the words as found independently of one another.
func (wp wordPlan) joint() float64 {
	j := 1.0
	for _, s := range wp.shares {
		j *= s
	}
	return max(j, 1e-9)
}

// lazy reports whether every word is common enough for a lazy walk to
// find a page of limit in few rows.
func (wp wordPlan) lazy(limit int) bool {
	return wp.shares[0] >= lazyShare && float64(limit+1)/wp.joint() <= lazyRows
}

// match returns the positions of the tickets that match every word, in
// order: the rarest word's, then those among them that each other word
// has.
func (wp wordPlan) match(ctx context.Context, tx *sql.Tx) ([]int64, error) {
	var matches []int64
	for k, w := range wp.ws {
		var err error
		if k == 0 {
			matches, err = wordTickets(ctx, tx, w, wp.all, nil)
		} else {
			matches, err = wordTickets(ctx, tx, w, bucketsJSON(matches), matches)
		}
		if err != nil || len(matches) == 0 {
			return nil, err
		}
	}
	return matches, nil
}

// lazyMember checks a ticket against every word, rarest first, reading
// the words' rows of a bucket the first time it is asked about one.
func (wp wordPlan) lazyMember(ctx context.Context, tx *sql.Tx) func(int64) (bool, error) {
	sets := map[int64][][]int64{}
	return func(pos int64) (bool, error) {
		b := pos >> bucketBits
		words, ok := sets[b]
		if !ok {
			one := bucketRange(b, b, 1)
			for _, w := range wp.ws {
				set, err := wordTickets(ctx, tx, w, one, nil)
				if err != nil {
					return false, err
				}
				words = append(words, set)
			}
			sets[b] = words
		}
		for _, set := range words {
			if _, ok := slices.BinarySearch(set, pos); !ok {
				return false, nil
			}
		}
		return true, nil
	}
}

// termCondition is the condition on search_postings of a word's terms in
// buckets, a JSON list: one seek in each bucket.
func termCondition(w queryWord, buckets string) (string, []any) {
	in := `bucket IN (SELECT value FROM json_each(?)) AND `
	if w.exact {
		return in + `term = ?`, []any{buckets, w.prefix}
	}
	return in + `term >= ? AND term < ?`, []any{buckets, w.prefix, prefixEnd(w.prefix)}
}

// everyBucket lists, as JSON, the buckets up to the one of position last.
func everyBucket(last int64) string {
	return bucketRange(0, last>>bucketBits, 1)
}

// sizeSample is how many buckets wordSize reads, spread over the log: the
// words' shares only order them and choose the plan, so a sample does.
const sizeSample = 16

// sampleBuckets lists, as JSON, sizeSample buckets or so, evenly spread
// up to the one of position last, and says how many.
func sampleBuckets(last int64) (string, int64) {
	top := last >> bucketBits
	step := max(1, (top+1)/sizeSample)
	return bucketRange(0, top, step), top/step + 1
}

// bucketRange lists, as JSON, the buckets from first to top, every step.
func bucketRange(first, top, step int64) string {
	b := []byte{'['}
	for bk := first; bk <= top; bk += step {
		if bk > first {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, bk, 10)
	}
	return string(append(b, ']'))
}

// sizeRows bounds the index rows wordSize reads: past it a word is among
// the largest anyway, and is read after the others.
const sizeRows = 4096

// wordSize measures a word in buckets: the bytes of its index rows
// (about one per ticket), up to sizeRows of them, and, apart, the ids that
// start with it, in every bucket.
func wordSize(ctx context.Context, tx *sql.Tx, w queryWord, buckets string) (terms, ids int64, err error) {
	if w.prefix != "" {
		cond, args := termCondition(w, buckets)
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(length(tickets)), 0) FROM
			(SELECT tickets FROM search_postings WHERE `+cond+` LIMIT ?)`, append(args, sizeRows)...).Scan(&terms); err != nil {
			return 0, 0, err
		}
	}
	if w.id != "" {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM tickets WHERE id >= ? AND id < ? LIMIT ?)`,
			w.id, prefixEnd(w.id), sizeRows).Scan(&ids); err != nil {
			return 0, 0, err
		}
	}
	return terms, ids, nil
}

// wordTickets returns the positions of the tickets a word matches in
// buckets (a JSON list), in order; with within, only those among within,
// sorted, whose buckets are the ones given. SQLite puts the rows of a
// bucket end to end, so that a bucket costs one row here however many
// terms a prefix has in it.
func wordTickets(ctx context.Context, tx *sql.Tx, w queryWord, buckets string, within []int64) ([]int64, error) {
	var out []int64
	if w.prefix != "" {
		cond, args := termCondition(w, buckets)
		rows, err := tx.QueryContext(ctx, `SELECT bucket, count(*), group_concat(tickets, '') FROM search_postings
			WHERE `+cond+` GROUP BY bucket ORDER BY bucket`, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var bucket, terms int64
			var blob sql.RawBytes
			if err := rows.Scan(&bucket, &terms, &blob); err != nil {
				return nil, err
			}
			start := len(out)
			if within == nil {
				// A ticket takes a byte or more of a row.
				out, err = decodePostings(bucket, blob, slices.Grow(out, len(blob)))
			} else {
				out, err = keepPostings(bucket, blob, within, out)
			}
			if err != nil {
				return nil, err
			}
			if terms > 1 {
				// Parts of a term come in order, but a prefix's several
				// terms may each have a ticket.
				if !slices.IsSorted(out[start:]) {
					slices.Sort(out[start:])
				}
				out = append(out[:start], slices.Compact(out[start:])...)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if w.id != "" {
		ids, err := column[int64](ctx, tx, nil, `SELECT position FROM tickets WHERE id >= ? AND id < ?`, w.id, prefixEnd(w.id))
		if err != nil {
			return nil, err
		}
		if within != nil {
			ids = intersect(ids, within)
		}
		out = append(out, ids...)
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, nil
}

// bucketsJSON lists the buckets of sorted positions as a JSON array.
func bucketsJSON(ps []int64) string {
	b := []byte{'['}
	last := int64(-1)
	for _, p := range ps {
		if bk := p >> bucketBits; bk != last {
			if last >= 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, bk, 10)
			last = bk
		}
	}
	return string(append(b, ']'))
}

// intersect returns the positions in both sorted lists.
func intersect(a, b []int64) []int64 {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
