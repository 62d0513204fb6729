package projections

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Sorts of an inbox list (TicketQuery.Sort).
const (
	// SortNewest lists the newest activity first: last_message_at, then
	// id, both descending.
	SortNewest = "newest"
	// SortWaiting lists the tickets whose customer waits, longest first
	// (waiting_since, then id, ascending), then the others, newest
	// activity first (wait_key in migration 0005).
	SortWaiting = "waiting"
)

// listOrder is how one sort walks the inbox: each status is one range of
// an index that ends in (key, id), read in one direction.
type listOrder struct {
	sort    string
	key     string // the sort's column, which the index has before id
	orderBy string
	after   string // the keyset condition of a cursor: the rows after (key, id)
	// tag starts the sort's cursors, so that a cursor of one sort is
	// refused by the other instead of read as a key of another kind.
	// The newest sort's has none: its cursors are as they always were.
	tag string
}

var (
	orderNewest = listOrder{sort: SortNewest, key: "last_message_at", orderBy: ` ORDER BY last_message_at DESC, id DESC`,
		after: ` AND (last_message_at, id) < (?, ?)`}
	orderWaiting = listOrder{sort: SortWaiting, key: "wait_key", orderBy: ` ORDER BY wait_key, id`,
		after: ` AND (wait_key, id) > (?, ?)`, tag: "w|"}
)

// orderOf returns the order of a sort; "" is newest.
func orderOf(sort string) (listOrder, error) {
	switch sort {
	case SortNewest, "":
		return orderNewest, nil
	case SortWaiting:
		return orderWaiting, nil
	}
	return listOrder{}, fmt.Errorf("%w: sort must be newest or waiting, got %q", ErrInvalidQuery, sort)
}

// keyOf is the order's key of a row that scanSummary read.
func (o listOrder) keyOf(s TicketSummary, waitKey int64) int64 {
	if o.sort == SortWaiting {
		return waitKey
	}
	return nanos(s.LastMessageAt)
}

// cursorKey is the sort key a page ends at.
type cursorKey struct {
	key int64 // the value of the order's key column
	id  string
}

func (o listOrder) encode(k cursorKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(o.tag + strconv.FormatInt(k.key, 10) + "|" + k.id))
}

func (o listOrder) decode(s string) (cursorKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursorKey{}, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	rest, ok := strings.CutPrefix(string(b), o.tag)
	if o.tag == "" {
		ok = !strings.HasPrefix(rest, orderWaiting.tag)
	}
	if !ok {
		return cursorKey{}, fmt.Errorf("%w: the cursor belongs to another sort; start again without it", ErrInvalidQuery)
	}
	at, id, ok := strings.Cut(rest, "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return cursorKey{}, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	return cursorKey{key: n, id: id}, nil
}
