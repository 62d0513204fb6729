package projections

import (
	"encoding/json"
	"time"
)

// TicketSummary is a ticket as inbox lists show it.
type TicketSummary struct {
	ID         string  `json:"id"`
	ProfileID  string  `json:"profile_id"`
	Status     string  `json:"status"`
	AssigneeID *string `json:"assignee_id"`
	Unread     bool    `json:"unread"`
	// SnoozedUntil is set only while the ticket is snoozed.
	SnoozedUntil *time.Time `json:"snoozed_until"`
	// ClosedAt is set only while the ticket is closed.
	ClosedAt      *time.Time `json:"closed_at"`
	LastMessageAt time.Time  `json:"last_message_at"`
	// WaitingSince is when the customer began to wait for an answer: the
	// time of their first message after the team's last reply. It is nil
	// when the team's reply was the last word, and while the ticket is
	// closed; a note does not answer, a snooze does not stop the wait
	// (waiting.go).
	WaitingSince *time.Time `json:"waiting_since"`
	// Preview is the first 140 characters of the latest message still
	// present (inbound or reply; never a note).
	Preview string `json:"preview"`
	// MessageCount counts the messages still present, notes included:
	// erased ones are gone.
	MessageCount int `json:"message_count"`
}

// TicketPage is one page of an inbox list. NextCursor is nil on the last
// page.
type TicketPage struct {
	Tickets    []TicketSummary `json:"tickets"`
	NextCursor *string         `json:"next_cursor"`
}

// StatusCounts counts the tickets of one view by status.
type StatusCounts struct {
	Open    int `json:"open"`
	Snoozed int `json:"snoozed"`
	Closed  int `json:"closed"`
}

// Counts counts the tickets of every view.
type Counts struct {
	All        StatusCounts `json:"all"`
	Mine       StatusCounts `json:"mine"`
	Unassigned StatusCounts `json:"unassigned"`
}

// Message is one message of a ticket's thread.
type Message struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"` // inbound, outbound or note (internal)
	Body      string    `json:"body"`
	At        time.Time `json:"at"`
	AuthorID  *string   `json:"author_id"` // the agent who replied or noted; nil for inbound
	// Status is a reply's delivery status: pending, sent, delivered or
	// failed; nil for inbound. StatusReason says why it failed, else nil.
	Status       *string `json:"status"`
	StatusReason *string `json:"status_reason"`
}

// TicketDetail is a ticket with its thread, oldest message first.
type TicketDetail struct {
	TicketSummary
	Messages []Message `json:"messages"`
}

// HistoryEntry is one event of a ticket's audit history.
type HistoryEntry struct {
	Position uint64          `json:"position"`
	Type     string          `json:"type"`
	At       time.Time       `json:"at"`
	Actor    json.RawMessage `json:"actor"`
	Data     json.RawMessage `json:"data"`
}

// ProfileView is a customer's profile.
type ProfileView struct {
	ID        string   `json:"id"`
	Phones    []string `json:"phones"`     // first used first
	Blocked   bool     `json:"blocked"`    // by id or through a phone
	TicketIDs []string `json:"ticket_ids"` // oldest first
}

// UserView is a user of the engine.
type UserView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}
