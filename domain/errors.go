// Package domain holds Ticketbus's ticket rules as pure code: commands are
// decided against state rebuilt from events, and Apply only changes state.
// It imports only the standard library and uuid, never reads a clock and
// does no I/O, so a replay of the log always rebuilds the same state.
package domain

import (
	"errors"
	"fmt"
)

// Error codes, as the command API returns them. Callers branch on the code,
// never on the message.
const (
	EInvalid         = "invalid_argument"
	EUnauthenticated = "unauthenticated"
	EForbidden       = "forbidden"
	ENotFound        = "not_found"
	ETicketClosed    = "ticket_closed"
	EConflict        = "conflict"
	EUnavailable     = "unavailable"
	EInternal        = "internal"
)

// Error is the one error type the engine shows its callers: a code to branch
// on and a message that tells the user what was wrong.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrTicketClosed) true for any ticket_closed error,
// whatever its message: the sentinels below carry a code and no message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for the codes callers branch on.
var (
	ErrInvalid         = &Error{Code: EInvalid}
	ErrUnauthenticated = &Error{Code: EUnauthenticated}
	ErrForbidden       = &Error{Code: EForbidden}
	ErrNotFound        = &Error{Code: ENotFound}
	ErrTicketClosed    = &Error{Code: ETicketClosed}
	ErrConflict        = &Error{Code: EConflict}
	ErrUnavailable     = &Error{Code: EUnavailable}
)

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EInternal for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err: the message of its
// *Error, or a generic text that leaks nothing of an internal failure.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
