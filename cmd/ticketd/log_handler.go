package main

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Page sizes of GET /v1/log.
const (
	logDefaultLimit = 1000
	logMaxLimit     = 10000
)

// logEvent is one event of the raw log as auditors see it: the envelope
// without its data, so that no message text leaves through this route.
type logEvent struct {
	Position  uint64              `json:"position"`
	Type      string              `json:"type"`
	At        time.Time           `json:"at"`
	Actor     domain.Actor        `json:"actor"`
	CommandID string              `json:"command_id"`
	Aggregate domain.AggregateKey `json:"aggregate"`
	TicketID  string              `json:"ticket_id,omitempty"`
	ProfileID string              `json:"profile_id,omitempty"`
}

// rawLog serves GET /v1/log?after=N&limit=M: the events after position N,
// in log order, for auditors replaying the log.
func (a *api) rawLog(w http.ResponseWriter, r *http.Request, user domain.User) {
	if user.Role != domain.RoleOwner && user.Role != domain.RoleAdmin {
		writeError(w, domain.Errorf(domain.EForbidden, "only an owner or an admin may read the log"))
		return
	}
	q := r.URL.Query()
	var after uint64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, domain.Errorf(domain.EInvalid, "after must be a non-negative integer, got %q", s))
			return
		}
		after = n
	}
	limit := uint64(logDefaultLimit)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < 1 || n > logMaxLimit {
			writeError(w, domain.Errorf(domain.EInvalid, "limit must be 1-%d, got %q", logMaxLimit, s))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	last, err := a.m.Log.LastSeq(ctx)
	if err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "the log is not reachable"))
		return
	}
	events := []logEvent{}
	next := after
	if after < last {
		to := min(after+limit, last)
		var bad error
		next = to
		err = a.m.Log.ReadRange(ctx, after+1, to, func(e eventstore.Entry) error {
			if e.Void {
				// Not an event: part of a batch never committed (docs/reliability.md).
				return nil
			}
			ev, err := domain.UnmarshalEvent(e.Data)
			if err != nil {
				bad = domain.Errorf(domain.EInternal, "event %d could not be decoded", e.Seq)
				return bad
			}
			events = append(events, logEvent{Position: e.Seq, Type: ev.Type, At: ev.At, Actor: ev.Actor,
				CommandID: ev.CommandID, Aggregate: ev.Aggregate, TicketID: ev.TicketID, ProfileID: ev.ProfileID})
			return nil
		})
		if err != nil {
			if bad != nil {
				writeError(w, bad)
				return
			}
			a.m.Logger.Warn("GET /v1/log: the log could not be read", "after", after, "err", err)
			writeError(w, domain.Errorf(domain.EUnavailable, "the log could not be read"))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "last_position": last, "next_after": next})
}
