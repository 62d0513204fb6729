package main

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/natsapi"
	"github.com/ticketbus/ticketbus/projections"
)

// command serves POST /v1/commands/{name}: the same handling, and the same
// reply, as a NATS request on tickets.cmd.<name>. The caller is
// authenticated before the body is read, so that no one without a token
// holds a connection by sending a body slowly.
func (a *api) command(w http.ResponseWriter, r *http.Request, user domain.User) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, domain.Errorf(domain.EInvalid, "command body is over %d bytes", tooBig.Limit))
			return
		}
		writeError(w, domain.Errorf(domain.EInvalid, "could not read the command body"))
		return
	}
	res, err := a.m.Engine.HandleAs(r.Context(), user, r.PathValue("name"), body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, engine.NewReply(res, nil))
}

// tickets serves GET /v1/tickets: an inbox list, or with q a search
// (spec section 8), which looks in every status unless one is given; both
// sorted newest first or longest waiting first.
func (a *api) tickets(w http.ResponseWriter, r *http.Request, user domain.User) {
	q := r.URL.Query()
	tq := projections.TicketQuery{View: q.Get("view"), Status: q.Get("status"), Cursor: q.Get("cursor"), Q: q.Get("q"),
		Sort: q.Get("sort"), UserID: user.ID, Now: a.now()}
	if tq.View == "" {
		tq.View = "all"
	}
	search := strings.TrimSpace(tq.Q) != ""
	if tq.Status == "" && !search {
		tq.Status = "open"
	}
	switch tq.View {
	case "all", "mine", "unassigned":
	default:
		writeError(w, domain.Errorf(domain.EInvalid, "view must be all, mine or unassigned, got %s", domain.QuoteShort(tq.View)))
		return
	}
	switch tq.Status {
	case "open", "snoozed", "closed":
	case "":
	default:
		writeError(w, domain.Errorf(domain.EInvalid, "status must be open, snoozed or closed, got %s", domain.QuoteShort(tq.Status)))
		return
	}
	switch tq.Sort {
	case "":
		tq.Sort = projections.SortNewest
	case projections.SortNewest, projections.SortWaiting:
	default:
		writeError(w, domain.Errorf(domain.EInvalid, "sort must be newest or waiting, got %s", domain.QuoteShort(tq.Sort)))
		return
	}
	tq.Limit = 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			writeError(w, domain.Errorf(domain.EInvalid, "limit must be 1-500, got %s", domain.QuoteShort(s)))
			return
		}
		tq.Limit = n
	}
	page, err := a.m.Views.Tickets(r.Context(), tq)
	if err != nil {
		writeError(w, queryError(err))
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) counts(w http.ResponseWriter, r *http.Request, user domain.User) {
	c, err := a.m.Views.Counts(r.Context(), user.ID, a.now())
	if err != nil {
		writeError(w, queryError(err))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *api) ticket(w http.ResponseWriter, r *http.Request, _ domain.User) {
	t, err := a.m.Views.Ticket(r.Context(), r.PathValue("id"), a.now())
	if err != nil {
		writeError(w, queryError(err))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *api) ticketEvents(w http.ResponseWriter, r *http.Request, _ domain.User) {
	evs, err := a.m.Views.TicketEvents(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, queryError(err))
		return
	}
	writeJSON(w, http.StatusOK, evs)
}

// profileReply is a profile with how far the erasure of its messages has
// gone (docs/erasure.md): none, pending, complete or unverified.
type profileReply struct {
	projections.ProfileView
	Erasure string `json:"erasure"`
}

func (a *api) profile(w http.ResponseWriter, r *http.Request, _ domain.User) {
	p, err := a.m.Views.Profile(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, queryError(err))
		return
	}
	state, err := a.m.Engine.ErasureState(r.Context(), p.ID)
	if err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "the key store cannot be read right now"))
		return
	}
	if state == eventstore.ErasureKeyLive {
		// A blocked profile's key not yet destroyed: the engine retries.
		state = eventstore.ErasureNone
		if p.Blocked {
			state = eventstore.ErasurePending
		}
	}
	writeJSON(w, http.StatusOK, profileReply{p, state})
}

// erasure serves GET /v1/erasure: where erasures stand on every replica.
func (a *api) erasure(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermManageUsers, "read the erasure status"); err != nil {
		writeError(w, err)
		return
	}
	st, err := a.m.Engine.ErasureStatus(r.Context())
	if err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "the key store cannot be read right now"))
		return
	}
	waiting := st.Waiting
	if waiting == nil {
		waiting = []string{}
	}
	var confirmedAt *time.Time
	if !st.ConfirmedAt.IsZero() {
		confirmedAt = &st.ConfirmedAt
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"pending": st.Pending, "waiting_for": waiting,
		"keyring_generation": st.Gen, "last_note_rotated": st.Covered,
		"last_note_confirmed": st.Confirmed, "confirmed_at": confirmedAt,
	})
}

