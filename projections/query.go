package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrNotFound reports a ticket or profile the views do not have.
var ErrNotFound = errors.New("projections: not found")

// ErrInvalidQuery reports a query that cannot be answered as asked: an
// unknown view or status, a malformed cursor, a negative limit.
var ErrInvalidQuery = errors.New("projections: invalid query")

// Inbox views (TicketQuery.View).
const (
	ViewAll        = "all"
	ViewMine       = "mine"
	ViewUnassigned = "unassigned"
)

// Ticket statuses as queries report and filter them.
const (
	StatusOpen    = "open"
	StatusSnoozed = "snoozed"
	StatusClosed  = "closed"
)

// Page sizes of Tickets.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// TicketQuery selects one page of an inbox list.
type TicketQuery struct {
	View   string // all (default), mine or unassigned
	UserID string // the caller, whose tickets "mine" lists
	// Status is open, snoozed or closed; "" is open, or every status for
	// a search.
	Status string
	// Q, when not blank, searches: only the tickets that match every word
	// of it are listed (search.go).
	Q string
	// Sort is newest ("" too) or waiting (sort.go).
	Sort   string
	Limit  int    // 0 means DefaultLimit; above MaxLimit means MaxLimit
	Cursor string // NextCursor of the previous page of the same sort, "" for the first
	// Now is the caller's clock reading: a snooze whose until is not
	// after it reads as open (R4).
	Now time.Time

	// plan forces a search's plan, for tests that compare them.
	plan searchPlan
}

const ticketColumns = `id, profile_id, status, assignee_id, unread, snoozed_until, closed_at, last_message_at, preview,
	message_count, waiting_since, wait_key`

// pageLimit applies the page size's default and bound.
func pageLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: limit must not be negative", ErrInvalidQuery)
	case limit == 0:
		return DefaultLimit, nil
	case limit > MaxLimit:
		return MaxLimit, nil
	}
	return limit, nil
}

// scopeFilter is the condition of a query's view and cursor, to add to
// each of its SELECTs: " AND ...", with its arguments, and the order of
// its sort.
func scopeFilter(q TicketQuery) (string, []any, listOrder, error) {
	order, err := orderOf(q.Sort)
	if err != nil {
		return "", nil, listOrder{}, err
	}
	var filter string
	var fargs []any
	switch q.View {
	case ViewAll, "":
	case ViewMine:
		if q.UserID == "" {
			return "", nil, listOrder{}, fmt.Errorf("%w: view mine needs a user", ErrInvalidQuery)
		}
		filter, fargs = ` AND assignee_id = ?`, []any{q.UserID}
	case ViewUnassigned:
		filter = ` AND assignee_id IS NULL`
	default:
		return "", nil, listOrder{}, fmt.Errorf("%w: view must be all, mine or unassigned, got %q", ErrInvalidQuery, q.View)
	}
	if q.Cursor != "" {
		k, err := order.decode(q.Cursor)
		if err != nil {
			return "", nil, listOrder{}, err
		}
		filter += order.after
		fargs = append(fargs, k.key, k.id)
	}
	return filter, fargs, order, nil
}

// statusBranches are the sources and conditions of one status, each the
// head of one index range scan, with their arguments; "" (a search's
// default) is every status.
func statusBranches(status string, now int64) ([]string, [][]any, error) {
	switch status {
	case StatusOpen:
		// Open, plus snoozed past their until (R4): those are a few at
		// most, as the scheduler wakes them within a second, so they are
		// found by their until and sorted, rather than by reading every
		// snoozed ticket in the sort's order to find none.
		return []string{`tickets WHERE status = 'open'`,
				`tickets INDEXED BY tickets_snoozed_until WHERE status = 'snoozed' AND snoozed_until <= ?`},
			[][]any{nil, {now}}, nil
	case StatusSnoozed:
		return []string{`tickets WHERE status = 'snoozed' AND snoozed_until > ?`}, [][]any{{now}}, nil
	case StatusClosed:
		return []string{`tickets WHERE status = 'closed'`}, [][]any{nil}, nil
	case "":
		return []string{`tickets WHERE status = 'open'`, `tickets WHERE status = 'snoozed'`, `tickets WHERE status = 'closed'`},
			[][]any{nil, nil, nil}, nil
	}
	return nil, nil, fmt.Errorf("%w: status must be open, snoozed or closed, got %q", ErrInvalidQuery, status)
}

