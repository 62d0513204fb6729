package main

import (
	"errors"
	"net/http"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/relay"
)

// listFailures answers a webhook's dead letters.
func (a *api) listFailures(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermManageWebhooks, "read a webhook's failures"); err != nil {
		writeError(w, err)
		return
	}
	fs, err := a.m.Relay.Failures(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, relayError(err))
		return
	}
	writeJSON(w, http.StatusOK, fs)
}

// retryFailure sends a dead letter's event again, now.
func (a *api) retryFailure(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermManageWebhooks, "retry a webhook's failures"); err != nil {
		writeError(w, err)
		return
	}
	if err := a.m.Relay.Retry(r.Context(), r.PathValue("id"), r.PathValue("event_id")); err != nil {
		writeError(w, relayError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// relayError maps the relay's errors onto the API's codes: an unknown
// webhook or dead letter is not_found, a receiver that refused again is
// unavailable, with its answer in the message.
func relayError(err error) error {
	if errors.Is(err, relay.ErrNotFound) {
		return domain.Errorf(domain.ENotFound, "%v", err)
	}
	if domain.ErrorCode(err) != domain.EInternal {
		return err
	}
	return domain.Errorf(domain.EUnavailable, "delivery failed: %v", err)
}
