package projections

import (
	"database/sql"
	"fmt"
	"unicode/utf8"

	"github.com/ticketbus/ticketbus/domain"
)

// ticket returns the ticket with the given id, nil if the views have none.
func (b *batch) ticket(id string) (*ticketRow, error) {
	if t, ok := b.tickets[id]; ok {
		return t, nil
	}
	if err := b.load([]string{id}); err != nil {
		return nil, err
	}
	return b.tickets[id], nil
}

// load reads the given tickets into the batch's cache, marking those the
// views do not have. A batch loads every ticket it names up front, in a
// few statements rather than one per ticket.
func (b *batch) load(ids []string) error {
	var missing []any
	for _, id := range ids {
		if _, ok := b.tickets[id]; !ok {
			b.tickets[id] = nil
			missing = append(missing, id)
		}
	}
	for _, n := range chunkSizes {
		for len(missing) >= n {
			if err := b.loadChunk(b.st.ticketLoad[n], missing[:n]); err != nil {
				return err
			}
			missing = missing[n:]
		}
	}
	return nil
}

func (b *batch) loadChunk(st *sql.Stmt, ids []any) error {
	rows, err := b.stmt(st).QueryContext(b.ctx, ids...)
	if err != nil {
		return fmt.Errorf("read tickets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t := &ticketRow{}
		err := rows.Scan(&t.pos, &t.id, &t.profile, &t.status, &t.assignee, &t.unread, &t.until, &t.closedAt,
			&t.closeReason, &t.lastMessageAt, &t.preview, &t.messageCount, &t.waitingSince)
		if err != nil {
			return fmt.Errorf("read tickets: %w", err)
		}
		b.tickets[t.id] = t
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tickets: %w", err)
	}
	return nil
}

func (b *batch) touch(t *ticketRow) {
	if !t.dirty {
		t.dirty = true
		b.dirty = append(b.dirty, t)
	}
}

// flush writes what the batch holds in memory: tickets first, which the
// messages refer to.
func (b *batch) flush() error {
	rows := make([]any, 0, len(b.dirty)*ticketColumnCount)
	for _, t := range b.dirty {
		rows = append(rows, t.pos, t.id, t.profile, t.status, t.assignee, t.unread, t.until,
			t.closedAt, t.closeReason, t.lastMessageAt, t.preview, t.messageCount, t.waitingSince)
		t.dirty = false
	}
	b.dirty = b.dirty[:0]
	if err := b.insertRows(b.st.ticketSave, ticketColumnCount, rows); err != nil {
		return fmt.Errorf("tickets: %w", err)
	}
	if err := b.insertRows(b.st.messages, messageColumns, b.messages); err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	b.messages = b.messages[:0]
	clear(b.replies)
	if err := b.insertRows(b.st.history, historyColumns, b.history); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	b.history = b.history[:0]
	return b.flushPostings()
}

// replyStatus sets a reply's delivery status as the event gives it: the
// engine writes only changes forward. A reply of another ticket, or none,
// changes nothing, as in domain.Ticket.
func (b *batch) replyStatus(t *ticketRow, d *domain.ReplyStatusChangedData) error {
	// A pending row's values are in addMessage's order: the ticket is
	// its second, status and reason its last two.
	if i, ok := b.replies[d.ReplyID]; ok && b.messages[i+1] == t.pos {
		b.messages[i+7], b.messages[i+8] = nullStr(d.Status), nullStr(d.Reason)
		return nil
	}
	return b.exec(b.st.replyStatus, t.pos, d.ReplyID, nullStr(d.Status), nullStr(d.Reason))
}

// insertRows inserts rows of width values with the largest multi-row
// statements that fit.
func (b *batch) insertRows(stmts map[int]*sql.Stmt, width int, vals []any) error {
	for _, n := range chunkSizes {
		for len(vals) >= n*width {
			if err := b.exec(stmts[n], vals[:n*width]...); err != nil {
				return err
			}
			vals = vals[n*width:]
		}
	}
	return nil
}

// stmt returns a statement bound to the batch's transaction; database/sql
// reuses the one already prepared on the writer's single connection.
func (b *batch) stmt(s *sql.Stmt) *sql.Stmt {
	t, ok := b.txStmts[s]
	if !ok {
		t = b.tx.StmtContext(b.ctx, s)
		b.txStmts[s] = t
	}
	return t
}

func (b *batch) exec(s *sql.Stmt, args ...any) error {
	if _, err := b.stmt(s).ExecContext(b.ctx, args...); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// previewChars is how much of a ticket's latest message its summary shows.
const previewChars = 140

// preview returns the first previewChars characters of a message.
func preview(body string) string {
	if utf8.RuneCountInString(body) <= previewChars {
		return body
	}
	n := 0
	for i := range body {
		if n == previewChars {
			return body[:i]
		}
		n++
	}
	return body
}

// nullStr maps "" to SQL NULL.
func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
