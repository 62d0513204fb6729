package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// The checks below are written out rather than as regular expressions:
// they run on every command, and a regexp match cost more than the rest of
// validation together.

// ValidProfileID reports whether s is a well-formed profile id: 1 to 128
// of A-Z, a-z, 0-9 and . _ : @ + -.
func ValidProfileID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:@+-", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidPhone reports whether s is an E.164 number: + and 8 to 15 digits.
func ValidPhone(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidUUID reports whether s is a lower-case canonical UUID. Upper case is
// refused rather than folded, so one id has one spelling (R9).
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func checkMeta(m Meta) error {
	if m.CommandID != "" && !ValidUUID(m.CommandID) {
		return Errorf(EInvalid, "command_id must be a lower-case UUID, got %s", QuoteShort(m.CommandID))
	}
	return nil
}

func checkTicketID(id string) error {
	if id == "" {
		return Errorf(EInvalid, "ticket_id is required")
	}
	if !ValidUUID(id) {
		return Errorf(EInvalid, "ticket_id must be a lower-case UUID, got %s", QuoteShort(id))
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
		return Errorf(EInvalid, "profile_id must be 1-128 characters of [A-Za-z0-9._:@+-], got %s", QuoteShort(c.ProfileID))
	}
	if err := checkBody(c.Body); err != nil {
		return err
	}
	if c.Phone != "" && !ValidPhone(c.Phone) {
		return Errorf(EInvalid, "phone must be E.164 (+ then 8-15 digits), got %s", QuoteShort(c.Phone))
	}
	if len(c.MessageID) > 256 || strings.ContainsFunc(c.MessageID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(EInvalid, "message_id must be at most 256 printable characters")
	}
	switch c.Channel {
	case "", ChannelSMS, ChannelEmail, ChannelChat:
	default:
		return Errorf(EInvalid, "channel must be sms, email or chat, got %s", QuoteShort(c.Channel))
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
		return Errorf(EInvalid, "assignee_id must be a user id or null, got %s", QuoteShort(*c.AssigneeID))
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
			return Errorf(EInvalid, "duration must be like 90m or 72h, got %s", QuoteShort(c.Duration))
		}
		if d <= 0 || d > MaxSnooze {
			return Errorf(EInvalid, "duration must be above 0 and at most 366 days, got %s", QuoteShort(c.Duration))
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
		return Errorf(EInvalid, "profile_id must be 1-128 characters of [A-Za-z0-9._:@+-], got %s", QuoteShort(c.ProfileID))
	case c.Phone != "" && !ValidPhone(c.Phone):
		return Errorf(EInvalid, "phone must be E.164 (+ then 8-15 digits), got %s", QuoteShort(c.Phone))
	}
	return nil
}
