package projections

import (
	"context"
	"database/sql"
	"fmt"
)

// statements are the projector's writes, prepared once on the writer
// connection: a catch-up runs them hundreds of thousands of times.
//
// Every update of a ticket names its profile too, mirroring domain.Profile,
// where an event only ever reaches the tickets of its own aggregate.
type statements struct {
	profile      *sql.Stmt
	ticketOpen   *sql.Stmt
	message      *sql.Stmt
	messageTouch *sql.Stmt
	assign       *sql.Stmt
	snooze       *sql.Stmt
	wake         *sql.Stmt
	unread       *sql.Stmt
	closeTicket  *sql.Stmt
	reopen       *sql.Stmt
	eraseMessage *sql.Stmt
	latest       *sql.Stmt
	recount      *sql.Stmt
	blockCause   *sql.Stmt
	unblockCause *sql.Stmt
	setBlocked   *sql.Stmt
	phone        *sql.Stmt
	user         *sql.Stmt
	history      *sql.Stmt
	position     *sql.Stmt
}

var statementSQL = []struct {
	sql string
	dst func(*statements) **sql.Stmt
}{
	{`INSERT INTO profiles (id) VALUES (?) ON CONFLICT DO NOTHING`,
		func(s *statements) **sql.Stmt { return &s.profile }},
	{`INSERT INTO tickets (id, profile_id, opened_position, status, last_message_at)
	  VALUES (?, ?, ?, 'open', ?) ON CONFLICT DO NOTHING`,
		func(s *statements) **sql.Stmt { return &s.ticketOpen }},
	// ?1 position, ?2 message id, ?3 ticket, ?4 direction, ?5 body, ?6 at,
	// ?7 author, ?8 profile. The ticket must exist and be the profile's.
	{`INSERT INTO messages (position, id, ticket_id, direction, body, at, author_id)
	  SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
	  WHERE EXISTS (SELECT 1 FROM tickets WHERE id = ?3 AND profile_id = ?8)
	  ON CONFLICT DO NOTHING`,
		func(s *statements) **sql.Stmt { return &s.message }},
	// ?1 at, ?2 sets unread, ?3 1 if a message row was added, ?4 preview,
	// ?5 ticket, ?6 profile.
	{`UPDATE tickets SET
	    last_message_at = max(last_message_at, ?1),
	    unread = CASE WHEN ?2 THEN 1 ELSE unread END,
	    preview = CASE WHEN ?3 THEN ?4 ELSE preview END,
	    message_count = message_count + ?3
	  WHERE id = ?5 AND profile_id = ?6`,
		func(s *statements) **sql.Stmt { return &s.messageTouch }},
	{`UPDATE tickets SET assignee_id = ?1 WHERE id = ?2 AND profile_id = ?3`,
		func(s *statements) **sql.Stmt { return &s.assign }},
	{`UPDATE tickets SET status = 'snoozed', snoozed_until = ?1 WHERE id = ?2 AND profile_id = ?3`,
		func(s *statements) **sql.Stmt { return &s.snooze }},
	{`UPDATE tickets SET status = 'open', snoozed_until = NULL,
	    unread = CASE WHEN ?1 THEN 1 ELSE unread END
	  WHERE id = ?2 AND profile_id = ?3`,
		func(s *statements) **sql.Stmt { return &s.wake }},
	{`UPDATE tickets SET unread = ?1 WHERE id = ?2 AND profile_id = ?3`,
		func(s *statements) **sql.Stmt { return &s.unread }},
	{`UPDATE tickets SET status = 'closed', snoozed_until = NULL, closed_at = ?1, close_reason = ?2
	  WHERE id = ?3 AND profile_id = ?4`,
		func(s *statements) **sql.Stmt { return &s.closeTicket }},
	{`UPDATE tickets SET status = 'open', closed_at = NULL, close_reason = NULL
	  WHERE id = ?1 AND profile_id = ?2`,
		func(s *statements) **sql.Stmt { return &s.reopen }},
	// A block erases the inbound messages only; replies stay (R6).
	{`DELETE FROM messages WHERE id = ?1 AND ticket_id = ?2 AND direction = 'inbound'`,
		func(s *statements) **sql.Stmt { return &s.eraseMessage }},
	{`SELECT body FROM messages WHERE ticket_id = ?1 ORDER BY position DESC LIMIT 1`,
		func(s *statements) **sql.Stmt { return &s.latest }},
	{`UPDATE tickets SET preview = ?1,
	    message_count = (SELECT count(*) FROM messages WHERE ticket_id = ?2)
	  WHERE id = ?2`,
		func(s *statements) **sql.Stmt { return &s.recount }},
	{`INSERT INTO profile_block_causes (profile_id, cause) VALUES (?1, ?2) ON CONFLICT DO NOTHING`,
		func(s *statements) **sql.Stmt { return &s.blockCause }},
	// An unblock by id ('') clears every cause, as domain.Profile does.
	{`DELETE FROM profile_block_causes WHERE profile_id = ?1 AND (?2 = '' OR cause = ?2)`,
		func(s *statements) **sql.Stmt { return &s.unblockCause }},
	{`UPDATE profiles SET blocked = EXISTS (SELECT 1 FROM profile_block_causes WHERE profile_id = ?1)
	  WHERE id = ?1`,
		func(s *statements) **sql.Stmt { return &s.setBlocked }},
	{`INSERT INTO profile_phones (profile_id, phone, position) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING`,
		func(s *statements) **sql.Stmt { return &s.phone }},
	{`INSERT INTO users (id, name, role) VALUES (?1, ?2, ?3)
	  ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role`,
		func(s *statements) **sql.Stmt { return &s.user }},
	{`INSERT INTO history (position, ticket_id, type, at, actor, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
		func(s *statements) **sql.Stmt { return &s.history }},
	{`UPDATE projector_position SET position = ?1 WHERE id = 1`,
		func(s *statements) **sql.Stmt { return &s.position }},
}

func prepare(ctx context.Context, w *sql.DB) (*statements, error) {
	s := &statements{}
	for _, q := range statementSQL {
		st, err := w.PrepareContext(ctx, q.sql)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", q.sql, err)
		}
		*q.dst(s) = st
	}
	return s, nil
}

func (s *statements) close() {
	for _, q := range statementSQL {
		if st := *q.dst(s); st != nil {
			st.Close()
		}
	}
}

// inTx returns the statements bound to a transaction of the writer, where
// database/sql reuses the statements already prepared on its one
// connection.
func (s *statements) inTx(ctx context.Context, tx *sql.Tx) *statements {
	t := &statements{}
	for _, q := range statementSQL {
		*q.dst(t) = tx.StmtContext(ctx, *q.dst(s))
	}
	return t
}
