package engine

import (
	"context"
	"strings"

	"github.com/ticketbus/ticketbus/domain"
)

// Reply is the JSON answer to every command, over NATS and HTTP alike.
type Reply struct {
	OK        bool        `json:"ok"`
	TicketID  *string     `json:"ticket_id,omitempty"`
	ProfileID *string     `json:"profile_id,omitempty"`
	Outcome   string      `json:"outcome,omitempty"`
	Position  *uint64     `json:"position,omitempty"`
	Error     *ReplyError `json:"error,omitempty"`
}

// ReplyError is the error part of a failed Reply.
type ReplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewReply builds the reply for a command's result or error.
func NewReply(res Result, err error) Reply {
	if err != nil {
		return Reply{Error: &ReplyError{Code: domain.ErrorCode(err), Message: domain.ErrorMessage(err)}}
	}
	pos := res.Position
	return Reply{OK: true, TicketID: nullable(res.TicketID), ProfileID: nullable(res.ProfileID), Outcome: res.Outcome, Position: &pos}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AuthenticateHeader authenticates an Authorization header's value,
// "Bearer <token>".
func (e *Engine) AuthenticateHeader(ctx context.Context, authorization string) (domain.User, error) {
	token, ok := strings.CutPrefix(strings.TrimSpace(authorization), "Bearer ")
	if !ok && authorization != "" {
		return domain.User{}, domain.Errorf(domain.EUnauthenticated, "the Authorization header must be \"Bearer <token>\"")
	}
	return e.Authenticate(ctx, strings.TrimSpace(token))
}

// HandleAs decodes and runs one command of an authenticated caller,
// whatever transport it came by. It never panics on bad input: everything
// malformed is an invalid_argument error.
func (e *Engine) HandleAs(ctx context.Context, user domain.User, name string, body []byte) (Result, error) {
	perm, known := domain.CommandPermission(name)
	if !known {
		// A label made of whatever name a caller sends would let anyone
		// grow the metric without bound.
		err := domain.Errorf(domain.EInvalid, "unknown command %s", domain.QuoteShort(name))
		e.cfg.Metrics.observeCommand("unknown", Result{}, err, 0)
		return Result{}, err
	}
	if err := user.Role.Authorize(perm, "send "+name); err != nil {
		e.cfg.Metrics.observeCommand(name, Result{}, err, 0)
		return Result{}, err
	}
	cmd, err := domain.DecodeCommand(name, body)
	if err != nil {
		e.cfg.Metrics.observeCommand(name, Result{}, err, 0)
		return Result{}, err
	}
	spec, _ := domain.Spec(name)
	return e.run(ctx, domain.Actor{UserID: user.ID, Role: user.Role}, spec, cmd)
}
