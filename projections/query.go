package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
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
	Status string // open (default), snoozed or closed
	Limit  int    // 0 means DefaultLimit; above MaxLimit means MaxLimit
	Cursor string // NextCursor of the previous page, "" for the first
	// Now is the caller's clock reading: a snooze whose until is not
	// after it reads as open (R4).
	Now time.Time
}

const ticketColumns = `id, profile_id, status, assignee_id, unread, snoozed_until, closed_at, last_message_at, preview, message_count`

// cursorKey is the sort key a page ends at.
type cursorKey struct {
	lastMessageAt int64
	id            string
}

func (k cursorKey) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.lastMessageAt, 10) + "|" + k.id))
}

func decodeCursor(s string) (cursorKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursorKey{}, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	at, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return cursorKey{}, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	return cursorKey{lastMessageAt: n, id: id}, nil
}

// ticketsSQL builds the query of one page. Each status is one or two
// index range scans in (last_message_at, id) order, merged by SQLite; a
// keyset cursor continues below the last row shown, so rows inserted or
// moved above it meanwhile neither repeat nor shift the next page.
func ticketsSQL(q TicketQuery) (string, []any, int, error) {
	view, status, limit := q.View, q.Status, q.Limit
	if view == "" {
		view = ViewAll
	}
	if status == "" {
		status = StatusOpen
	}
	switch {
	case limit < 0:
		return "", nil, 0, fmt.Errorf("%w: limit must not be negative", ErrInvalidQuery)
	case limit == 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var filter string
	var fargs []any
	switch view {
	case ViewAll:
	case ViewMine:
		if q.UserID == "" {
			return "", nil, 0, fmt.Errorf("%w: view mine needs a user", ErrInvalidQuery)
		}
		filter, fargs = ` AND assignee_id = ?`, []any{q.UserID}
	case ViewUnassigned:
		filter = ` AND assignee_id IS NULL`
	default:
		return "", nil, 0, fmt.Errorf("%w: view must be all, mine or unassigned, got %q", ErrInvalidQuery, view)
	}
	if q.Cursor != "" {
		k, err := decodeCursor(q.Cursor)
		if err != nil {
			return "", nil, 0, err
		}
		filter += ` AND (last_message_at, id) < (?, ?)`
		fargs = append(fargs, k.lastMessageAt, k.id)
	}
	now := nanos(q.Now)
	sel := `SELECT ` + ticketColumns + ` FROM tickets WHERE `
	var query string
	var args []any
	switch status {
	case StatusOpen:
		// Open, plus snoozed past their until (R4).
		query = sel + `status = 'open'` + filter + ` UNION ALL ` +
			sel + `status = 'snoozed' AND snoozed_until <= ?` + filter
		args = append(append(append(args, fargs...), now), fargs...)
	case StatusSnoozed:
		query = sel + `status = 'snoozed' AND snoozed_until > ?` + filter
		args = append(append(args, now), fargs...)
	case StatusClosed:
		query = sel + `status = 'closed'` + filter
		args = fargs
	default:
		return "", nil, 0, fmt.Errorf("%w: status must be open, snoozed or closed, got %q", ErrInvalidQuery, status)
	}
	// One row more than asked tells whether there is a next page.
	query += ` ORDER BY last_message_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	return query, args, limit, nil
}

// Tickets returns one page of an inbox list, newest activity first.
func (v *Views) Tickets(ctx context.Context, q TicketQuery) (TicketPage, error) {
	query, args, limit, err := ticketsSQL(q)
	if err != nil {
		return TicketPage{}, err
	}
	page := TicketPage{Tickets: []TicketSummary{}}
	err = v.read(ctx, func(db *DB) error {
		rows, err := db.r.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		now := nanos(q.Now)
		for rows.Next() {
			s, err := scanSummary(rows, now)
			if err != nil {
				return err
			}
			if len(page.Tickets) == limit {
				last := page.Tickets[limit-1]
				c := cursorKey{lastMessageAt: nanos(last.LastMessageAt), id: last.ID}.encode()
				page.NextCursor = &c
				break
			}
			page.Tickets = append(page.Tickets, s)
		}
		return rows.Err()
	})
	if err != nil {
		return TicketPage{}, fmt.Errorf("list tickets: %w", err)
	}
	return page, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanSummary reads a row of ticketColumns, reporting a snooze that is due
// at now as open (R4).
func scanSummary(r rowScanner, now int64) (TicketSummary, error) {
	var (
		s             TicketSummary
		assignee      sql.NullString
		until, closed sql.NullInt64
		lm            int64
	)
	if err := r.Scan(&s.ID, &s.ProfileID, &s.Status, &assignee, &s.Unread, &until, &closed, &lm, &s.Preview, &s.MessageCount); err != nil {
		return TicketSummary{}, err
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
	return s, nil
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
