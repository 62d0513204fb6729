package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

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
