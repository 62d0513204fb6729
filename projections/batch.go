package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ticketbus/ticketbus/domain"
)

// applyBatch applies a batch in one transaction that also stores its last
// position, and returns that position (0 when every event of the batch was
// applied already). erased reports deleted message texts.
func (db *DB) applyBatch(ctx context.Context, items []item) (last uint64, erased bool, err error) {
	start := db.pos.Load()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("apply batch: %w", err)
	}
	defer tx.Rollback()
	// Statements run without ctx: go-sqlite3 runs each cancellable Exec
	// on a goroutine of its own, which costs more than the statement. ctx
	// is checked between events instead; returning ends the transaction.
	b := newBatch(context.WithoutCancel(ctx), tx, db.stmts)
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if it.ev.TicketID != "" && it.seq > start {
			ids = append(ids, it.ev.TicketID)
		}
	}
	if err := b.load(ids); err != nil {
		return 0, false, fmt.Errorf("apply batch: %w", err)
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		// Positions at or below the stored one are in the file already:
		// this is what makes a resumed or overlapping read harmless.
		if it.seq <= start || it.seq <= last {
			continue
		}
		if !it.skip {
			if err := b.apply(it); err != nil {
				return 0, false, fmt.Errorf("apply event at %d (%s): %w", it.seq, it.ev.Type, err)
			}
		}
		last = it.seq
	}
	if last == 0 {
		return 0, false, nil
	}
	if err := b.flush(); err != nil {
		return 0, false, fmt.Errorf("apply batch: %w", err)
	}
	if err := b.exec(db.stmts.position, last); err != nil {
		return 0, false, fmt.Errorf("apply batch: store position: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("apply batch: commit: %w", err)
	}
	db.committed()
	db.pos.Store(last)
	return last, b.erased, nil
}

// ticketRow is a ticket as a batch changes it: read once, changed by each
// of the batch's events in memory, written back once. A busy ticket gets
// many events in a row, and one write instead of one per event is most of
// what makes a catch-up fast.
type ticketRow struct {
	pos           int64
	id, profile   string
	status        string
	assignee      sql.NullString
	unread        bool
	until         sql.NullInt64
	closedAt      sql.NullInt64
	closeReason   sql.NullString
	lastMessageAt int64
	preview       string
	messageCount  int64
	waitingSince  sql.NullInt64 // waiting.go
	dirty         bool
}

// batch applies the events of one batch inside its transaction.
type batch struct {
	ctx context.Context
	tx  *sql.Tx
	st  *statements

	txStmts map[*sql.Stmt]*sql.Stmt
	// tickets caches the rows read or made by the batch; nil marks a
	// ticket known not to exist.
	tickets  map[string]*ticketRow
	dirty    []*ticketRow
	messages []any // rows of messageColumns values, inserted at flush
	history  []any // rows of historyColumns values
	// search holds the positions to add to the search index, by row.
	search map[postingKey][]int64
	// replies finds a reply among messages by id, so that a status change
	// before the flush changes the row still to be inserted.
	replies map[string]int
	// erased is set when the batch deleted message texts: the WAL must
	// then be checkpointed and truncated.
	erased bool
}

func newBatch(ctx context.Context, tx *sql.Tx, st *statements) *batch {
	return &batch{ctx: ctx, tx: tx, st: st, txStmts: map[*sql.Stmt]*sql.Stmt{},
		tickets: map[string]*ticketRow{}, replies: map[string]int{}, search: map[postingKey][]int64{}}
}

// apply applies one event. Like domain.Profile.Apply it never refuses an
// event: one about a ticket the views do not have, or of another profile,
// changes nothing. An error means the batch must be retried (the database
// or the key store failed), never that the event is bad.
func (b *batch) apply(it item) error {
	ev := it.ev
	profile := ev.Aggregate.ID
	var t *ticketRow
	if ev.TicketID != "" {
		var err error
		if t, err = b.ticket(ev.TicketID); err != nil {
			return err
		}
		if t == nil && ev.Type == domain.TicketOpened {
			if err := b.exec(b.st.profile, profile); err != nil {
				return err
			}
			t = &ticketRow{pos: int64(it.seq), id: ev.TicketID, profile: profile, status: StatusOpen,
				lastMessageAt: nanos(ev.At)}
			b.tickets[t.id] = t
			b.touch(t)
			if err := b.indexTicket(t); err != nil {
				return err
			}
		}
		if t != nil {
			b.history = append(b.history, t.pos, int64(it.seq))
			if t.profile != profile {
				t = nil
			}
		}
	}
	switch ev.Type {
	case domain.MessageReceived:
		return b.messageReceived(t, it)
	case domain.ReplySent:
		if t != nil {
			d := ev.Data.(*domain.ReplySentData)
			b.replies[d.MessageID] = len(b.messages)
			b.addMessage(t, it, d.MessageID, "outbound", d.Body, nullStr(ev.Actor.UserID))
			t.answered()
		}
	case domain.NoteAdded:
		if t != nil {
			d := ev.Data.(*domain.NoteAddedData)
			b.addMessage(t, it, d.NoteID, "note", d.Body, nullStr(ev.Actor.UserID))
		}
	case domain.ReplyStatusChanged:
		if t != nil {
			return b.replyStatus(t, ev.Data.(*domain.ReplyStatusChangedData))
		}
	case domain.MessagesErased:
		if t != nil {
			return b.messagesErased(t, ev.Data.(*domain.MessagesErasedData))
		}
	case domain.ProfileBlocked, domain.ProfileUnblocked:
		// A phone's own block is a fact about the number; it shows in the
		// views through the ProfileBlocked of each profile it blocked.
		if ev.Aggregate.Kind == domain.KindProfile {
			return b.block(ev)
		}
	case domain.PhoneLinked:
		return b.linkPhone(ev.Data.(*domain.PhoneLinkedData).ProfileID, ev.Aggregate.ID, it.seq)
	case domain.UserCreated:
		d := ev.Data.(*domain.UserCreatedData)
		return b.exec(b.st.user, d.UserID, d.Name, string(d.Role))
	default:
		if t != nil {
			b.changeTicket(t, ev)
		}
	}
	return nil
}

