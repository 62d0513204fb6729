package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Counts returns how many tickets each view holds by status, for the user
// userID, at the caller's time now (a due snooze counts as open, R4).
func (v *Views) Counts(ctx context.Context, userID string, now time.Time) (Counts, error) {
	var c Counts
	add := func(assignee sql.NullString, status string, n int) {
		views := []*StatusCounts{&c.All}
		switch {
		case !assignee.Valid:
			views = append(views, &c.Unassigned)
		case userID != "" && assignee.String == userID:
			views = append(views, &c.Mine)
		}
		for _, sc := range views {
			switch status {
			case StatusOpen:
				sc.Open += n
			case StatusSnoozed:
				sc.Snoozed += n
			case StatusClosed:
				sc.Closed += n
			}
		}
	}
	err := v.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT assignee_id, status, n FROM ticket_counts`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var assignee string
			var status string
			var n int
			if err := rows.Scan(&assignee, &status, &n); err != nil {
				return err
			}
			add(sql.NullString{String: assignee, Valid: assignee != ""}, status, n)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Due snoozes move from snoozed to open; the partial index finds
		// them without reading the others.
		due, err := tx.QueryContext(ctx, `SELECT assignee_id, count(*) FROM tickets INDEXED BY tickets_snoozed_until
			WHERE status = 'snoozed' AND snoozed_until <= ? GROUP BY assignee_id`, nanos(now))
		if err != nil {
			return err
		}
		defer due.Close()
		for due.Next() {
			var assignee sql.NullString
			var n int
			if err := due.Scan(&assignee, &n); err != nil {
				return err
			}
			add(assignee, StatusSnoozed, -n)
			add(assignee, StatusOpen, n)
		}
		return due.Err()
	})
	if err != nil {
		return Counts{}, fmt.Errorf("count tickets: %w", err)
	}
	return c, nil
}

// Ticket returns a ticket with its messages, oldest first, as seen at the
// caller's time now.
func (v *Views) Ticket(ctx context.Context, id string, now time.Time) (TicketDetail, error) {
	var d TicketDetail
	err := v.readTx(ctx, func(tx *sql.Tx) error {
		s, _, err := scanSummary(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id), nanos(now))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("ticket %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		d.TicketSummary = s
		d.Messages = []Message{}
		rows, err := tx.QueryContext(ctx, `SELECT id, direction, body, at, author_id, status, status_reason FROM messages
			WHERE ticket = (SELECT position FROM tickets WHERE id = ?) ORDER BY position`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Message
			var at int64
			var author, status, reason sql.NullString
			if err := rows.Scan(&m.ID, &m.Direction, &m.Body, &at, &author, &status, &reason); err != nil {
				return err
			}
			m.At = fromNanos(at)
			m.AuthorID, m.Status, m.StatusReason = strPtr(author), strPtr(status), strPtr(reason)
			d.Messages = append(d.Messages, m)
		}
		return rows.Err()
	})
	if err != nil {
		return TicketDetail{}, fmt.Errorf("get ticket: %w", err)
	}
	return d, nil
}

// TicketEvents returns the audit history of a ticket, in log order: the
// views know its positions, the log holds the events.
func (v *Views) TicketEvents(ctx context.Context, id string) ([]HistoryEntry, error) {
	var positions []int64
	err := v.readTx(ctx, func(tx *sql.Tx) error {
		var pos int64
		err := tx.QueryRowContext(ctx, `SELECT position FROM tickets WHERE id = ?`, id).Scan(&pos)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("ticket %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		positions, err = column(ctx, tx, positions, `SELECT position FROM history WHERE ticket = ? ORDER BY position`, pos)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ticket history: %w", err)
	}
	out := make([]HistoryEntry, 0, len(positions))
	for _, pos := range positions {
		en, err := v.log.Get(ctx, uint64(pos))
		if err != nil {
			return nil, fmt.Errorf("ticket history: %w", err)
		}
		h, err := historyEntry(en)
		if err != nil {
			return nil, fmt.Errorf("ticket history at %d: %w", pos, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// Profile returns a customer's profile.
func (v *Views) Profile(ctx context.Context, id string) (ProfileView, error) {
	p := ProfileView{ID: id, Phones: []string{}, TicketIDs: []string{}}
	err := v.readTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT blocked FROM profiles WHERE id = ?`, id).Scan(&p.Blocked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("profile %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if p.Phones, err = column(ctx, tx, p.Phones,
			`SELECT phone FROM profile_phones WHERE profile_id = ? ORDER BY position, phone`, id); err != nil {
			return err
		}
		p.TicketIDs, err = column(ctx, tx, p.TicketIDs,
			`SELECT id FROM tickets WHERE profile_id = ? ORDER BY position`, id)
		return err
	})
	if err != nil {
		return ProfileView{}, fmt.Errorf("get profile: %w", err)
	}
	return p, nil
}

// Users returns every user, ordered by name.
func (v *Views) Users(ctx context.Context) ([]UserView, error) {
	out := []UserView{}
	err := v.read(ctx, func(db *DB) error {
		rows, err := db.r.QueryContext(ctx, `SELECT id, name, role FROM users ORDER BY name, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u UserView
			if err := rows.Scan(&u.ID, &u.Name, &u.Role); err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// column appends the single column of a query's rows to dst.
func column[T any](ctx context.Context, tx *sql.Tx, dst []T, query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s T
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		dst = append(dst, s)
	}
	return dst, rows.Err()
}