func (a *api) me(w http.ResponseWriter, _ *http.Request, user domain.User) {
	writeJSON(w, http.StatusOK, map[string]any{"id": user.ID, "name": user.Name, "role": user.Role,
		"nats_inbox_prefix": natsapi.InboxPrefix(user.ID)})
}

// listUsers serves GET /v1/users to every inbox role, so that pages and
// tools show teammates' names (spec section 8); no token is in the views.
func (a *api) listUsers(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermInboxRead, "list users"); err != nil {
		writeError(w, err)
		return
	}
	if err := a.waitMinPosition(r); err != nil {
		writeError(w, err)
		return
	}
	users, err := a.m.Views.Users(r.Context())
	if err != nil {
		writeError(w, queryError(err))
		return
	}
	writeJSON(w, http.StatusOK, users)
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request, user domain.User) {
	var in struct {
		Name string      `json:"name"`
		Role domain.Role `json:"role"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeError(w, err)
		return
	}
	u, token, err := a.m.Engine.CreateUser(r.Context(), user, in.Name, in.Role)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": u.ID, "name": u.Name, "role": u.Role, "token": token})
}

func (a *api) rebuildViews(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermManageUsers, "rebuild the views"); err != nil {
		writeError(w, err)
		return
	}
	if err := a.m.Views.Rebuild(r.Context()); err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "rebuild failed: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "position": a.m.Views.Position()})
}

func (a *api) verifyViews(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermManageUsers, "verify the views"); err != nil {
		writeError(w, err)
		return
	}
	diffs, err := a.m.Views.Verify(r.Context())
	if err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "verify failed: %v", err))
		return
	}
	if diffs == nil {
		diffs = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "position": a.m.Views.Position(), "differences": diffs})
}

// advanceClock moves the -test-clock forward and fires what fell due.
func (a *api) advanceClock(w http.ResponseWriter, r *http.Request, user domain.User) {
	if a.m.Clock == nil {
		writeError(w, domain.Errorf(domain.ENotFound, "the test clock is off; start ticketd with -test-clock"))
		return
	}
	if user.Role != domain.RoleOwner {
		writeError(w, domain.Errorf(domain.EForbidden, "only an owner may move the test clock"))
		return
	}
	var in struct {
		Duration string `json:"duration"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeError(w, err)
		return
	}
	d, err := time.ParseDuration(in.Duration)
	if err != nil || d < 0 {
		writeError(w, domain.Errorf(domain.EInvalid, "duration must be a non-negative Go duration such as 73h, got %s", domain.QuoteShort(in.Duration)))
		return
	}
	now := a.m.Clock.Advance(d)
	woke, err := a.m.Engine.Wake(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	// The log's end after the wake-ups lets the caller read its writes
	// with min_position.
	last, err := a.m.Log.LastSeq(r.Context())
	if err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "the log cannot be read right now"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"now": now, "woke": woke, "position": last})
}

func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return domain.Errorf(domain.EInvalid, "body is over %d bytes", tooBig.Limit)
		}
		return domain.Errorf(domain.EInvalid, "could not read the body")
	}
	return domain.DecodeBody(body, v)
}

// queryError turns a views error into the API's: a missing row is
// not_found, a bad cursor or filter invalid_argument, and anything else
// unavailable, without leaking internals.
func queryError(err error) error {
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, projections.ErrNotFound):
		return domain.Errorf(domain.ENotFound, "%s not found", subjectOf(err, projections.ErrNotFound))
	case errors.Is(err, projections.ErrInvalidQuery):
		return domain.Errorf(domain.EInvalid, "invalid query: %s", subjectOf(err, projections.ErrInvalidQuery))
	}
	return domain.Errorf(domain.EUnavailable, "the views cannot be read right now")
}

// subjectOf keeps what a views error says about its subject ("ticket X",
// "malformed cursor") and drops the call sites and the sentinel's text.
func subjectOf(err, sentinel error) string {
	parts := strings.Split(err.Error(), ": ")
	var keep []string
	for _, p := range parts {
		if p != "projections" && p != strings.TrimPrefix(sentinel.Error(), "projections: ") && strings.Contains(p, " ") {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return "the requested item"
	}
	return keep[len(keep)-1]
}