// ticketsSQL builds the query of one page. Each status is one index range
// scan in the sort's order (plus the due snoozes, for open), merged by
// SQLite; a
// keyset cursor continues past the last row shown, so rows inserted or
// moved before it meanwhile neither repeat nor shift the next page.
func ticketsSQL(q TicketQuery) (string, []any, int, listOrder, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return "", nil, 0, listOrder{}, err
	}
	query, args, order, err := inboxSQL(q, ticketColumns)
	if err != nil {
		return "", nil, 0, listOrder{}, err
	}
	// One row more than asked tells whether there is a next page.
	return query + ` LIMIT ?`, append(args, limit+1), limit, order, nil
}

// inboxSQL selects cols of the tickets of q's view and status, after its
// cursor, in the order of its sort.
func inboxSQL(q TicketQuery, cols string) (string, []any, listOrder, error) {
	filter, fargs, order, err := scopeFilter(q)
	if err != nil {
		return "", nil, listOrder{}, err
	}
	branches, bargs, err := statusBranches(q.Status, nanos(q.Now))
	if err != nil {
		return "", nil, listOrder{}, err
	}
	var parts []string
	var args []any
	for i, br := range branches {
		parts = append(parts, `SELECT `+cols+` FROM `+br+filter)
		args = append(append(args, bargs[i]...), fargs...)
	}
	return strings.Join(parts, ` UNION ALL `) + order.orderBy, args, order, nil
}

// Tickets returns one page of an inbox list in the order of its sort.
// With Q set it searches (search.go).
func (v *Views) Tickets(ctx context.Context, q TicketQuery) (TicketPage, error) {
	if strings.TrimSpace(q.Q) != "" {
		return v.search(ctx, q)
	}
	if q.Status == "" {
		q.Status = StatusOpen
	}
	query, args, limit, order, err := ticketsSQL(q)
	if err != nil {
		return TicketPage{}, err
	}
	var page TicketPage
	err = v.read(ctx, func(db *DB) error {
		page, err = readPage(ctx, db.r, query, args, limit, order, nanos(q.Now))
		return err
	})
	if err != nil {
		return TicketPage{}, fmt.Errorf("list tickets: %w", err)
	}
	return page, nil
}

// readPage runs a page's query, which asks for one row more than limit,
// in order.
func readPage(ctx context.Context, db queryer, query string, args []any, limit int, order listOrder, now int64) (TicketPage, error) {
	page := TicketPage{Tickets: []TicketSummary{}}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	var last cursorKey
	for rows.Next() {
		s, waitKey, err := scanSummary(rows, now)
		if err != nil {
			return page, err
		}
		if len(page.Tickets) == limit {
			c := order.encode(last)
			page.NextCursor = &c
			break
		}
		page.Tickets = append(page.Tickets, s)
		last = cursorKey{key: order.keyOf(s, waitKey), id: s.ID}
	}
	return page, rows.Err()
}

type rowScanner interface{ Scan(dest ...any) error }

// queryer is a connection pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanSummary reads a row of ticketColumns, reporting a snooze that is due
// at now as open (R4). It also returns the row's wait_key, which a page of
// the waiting sort ends its cursor at.
func scanSummary(r rowScanner, now int64) (TicketSummary, int64, error) {
	var (
		s                      TicketSummary
		assignee               sql.NullString
		until, closed, waiting sql.NullInt64
		lm, waitKey            int64
	)
	if err := r.Scan(&s.ID, &s.ProfileID, &s.Status, &assignee, &s.Unread, &until, &closed, &lm, &s.Preview,
		&s.MessageCount, &waiting, &waitKey); err != nil {
		return TicketSummary{}, 0, err
	}
	if assignee.Valid {
		s.AssigneeID = &assignee.String
	}
	if s.Status == StatusSnoozed {
		if !until.Valid || until.Int64 <= now {
			s.Status = StatusOpen
		} else {
			t := fromNanos(until.Int64)
			s.SnoozedUntil = &t
		}
	}
	if s.Status == StatusClosed && closed.Valid {
		t := fromNanos(closed.Int64)
		s.ClosedAt = &t
	}
	s.LastMessageAt = fromNanos(lm)
	if waiting.Valid {
		t := fromNanos(waiting.Int64)
		s.WaitingSince = &t
	}
	return s, waitKey, nil
}

// nanos converts a time to the views' integer form, clamping times that
// int64 nanoseconds cannot hold (such as the zero time).
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// strPtr maps SQL NULL to nil.
func strPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
