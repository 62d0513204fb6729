package domain

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

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
)

// CommandNames lists every command of the API.
var CommandNames = []string{CmdInbound, CmdReply, CmdAssign, CmdSnooze, CmdUnsnooze,
	CmdMarkUnread, CmdMarkRead, CmdClose, CmdBlock, CmdUnblock}

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
	// Permission returns the role-table column the command needs.
	Permission() Permission
	// Validate checks the fields alone, without state.
	Validate() error
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

// Permission implements Command: only inbound messages are open to
// integrations; everything else is a ticket or profile command.
func (Inbound) Permission() Permission       { return PermInbound }
func (Reply) Permission() Permission         { return PermTicketCommands }
func (Assign) Permission() Permission        { return PermTicketCommands }
func (Snooze) Permission() Permission        { return PermTicketCommands }
func (TicketCommand) Permission() Permission { return PermTicketCommands }
func (BlockTarget) Permission() Permission   { return PermTicketCommands }

var (
	profileIDRe = regexp.MustCompile(`^[A-Za-z0-9._:@+-]{1,128}$`)
	phoneRe     = regexp.MustCompile(`^\+[0-9]{8,15}$`)
	uuidRe      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// ValidProfileID reports whether s is a well-formed profile id.
func ValidProfileID(s string) bool { return profileIDRe.MatchString(s) }

// ValidPhone reports whether s is an E.164 number.
func ValidPhone(s string) bool { return phoneRe.MatchString(s) }

// ValidUUID reports whether s is a lower-case canonical UUID. Upper case is
// refused rather than folded, so one id has one spelling (R9).
func ValidUUID(s string) bool { return uuidRe.MatchString(s) }

func checkMeta(m Meta) error {
	if m.CommandID != "" && !ValidUUID(m.CommandID) {
		return Errorf(EInvalid, "command_id must be a lower-case UUID, got %q", m.CommandID)
	}
	return nil
}

func checkTicketID(id string) error {
	if id == "" {
		return Errorf(EInvalid, "ticket_id is required")
	}
	if !ValidUUID(id) {
		return Errorf(EInvalid, "ticket_id must be a lower-case UUID, got %q", id)
	}
	return nil
}

func checkBody(body string) error {
	n := utf8.RuneCountInString(body)
	if n == 0 || strings.TrimSpace(body) == "" {
		return Errorf(EInvalid, "body is required")
	}
	if n > MaxBodyChars {
		return Errorf(EInvalid, "body must be at most %d characters, got %d", MaxBodyChars, n)
	}
	for _, r := range body {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return Errorf(EInvalid, "body must not hold control character U+%04X", r)
		}
	}
	return nil
}

// Validate implements Command.
func (c Inbound) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	if !ValidProfileID(c.ProfileID) {
		return Errorf(EInvalid, "profile_id must be 1-128 characters of [A-Za-z0-9._:@+-], got %q", c.ProfileID)
	}
	if err := checkBody(c.Body); err != nil {
		return err
	}
	if c.Phone != "" && !ValidPhone(c.Phone) {
		return Errorf(EInvalid, "phone must be E.164 (+ then 8-15 digits), got %q", c.Phone)
	}
	if len(c.MessageID) > 256 || strings.ContainsFunc(c.MessageID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(EInvalid, "message_id must be at most 256 printable characters")
	}
	switch c.Channel {
	case "", ChannelSMS, ChannelEmail, ChannelChat:
	default:
		return Errorf(EInvalid, "channel must be sms, email or chat, got %q", c.Channel)
	}
	return nil
}

// Validate implements Command.
func (c Reply) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	if err := checkTicketID(c.TicketID); err != nil {
		return err
	}
	return checkBody(c.Body)
}

// Validate implements Command.
func (c Assign) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	if err := checkTicketID(c.TicketID); err != nil {
		return err
	}
	if c.AssigneeID != nil && !ValidUUID(*c.AssigneeID) {
		return Errorf(EInvalid, "assignee_id must be a user id or null, got %q", *c.AssigneeID)
	}
	return nil
}

// Validate implements Command.
func (c Snooze) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	if err := checkTicketID(c.TicketID); err != nil {
		return err
	}
	if (c.Until == nil) == (c.Duration == "") {
		return Errorf(EInvalid, "snooze needs exactly one of until or duration")
	}
	if c.Duration != "" {
		d, err := time.ParseDuration(c.Duration)
		if err != nil {
			return Errorf(EInvalid, "duration must be like 90m or 72h, got %q", c.Duration)
		}
		if d <= 0 || d > MaxSnooze {
			return Errorf(EInvalid, "duration must be above 0 and at most 366 days, got %s", c.Duration)
		}
	}
	return nil
}

// Validate implements Command.
func (c TicketCommand) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	return checkTicketID(c.TicketID)
}

// Validate implements Command.
func (c BlockTarget) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	switch {
	case (c.ProfileID == "") == (c.Phone == ""):
		return Errorf(EInvalid, "give exactly one of profile_id or phone")
	case c.ProfileID != "" && !ValidProfileID(c.ProfileID):
		return Errorf(EInvalid, "profile_id must be 1-128 characters of [A-Za-z0-9._:@+-], got %q", c.ProfileID)
	case c.Phone != "" && !ValidPhone(c.Phone):
		return Errorf(EInvalid, "phone must be E.164 (+ then 8-15 digits), got %q", c.Phone)
	}
	return nil
}

// DecodeCommand parses and validates one command body. Anything malformed
// (invalid UTF-8, unknown or mistyped fields, trailing data, oversize
// bodies, unknown names) is an invalid_argument error.
func DecodeCommand(name string, body []byte) (Command, error) {
	if len(body) > MaxCommandBytes {
		return nil, Errorf(EInvalid, "command body is %d bytes, at most %d allowed", len(body), MaxCommandBytes)
	}
	if !utf8.Valid(body) {
		return nil, Errorf(EInvalid, "command body is not valid UTF-8")
	}
	var cmd Command
	var err error
	switch name {
	case CmdInbound:
		cmd, err = decodeInto[Inbound](body)
	case CmdReply:
		cmd, err = decodeInto[Reply](body)
	case CmdAssign:
		cmd, err = decodeAssign(body)
	case CmdSnooze:
		cmd, err = decodeInto[Snooze](body)
	case CmdUnsnooze:
		cmd, err = decodeInto[Unsnooze](body)
	case CmdMarkUnread:
		cmd, err = decodeInto[MarkUnread](body)
	case CmdMarkRead:
		cmd, err = decodeInto[MarkRead](body)
	case CmdClose:
		cmd, err = decodeInto[Close](body)
	case CmdBlock:
		cmd, err = decodeInto[Block](body)
	case CmdUnblock:
		cmd, err = decodeInto[Unblock](body)
	default:
		return nil, Errorf(EInvalid, "unknown command %q", name)
	}
	if err != nil {
		return nil, err
	}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	return cmd, nil
}

func decodeInto[T Command](body []byte) (Command, error) {
	var v T
	if err := strictUnmarshal(body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeAssign tells a missing assignee_id from an explicit null: only
// null unassigns.
func decodeAssign(body []byte) (Command, error) {
	var c Assign
	if err := strictUnmarshal(body, &c); err != nil {
		return nil, err
	}
	var present map[string]json.RawMessage
	_ = json.Unmarshal(body, &present)
	if _, ok := present["assignee_id"]; !ok {
		return nil, Errorf(EInvalid, "assignee_id is required (a user id, or null to unassign)")
	}
	return c, nil
}
