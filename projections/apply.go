package projections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// previewChars is how much of a ticket's latest message its summary shows.
const previewChars = 140

// item is one log entry, decoded on the reading goroutine so that JSON
// decoding overlaps with the SQLite writes of the previous batch.
type item struct {
	seq uint64
	ev  domain.Event
	// data is the event's payload exactly as the log holds it, for the
	// audit history.
	data json.RawMessage
	// skip marks an entry the views do not use (a type they do not know,
	// or one that cannot be read): its position still counts as applied.
	skip bool
}

var errUnknownType = errors.New("unknown event type")

// decode reads one entry. It mirrors domain.UnmarshalEvent but tells an
// unknown type (a newer writer; skipped quietly) from a malformed event,
// and keeps the payload's raw JSON.
func decode(e eventstore.Entry) (item, error) {
	var raw struct {
		domain.Event
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(e.Data, &raw); err != nil {
		return item{seq: e.Seq, skip: true}, fmt.Errorf("decode event: %w", err)
	}
	ev := raw.Event
	data, known := domain.NewEventData(ev.Type)
	if !known {
		return item{seq: e.Seq, skip: true}, fmt.Errorf("%w %q", errUnknownType, ev.Type)
	}
	if data != nil && len(raw.Data) > 0 && !bytes.Equal(raw.Data, []byte("null")) {
		if err := json.Unmarshal(raw.Data, data); err != nil {
			return item{seq: e.Seq, skip: true}, fmt.Errorf("decode event %s data: %w", ev.Type, err)
		}
	}
	if ev.At.IsZero() {
		return item{seq: e.Seq, skip: true}, fmt.Errorf("decode event %s: no time", ev.Type)
	}
	ev.Data = data
	ev.At = ev.At.UTC()
	return item{seq: e.Seq, ev: ev, data: raw.Data}, nil
}

// applier applies the events of one batch inside its transaction.
type applier struct {
	st   *statements
	keys *eventstore.Keys
	// erased is set when the batch deleted message texts: the WAL must
	// then be checkpointed and truncated.
	erased bool
}

// apply applies one event. Like domain.Profile.Apply it never refuses an
// event: one about a ticket the views do not have changes nothing. An
// error means the batch must be retried (the database or the key store
// failed), never that the event is bad.
func (a *applier) apply(ctx context.Context, it item) error {
	ev := it.ev
	if ev.TicketID != "" {
		if err := a.history(ctx, it); err != nil {
			return err
		}
	}
	profile := ev.Aggregate.ID
	switch ev.Type {
	case domain.TicketOpened:
		if err := a.exec(ctx, a.st.profile, profile); err != nil {
			return err
		}
		return a.exec(ctx, a.st.ticketOpen, ev.TicketID, profile, it.seq, nanos(ev.At))
	case domain.MessageReceived:
		return a.messageReceived(ctx, it)
	case domain.ReplySent:
		d := ev.Data.(*domain.ReplySentData)
		return a.message(ctx, it, d.MessageID, "outbound", d.Body, true, nullString(ev.Actor.UserID), false)
	case domain.TicketAssigned:
		d := ev.Data.(*domain.TicketAssignedData)
		return a.exec(ctx, a.st.assign, nullString(d.AssigneeID), ev.TicketID, profile)
	case domain.TicketSnoozed:
		d := ev.Data.(*domain.TicketSnoozedData)
		return a.exec(ctx, a.st.snooze, nanos(d.Until), ev.TicketID, profile)
	case domain.TicketWoke:
		d := ev.Data.(*domain.TicketWokeData)
		return a.exec(ctx, a.st.wake, d.Reason == domain.WakeTimer, ev.TicketID, profile)
	case domain.TicketMarkedUnread, domain.TicketMarkedRead:
		return a.exec(ctx, a.st.unread, ev.Type == domain.TicketMarkedUnread, ev.TicketID, profile)
	case domain.TicketClosed:
		d := ev.Data.(*domain.TicketClosedData)
		return a.exec(ctx, a.st.closeTicket, nanos(ev.At), d.Reason, ev.TicketID, profile)
	case domain.TicketReopened:
		return a.exec(ctx, a.st.reopen, ev.TicketID, profile)
	case domain.MessagesErased:
		return a.messagesErased(ctx, it)
	case domain.ProfileBlocked, domain.ProfileUnblocked:
		// A phone's own block is a fact about the number; it shows in the
		// views through the ProfileBlocked of each profile it blocked.
		if ev.Aggregate.Kind != domain.KindProfile {
			return nil
		}
		return a.block(ctx, ev)
	case domain.PhoneLinked:
		d := ev.Data.(*domain.PhoneLinkedData)
		if err := a.exec(ctx, a.st.profile, d.ProfileID); err != nil {
			return err
		}
		return a.exec(ctx, a.st.phone, d.ProfileID, ev.Aggregate.ID, it.seq)
	case domain.UserCreated:
		d := ev.Data.(*domain.UserCreatedData)
		return a.exec(ctx, a.st.user, d.UserID, d.Name, string(d.Role))
	}
	return nil
}

func (a *applier) messageReceived(ctx context.Context, it item) error {
	ev := it.ev
	d := ev.Data.(*domain.MessageReceivedData)
	body, err := eventstore.OpenBody(ctx, a.keys, ev.ProfileID, d)
	present := true
	switch {
	case errors.Is(err, eventstore.ErrErased):
		// The profile was blocked since: a MessagesErased for this message
		// follows in the log, so a replay ends with no row for it, exactly
		// like the live views that had it and then deleted it.
		present = false
	case err != nil:
		return fmt.Errorf("open message %s at %d: %w", d.MessageID, it.seq, err)
	}
	if d.Phone != "" {
		if err := a.exec(ctx, a.st.profile, ev.Aggregate.ID); err != nil {
			return err
		}
		if err := a.exec(ctx, a.st.phone, ev.Aggregate.ID, d.Phone, it.seq); err != nil {
			return err
		}
	}
	return a.message(ctx, it, d.MessageID, "inbound", body, present, nil, true)
}

// message adds a message row (when its text is present) and moves the
// ticket's activity time, preview and count. last_message_at counts every
// message, erased ones included: it is fixed by the log alone, so a replay
// made after a block (when the texts no longer open) sorts the inbox
// exactly as the live views did, and a block does not reorder the inbox.
func (a *applier) message(ctx context.Context, it item, id, direction, body string, present bool, author any, inbound bool) error {
	ev := it.ev
	added := 0
	if present {
		res, err := a.st.message.ExecContext(ctx, it.seq, id, ev.TicketID, direction, body, nanos(ev.At), author, ev.Aggregate.ID)
		if err != nil {
			return fmt.Errorf("add message %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added = 1
		}
	}
	return a.exec(ctx, a.st.messageTouch, nanos(ev.At), inbound, added, preview(body), ev.TicketID, ev.Aggregate.ID)
}

func (a *applier) messagesErased(ctx context.Context, it item) error {
	ev := it.ev
	d := ev.Data.(*domain.MessagesErasedData)
	for _, id := range d.MessageIDs {
		if err := a.exec(ctx, a.st.eraseMessage, id, ev.TicketID); err != nil {
			return err
		}
	}
	a.erased = true
	var latest string
	err := a.st.latest.QueryRowContext(ctx, ev.TicketID).Scan(&latest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("latest message of %s: %w", ev.TicketID, err)
	}
	return a.exec(ctx, a.st.recount, preview(latest), ev.TicketID)
}

// block mirrors domain.Profile's set of block causes: a block adds its
// cause ("" for a block by id, else the phone), an unblock by phone removes
// that phone, an unblock by id removes them all.
func (a *applier) block(ctx context.Context, ev domain.Event) error {
	profile := ev.Aggregate.ID
	if err := a.exec(ctx, a.st.profile, profile); err != nil {
		return err
	}
	if ev.Type == domain.ProfileBlocked {
		d := ev.Data.(*domain.ProfileBlockedData)
		if err := a.exec(ctx, a.st.blockCause, profile, d.Phone); err != nil {
			return err
		}
	} else {
		d := ev.Data.(*domain.ProfileUnblockedData)
		if err := a.exec(ctx, a.st.unblockCause, profile, d.Phone); err != nil {
			return err
		}
	}
	return a.exec(ctx, a.st.setBlocked, profile)
}

// history records a ticket's event for auditors. An inbound message is
// recorded without its sealed text: the views hold no ciphertext, and the
// plaintext is kept only in messages, where a block deletes it.
func (a *applier) history(ctx context.Context, it item) error {
	ev := it.ev
	actor, err := json.Marshal(ev.Actor)
	if err != nil {
		return fmt.Errorf("history %d: %w", it.seq, err)
	}
	data := []byte(it.data)
	if d, ok := ev.Data.(*domain.MessageReceivedData); ok {
		c := *d
		c.Sealed = nil
		if data, err = json.Marshal(&c); err != nil {
			return fmt.Errorf("history %d: %w", it.seq, err)
		}
	}
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	}
	return a.exec(ctx, a.st.history, it.seq, ev.TicketID, ev.Type, nanos(ev.At), string(actor), string(data))
}

func (a *applier) exec(ctx context.Context, st *sql.Stmt, args ...any) error {
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

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

// nullString maps "" to SQL NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// applyBatch applies a batch in one transaction that also stores its last
// position, and returns that position (0 when every event of the batch was
// applied already). erased reports deleted message texts.
func (db *DB) applyBatch(ctx context.Context, keys *eventstore.Keys, batch []item) (last uint64, erased bool, err error) {
	start := db.pos.Load()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("apply batch: %w", err)
	}
	defer tx.Rollback()
	a := applier{st: db.stmts.inTx(ctx, tx), keys: keys}
	for _, it := range batch {
		// Positions at or below the stored one are in the file already:
		// this is what makes a resumed or overlapping read harmless.
		if it.seq <= start || it.seq <= last {
			continue
		}
		if !it.skip {
			if err := a.apply(ctx, it); err != nil {
				return 0, false, fmt.Errorf("apply event at %d (%s): %w", it.seq, it.ev.Type, err)
			}
		}
		last = it.seq
	}
	if last == 0 {
		return 0, false, nil
	}
	if _, err := a.st.position.ExecContext(ctx, last); err != nil {
		return 0, false, fmt.Errorf("apply batch: store position: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("apply batch: commit: %w", err)
	}
	db.pos.Store(last)
	return last, a.erased, nil
}
