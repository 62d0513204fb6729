package projections

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// statements are the projector's SQL, prepared once on the writer
// connection: a catch-up runs them hundreds of thousands of times.
type statements struct {
	profile       *sql.Stmt
	eraseMessage  *sql.Stmt
	latestMessage *sql.Stmt
	countMessages *sql.Stmt
	replyStatus   *sql.Stmt
	blockCause    *sql.Stmt
	unblockCause  *sql.Stmt
	setBlocked    *sql.Stmt
	phone         *sql.Stmt
	user          *sql.Stmt
	position      *sql.Stmt
	// The search index's upkeep (search_index.go).
	postingsDelete *sql.Stmt
	profilePhones  *sql.Stmt
	profileTickets *sql.Stmt
	ticketBodies   *sql.Stmt
	// Statements over many rows, by rows per statement (see chunkSizes):
	// one statement for 64 rows costs a fraction of 64 statements.
	ticketLoad map[int]*sql.Stmt
	ticketSave map[int]*sql.Stmt
	messages   map[int]*sql.Stmt
	history    map[int]*sql.Stmt
	// Rows of search_postings, read and written by key.
	postingsRead map[int]*sql.Stmt
	postingsSave map[int]*sql.Stmt
}

// chunkSizes are the row counts of the multi-row inserts, largest first.
var chunkSizes = []int{64, 8, 1}

const ticketFields = `position, id, profile_id, status, assignee_id, unread, snoozed_until, closed_at, close_reason,
	last_message_at, preview, message_count, waiting_since`

var singleSQL = []struct {
	sql string
	dst func(*statements) **sql.Stmt
}{
	{`INSERT INTO profiles (id) VALUES (?) ON CONFLICT DO NOTHING`,
		func(s *statements) **sql.Stmt { return &s.profile }},
	// A block erases the inbound messages only; replies and notes stay
	// (R6). The text comes back so that its words leave the index too.
	{`DELETE FROM messages WHERE ticket = ?1 AND id = ?2 AND direction = 'inbound' RETURNING body`,
		func(s *statements) **sql.Stmt { return &s.eraseMessage }},
	// A note is no preview: the inbox shows the conversation.
	{`SELECT body FROM messages WHERE ticket = ? AND direction != 'note' ORDER BY position DESC LIMIT 1`,
		func(s *statements) **sql.Stmt { return &s.latestMessage }},
	{`SELECT count(*) FROM messages WHERE ticket = ?`,
		func(s *statements) **sql.Stmt { return &s.countMessages }},
	{`UPDATE messages SET status = ?3, status_reason = ?4 WHERE ticket = ?1 AND id = ?2 AND direction = 'outbound'`,
		func(s *statements) **sql.Stmt { return &s.replyStatus }},
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
	{`UPDATE projector_position SET position = ?1 WHERE id = 1`,
		func(s *statements) **sql.Stmt { return &s.position }},
	{`DELETE FROM search_postings WHERE bucket = ?1 AND term = ?2 AND part = ?3`,
		func(s *statements) **sql.Stmt { return &s.postingsDelete }},
	{`SELECT phone FROM profile_phones WHERE profile_id = ?`,
		func(s *statements) **sql.Stmt { return &s.profilePhones }},
	{`SELECT position FROM tickets WHERE profile_id = ?`,
		func(s *statements) **sql.Stmt { return &s.profileTickets }},
	{`SELECT body FROM messages WHERE ticket = ?`,
		func(s *statements) **sql.Stmt { return &s.ticketBodies }},
}

// Columns of the multi-row statements, in the order rows are appended.
const (
	ticketColumnCount = 13
	messageColumns    = 9
	historyColumns    = 2
)

// placeholders returns n rows of width parameters: "(?, ?), (?, ?)".
func placeholders(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// multiRowSQL returns the statements of a batch's many-row reads and
// writes for n rows.
func multiRowSQL(n int) (load, save, messages, history, postingsRead, postingsSave string) {
	load = `SELECT ` + ticketFields + ` FROM tickets WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `)`
	save = `INSERT INTO tickets (` + ticketFields + `) VALUES ` + placeholders(n, ticketColumnCount) + `
	  ON CONFLICT (position) DO UPDATE SET status = excluded.status, assignee_id = excluded.assignee_id,
	    unread = excluded.unread, snoozed_until = excluded.snoozed_until, closed_at = excluded.closed_at,
	    close_reason = excluded.close_reason, last_message_at = excluded.last_message_at,
	    preview = excluded.preview, message_count = excluded.message_count, waiting_since = excluded.waiting_since`
	messages = `INSERT INTO messages (position, ticket, id, direction, body, at, author_id, status, status_reason) VALUES ` +
		placeholders(n, messageColumns)
	history = `INSERT INTO history (ticket, position) VALUES ` + placeholders(n, historyColumns)
	postingsRead = `SELECT bucket, term, part, tickets FROM search_postings WHERE (bucket, term, part) IN (VALUES ` +
		placeholders(n, 3) + `)`
	postingsSave = `INSERT INTO search_postings (bucket, term, part, tickets) VALUES ` + placeholders(n, 4) + `
	  ON CONFLICT (bucket, term, part) DO UPDATE SET tickets = excluded.tickets`
	return load, save, messages, history, postingsRead, postingsSave
}

func prepare(ctx context.Context, w *sql.DB) (*statements, error) {
	s := &statements{ticketLoad: map[int]*sql.Stmt{}, ticketSave: map[int]*sql.Stmt{},
		messages: map[int]*sql.Stmt{}, history: map[int]*sql.Stmt{}, postingsRead: map[int]*sql.Stmt{},
		postingsSave: map[int]*sql.Stmt{}}
	fail := func(q string, err error) (*statements, error) {
		s.close()
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	for _, q := range singleSQL {
		st, err := w.PrepareContext(ctx, q.sql)
		if err != nil {
			return fail(q.sql, err)
		}
		*q.dst(s) = st
	}
	for _, n := range chunkSizes {
		load, save, messages, history, postingsRead, postingsSave := multiRowSQL(n)
		for _, q := range []struct {
			sql string
			dst map[int]*sql.Stmt
		}{{load, s.ticketLoad}, {save, s.ticketSave}, {messages, s.messages}, {history, s.history},
			{postingsRead, s.postingsRead}, {postingsSave, s.postingsSave}} {
			st, err := w.PrepareContext(ctx, q.sql)
			if err != nil {
				return fail(q.sql, err)
			}
			q.dst[n] = st
		}
	}
	return s, nil
}

func (s *statements) close() {
	for _, q := range singleSQL {
		if st := *q.dst(s); st != nil {
			st.Close()
		}
	}
	for _, m := range []map[int]*sql.Stmt{s.ticketLoad, s.ticketSave, s.messages, s.history, s.postingsRead, s.postingsSave} {
		for _, st := range m {
			st.Close()
		}
	}
}
