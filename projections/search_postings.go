package projections

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// The rows of search_postings: which tickets of a part of a bucket have a
// term (migration 4).

// bucketBits sizes the buckets of search_postings: a search seeks each
// bucket once per word, so they are large (16384 log positions, a few
// thousand tickets). partBits sizes the parts of a bucket that a row
// holds: a word every ticket has still fits a row in a page, so that
// adding a ticket rewrites a few hundred bytes, never a chain of
// overflow pages.
const (
	bucketBits = 14
	partBits   = 12
)

// postingKey names a row of search_postings.
type postingKey struct {
	bucket int64
	term   string
	part   int64
}

func keyOf(term string, pos int64) postingKey {
	return postingKey{pos >> bucketBits, term, pos >> partBits & (1<<(bucketBits-partBits) - 1)}
}

// A row's tickets are its count, then the positions as deltas from the
// one before, the first from the one before the bucket's first, all
// uvarints. No byte is ever zero (every number is at least 1), and rows
// put end to end still read (a search reads a bucket's rows of a prefix's
// terms that way, in one piece).

// encodePostings writes positions, sorted and distinct, all in bucket.
func encodePostings(bucket int64, ps []int64) []byte {
	out := make([]byte, 0, len(ps)*2+2)
	out = binary.AppendUvarint(out, uint64(len(ps)))
	prev := bucket<<bucketBits - 1
	for _, p := range ps {
		out = binary.AppendUvarint(out, uint64(p-prev))
		prev = p
	}
	return out
}

// decodePostings appends the positions of rows of bucket, put end to
// end, to dst.
func decodePostings(bucket int64, b []byte, dst []int64) ([]int64, error) {
	for len(b) > 0 {
		count, n := binary.Uvarint(b)
		if n <= 0 {
			return dst, errMalformed(bucket)
		}
		b = b[n:]
		p := bucket<<bucketBits - 1
		for range count {
			d, n := binary.Uvarint(b)
			if n <= 0 {
				return dst, errMalformed(bucket)
			}
			p += int64(d)
			dst = append(dst, p)
			b = b[n:]
		}
	}
	return dst, nil
}

// keepPostings is decodePostings keeping only the positions among within,
// sorted: it walks each row and within together.
func keepPostings(bucket int64, b []byte, within, dst []int64) ([]int64, error) {
	first, _ := slices.BinarySearch(within, bucket<<bucketBits)
	for len(b) > 0 {
		count, n := binary.Uvarint(b)
		if n <= 0 {
			return dst, errMalformed(bucket)
		}
		b = b[n:]
		p, i := bucket<<bucketBits-1, first
		for range count {
			d, n := binary.Uvarint(b)
			if n <= 0 {
				return dst, errMalformed(bucket)
			}
			p += int64(d)
			b = b[n:]
			for i < len(within) && within[i] < p {
				i++
			}
			if i < len(within) && within[i] == p {
				dst = append(dst, p)
			}
		}
	}
	return dst, nil
}

func errMalformed(bucket int64) error {
	return fmt.Errorf("search index: malformed row of bucket %d", bucket)
}

// appendPostings adds positions, sorted and distinct, to a row when they
// all come after its last, which is the usual case (a new ticket's
// words): the row is walked, not decoded. ok is false otherwise.
func appendPostings(bucket int64, row []byte, ps []int64) ([]byte, bool) {
	var count uint64
	last := bucket<<bucketBits - 1
	var rest []byte
	if len(row) > 0 {
		var n int
		if count, n = binary.Uvarint(row); n <= 0 {
			return nil, false
		}
		rest = row[n:]
		for b := rest; len(b) > 0; {
			d, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, false
			}
			last += int64(d)
			b = b[n:]
		}
	}
	if ps[0] <= last {
		return nil, false
	}
	out := binary.AppendUvarint(make([]byte, 0, len(row)+2*len(ps)+2), count+uint64(len(ps)))
	out = append(out, rest...)
	for _, p := range ps {
		out = binary.AppendUvarint(out, uint64(p-last))
		last = p
	}
	return out, true
}
