package domain

import (
	"strings"
	"unicode/utf8"
)

// Reply delivery statuses (spec section 7): pending once written, sent
// once a webhook took it, then delivered or failed as the gateway reports.
const (
	ReplyPending   = "pending"
	ReplySentOut   = "sent"
	ReplyDelivered = "delivered"
	ReplyFailed    = "failed"
)

// replyRank orders the statuses: a change is recorded only forward, so a
// late "sent" never hides a "delivered", and a final status stays final.
var replyRank = map[string]int{ReplyPending: 0, ReplySentOut: 1, ReplyDelivered: 2, ReplyFailed: 2}

// MaxReasonChars bounds a failure's reason.
const MaxReasonChars = 500

// ReplyStatus is a gateway's report on a reply's delivery.
type ReplyStatus struct {
	Meta
	ReplyID string `json:"reply_id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	// HandedOver marks the relay's own record that a webhook took the
	// reply (sent) or that none could (failed): the engine's command,
	// never decoded from a body.
	HandedOver bool `json:"-"`
}

// Name implements Command.
func (c ReplyStatus) Name() string {
	if c.HandedOver {
		return CmdReplyHandedOver
	}
	return CmdReplyStatus
}

// Targets implements Command.
func (c ReplyStatus) Targets() Targets { return Targets{ReplyID: c.ReplyID} }

// Validate implements Command: a gateway reports delivered or failed, the
// relay (HandedOver) sent or failed.
func (c ReplyStatus) Validate() error {
	allowed := []string{ReplyDelivered, ReplyFailed}
	if c.HandedOver {
		allowed = []string{ReplySentOut, ReplyFailed}
	}
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	if !ValidUUID(c.ReplyID) {
		return Errorf(EInvalid, "reply_id must be a lower-case UUID, got %s", QuoteShort(c.ReplyID))
	}
	ok := false
	for _, s := range allowed {
		ok = ok || c.Status == s
	}
	if !ok {
		return Errorf(EInvalid, "status must be %s, got %s", strings.Join(allowed, " or "), QuoteShort(c.Status))
	}
	if c.Status == ReplyFailed && strings.TrimSpace(c.Reason) == "" {
		return Errorf(EInvalid, "reason is required when status is failed")
	}
	if c.Status != ReplyFailed && c.Reason != "" {
		return Errorf(EInvalid, "reason is given only when status is failed")
	}
	if utf8.RuneCountInString(c.Reason) > MaxReasonChars || strings.ContainsFunc(c.Reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(EInvalid, "reason must be at most %d printable characters", MaxReasonChars)
	}
	return nil
}

// DecideReplyStatus records a reply's new delivery status. A status that
// is not ahead of the current one changes nothing and is no error: a
// gateway may report twice, and reports may cross the relay's.
func DecideReplyStatus(p *Profile, cmd ReplyStatus, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	var t *Ticket
	var cur string
	for _, tt := range p.Tickets {
		if s, ok := tt.ReplyStatus[cmd.ReplyID]; ok {
			t, cur = tt, s
			break
		}
	}
	if t == nil {
		return Decision{}, Errorf(ENotFound, "reply %s not found", cmd.ReplyID)
	}
	if replyRank[cmd.Status] <= replyRank[cur] {
		return Decision{Outcome: OutcomeDone, ProfileID: t.ProfileID, TicketID: t.ID}, nil
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	b.ticket(ReplyStatusChanged, t, &ReplyStatusChangedData{ReplyID: cmd.ReplyID, Status: cmd.Status, Reason: cmd.Reason})
	return done(t, b), nil
}