// changeTicket mirrors domain.Ticket's state changes.
func (b *batch) changeTicket(t *ticketRow, ev domain.Event) {
	switch ev.Type {
	case domain.TicketAssigned:
		t.assignee = nullStr(ev.Data.(*domain.TicketAssignedData).AssigneeID)
	case domain.TicketSnoozed:
		t.status = StatusSnoozed
		t.until = sql.NullInt64{Int64: nanos(ev.Data.(*domain.TicketSnoozedData).Until), Valid: true}
	case domain.TicketWoke:
		t.status, t.until = StatusOpen, sql.NullInt64{}
		if ev.Data.(*domain.TicketWokeData).Reason == domain.WakeTimer {
			t.unread = true
		}
	case domain.TicketMarkedUnread:
		t.unread = true
	case domain.TicketMarkedRead:
		t.unread = false
	case domain.TicketClosed:
		t.status, t.until = StatusClosed, sql.NullInt64{}
		t.closedAt = sql.NullInt64{Int64: nanos(ev.At), Valid: true}
		t.closeReason = nullStr(ev.Data.(*domain.TicketClosedData).Reason)
		t.answered()
	case domain.TicketReopened:
		t.status, t.closedAt, t.closeReason = StatusOpen, sql.NullInt64{}, sql.NullString{}
	default:
		return
	}
	b.touch(t)
}

func (b *batch) messageReceived(t *ticketRow, it item) error {
	ev := it.ev
	d := ev.Data.(*domain.MessageReceivedData)
	if d.Phone != "" {
		if err := b.linkPhone(ev.Aggregate.ID, d.Phone, it.seq); err != nil {
			return err
		}
	}
	if t == nil {
		return nil
	}
	if it.openErr != nil {
		return it.openErr
	}
	t.unread = true
	t.customerWrote(ev.At)
	if it.erased {
		t.lastMessageAt = max(t.lastMessageAt, nanos(ev.At))
		b.touch(t)
		return nil
	}
	b.addMessage(t, it, d.MessageID, "inbound", it.body, sql.NullString{})
	return nil
}

// addMessage adds a message, its words to the search index, and moves the
// ticket's activity time, preview and count. last_message_at counts every
// message, erased ones included: it is fixed by the log alone, so a replay
// made after a block (when the texts no longer open) sorts the inbox
// exactly as the live views did, and a block does not reorder the inbox.
// A note counts among the messages but is neither activity nor preview:
// the inbox orders and shows the conversation with the customer.
func (b *batch) addMessage(t *ticketRow, it item, id, direction, body string, author sql.NullString) {
	status := sql.NullString{}
	if direction == "outbound" {
		status = nullStr(domain.ReplyPending)
	}
	b.messages = append(b.messages, int64(it.seq), t.pos, id, direction, body, nanos(it.ev.At), author,
		status, sql.NullString{})
	b.indexWords(t.pos, body)
	if direction != "note" {
		t.lastMessageAt = max(t.lastMessageAt, nanos(it.ev.At))
		t.preview = preview(body)
	}
	t.messageCount++
	b.touch(t)
}

// messagesErased deletes the rows of erased messages and their words.
func (b *batch) messagesErased(t *ticketRow, d *domain.MessagesErasedData) error {
	if err := b.eraseMessages(t, d.MessageIDs); err != nil {
		return err
	}
	var latest string
	err := b.stmt(b.st.latestMessage).QueryRowContext(b.ctx, t.pos).Scan(&latest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("latest message of %s: %w", t.id, err)
	}
	if err := b.stmt(b.st.countMessages).QueryRowContext(b.ctx, t.pos).Scan(&t.messageCount); err != nil {
		return fmt.Errorf("count messages of %s: %w", t.id, err)
	}
	t.preview = preview(latest)
	b.touch(t)
	return nil
}

// block mirrors domain.Profile's set of block causes: a block adds its
// cause ("" for a block by id, else the phone), an unblock by phone removes
// that phone, an unblock by id removes them all.
func (b *batch) block(ev domain.Event) error {
	profile := ev.Aggregate.ID
	if err := b.exec(b.st.profile, profile); err != nil {
		return err
	}
	if ev.Type == domain.ProfileBlocked {
		if err := b.exec(b.st.blockCause, profile, ev.Data.(*domain.ProfileBlockedData).Phone); err != nil {
			return err
		}
	} else if err := b.exec(b.st.unblockCause, profile, ev.Data.(*domain.ProfileUnblockedData).Phone); err != nil {
		return err
	}
	return b.exec(b.st.setBlocked, profile)
}
