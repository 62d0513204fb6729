package domain

import "time"

// Command names, as they appear in tickets.cmd.<name> and
// POST /v1/commands/<name>.
const (
	CmdInbound    = "inbound"
	CmdReply      = "reply"
	CmdAssign     = "assign"
	CmdSnooze     = "snooze"
	CmdUnsnooze   = "unsnooze"
	CmdMarkUnread = "mark_unread"
	CmdMarkRead   = "mark_read"
	CmdClose      = "close"
	CmdBlock      = "block"
	CmdUnblock    = "unblock"
	// CmdReplyStatus is a gateway's report on a reply's delivery.
	CmdReplyStatus = "reply_status"
	// CmdNote adds an agent's internal note to a ticket.
	CmdNote = "note"
	// CmdWake is the timer's wake-up of a snoozed ticket: the engine's own
	// command, never the API's.
	CmdWake = "wake"
	// CmdReplyHandedOver records that a webhook took a reply, or that none
	// could: the relay's, never the API's.
	CmdReplyHandedOver = "reply_handed_over"
)

// MaxBodyChars bounds a message text (R2, section 3).
const MaxBodyChars = 10000

// MaxCommandBytes bounds an encoded command; anything larger is rejected
// before it is parsed. A body of 10000 characters written as JSON surrogate
// escapes takes 120 KB, so the bound leaves room for that.
const MaxCommandBytes = 256 << 10

// Command is any command of the API. Fields are validated by Validate
// before a command is decided.
type Command interface {
	// Name returns the command's API name.
	Name() string
	// ID returns the producer's command_id, or "".
	ID() string
	// Validate checks the fields alone, without state.
	Validate() error
	// Targets names the aggregates the command is decided against.
	Targets() Targets
}

// Meta holds what every command carries.
type Meta struct {
	CommandID string `json:"command_id,omitempty"`
}

// ID returns the command_id.
func (m Meta) ID() string { return m.CommandID }

// Inbound is a customer's message arriving from a gateway.
type Inbound struct {
	Meta
	ProfileID string `json:"profile_id"`
	Body      string `json:"body"`
	Phone     string `json:"phone,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Channel   string `json:"channel,omitempty"`
}

// Reply is an agent's answer on a ticket.
type Reply struct {
	Meta
	TicketID string `json:"ticket_id"`
	Body     string `json:"body"`
}

// Assign sets or clears a ticket's assignee.
type Assign struct {
	Meta
	TicketID   string  `json:"ticket_id"`
	AssigneeID *string `json:"assignee_id"`
}

// Snooze hides a ticket until a time, given as Until or as Duration.
type Snooze struct {
	Meta
	TicketID string     `json:"ticket_id"`
	Until    *time.Time `json:"until,omitempty"`
	Duration string     `json:"duration,omitempty"`
}

// TicketCommand is the body of the commands that name only a ticket.
type TicketCommand struct {
	Meta
	TicketID string `json:"ticket_id"`
}

// Unsnooze wakes a snoozed ticket by hand.
type Unsnooze struct{ TicketCommand }

// MarkUnread sets a ticket's blue dot.
type MarkUnread struct{ TicketCommand }

// MarkRead clears a ticket's blue dot.
type MarkRead struct{ TicketCommand }

// Close archives a ticket.
type Close struct{ TicketCommand }

// BlockTarget names a profile or a phone, exactly one of them.
type BlockTarget struct {
	Meta
	ProfileID string `json:"profile_id,omitempty"`
	Phone     string `json:"phone,omitempty"`
}

// Block blocks a profile or a phone number (R6).
type Block struct{ BlockTarget }

// Unblock lets a profile or phone write in again.
type Unblock struct{ BlockTarget }

// Name implements Command.
func (Inbound) Name() string    { return CmdInbound }
func (Reply) Name() string      { return CmdReply }
func (Assign) Name() string     { return CmdAssign }
func (Snooze) Name() string     { return CmdSnooze }
func (Unsnooze) Name() string   { return CmdUnsnooze }
func (MarkUnread) Name() string { return CmdMarkUnread }
func (MarkRead) Name() string   { return CmdMarkRead }
func (Close) Name() string      { return CmdClose }
func (Block) Name() string      { return CmdBlock }
func (Unblock) Name() string    { return CmdUnblock }

// Wake is the timer's wake-up of a snoozed ticket (R4, R5).
type Wake struct{ TicketCommand }

// Name implements Command.
func (Wake) Name() string { return CmdWake }

// Targets implements Command.
func (c Inbound) Targets() Targets {
	return Targets{ProfileID: c.ProfileID, Phone: c.Phone, MessageID: c.MessageID}
}
func (c Reply) Targets() Targets         { return Targets{TicketID: c.TicketID} }
func (c Snooze) Targets() Targets        { return Targets{TicketID: c.TicketID} }
func (c TicketCommand) Targets() Targets { return Targets{TicketID: c.TicketID} }
func (c BlockTarget) Targets() Targets {
	return Targets{ProfileID: c.ProfileID, Phone: c.Phone, Linked: c.Phone != ""}
}
func (c Assign) Targets() Targets {
	t := Targets{TicketID: c.TicketID}
	// An assignee id that is no UUID is not looked up: Decide refuses it.
	if c.AssigneeID != nil && ValidUUID(*c.AssigneeID) {
		t.UserID = *c.AssigneeID
	}
	return t
}
