package domain

import "time"

// Status is a ticket's state in the inbox.
type Status string

// Statuses.
const (
	StatusOpen    Status = "open"
	StatusSnoozed Status = "snoozed"
	StatusClosed  Status = "closed"
)

// ReopenWindow is how long after its close a ticket is reopened by the
// customer writing again (R2.3). The bound is inclusive.
const ReopenWindow = 72 * time.Hour

// MaxSnooze is the farthest a snooze may reach (R4).
const MaxSnooze = 366 * 24 * time.Hour

// Ticket is one conversation with one profile, as the rules need it. Message
// texts are not kept: no rule depends on them.
type Ticket struct {
	ID           string
	ProfileID    string
	Status       Status
	AssigneeID   string
	Unread       bool
	SnoozedUntil time.Time
	ClosedAt     time.Time
	CloseReason  string
	// Inbound lists the ids of the inbound messages not erased.
	Inbound []string
	Replies int
	// Channel is the one the customer opened the ticket on, Phone the
	// number they last wrote from: where replies go.
	Channel string `json:",omitempty"`
	Phone   string `json:",omitempty"`
	// ReplyStatus holds each reply's delivery status, by reply id.
	ReplyStatus map[string]string `json:",omitempty"`
}

// StatusAt is the status a reader sees at time now: a snooze past its
// until is open even before its wake-up event is written (R4).
func (t *Ticket) StatusAt(now time.Time) Status {
	if t.Status == StatusSnoozed && !now.Before(t.SnoozedUntil) {
		return StatusOpen
	}
	return t.Status
}

// Active reports whether the ticket counts for R1 (open or snoozed).
func (t *Ticket) Active() bool { return t.Status != StatusClosed }

func (t *Ticket) apply(e Event) {
	switch e.Type {
	case TicketOpened:
		t.Status = StatusOpen
		if d, ok := e.Data.(*TicketOpenedData); ok {
			t.Channel = d.Channel
		}
	case MessageReceived:
		d := payload[MessageReceivedData](e)
		t.Inbound = append(t.Inbound, d.MessageID)
		if d.Phone != "" {
			t.Phone = d.Phone
		}
		t.Unread = true
	case ReplySent:
		t.Replies++
		if t.ReplyStatus == nil {
			t.ReplyStatus = map[string]string{}
		}
		t.ReplyStatus[payload[ReplySentData](e).MessageID] = ReplyPending
	case ReplyStatusChanged:
		d := payload[ReplyStatusChangedData](e)
		if _, ok := t.ReplyStatus[d.ReplyID]; ok {
			t.ReplyStatus[d.ReplyID] = d.Status
		}
	case TicketAssigned:
		t.AssigneeID = payload[TicketAssignedData](e).AssigneeID
	case TicketSnoozed:
		t.Status = StatusSnoozed
		t.SnoozedUntil = payload[TicketSnoozedData](e).Until
	case TicketWoke:
		t.Status = StatusOpen
		t.SnoozedUntil = time.Time{}
		if payload[TicketWokeData](e).Reason == WakeTimer {
			t.Unread = true
		}
	case TicketMarkedUnread:
		t.Unread = true
	case TicketMarkedRead:
		t.Unread = false
	case TicketClosed:
		t.Status = StatusClosed
		t.SnoozedUntil = time.Time{}
		t.ClosedAt = e.At
		t.CloseReason = payload[TicketClosedData](e).Reason
	case TicketReopened:
		t.Status = StatusOpen
		t.ClosedAt = time.Time{}
		t.CloseReason = ""
	case MessagesErased:
		gone := map[string]bool{}
		for _, id := range payload[MessagesErasedData](e).MessageIDs {
			gone[id] = true
		}
		kept := t.Inbound[:0]
		for _, id := range t.Inbound {
			if !gone[id] {
				kept = append(kept, id)
			}
		}
		t.Inbound = kept
	}
}
