package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// The harness states every rule as given (past events), when (one command
// decided at a fixed clock reading) and then (the exact events, or the error
// code). Decisions are checked to leave the state they read untouched, so a
// rule that only passes by mutating state in Decide would fail here.

var t0 = time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC)

const (
	day = 24 * time.Hour

	prof   = "cust-1"
	prof2  = "cust-2"
	phone1 = "+33612345678"
	phone2 = "+14155550100"
	body   = "Hello, my parcel is late"
)

// uid makes the ids that tests choose themselves; ids the engine generates
// come from world.newID and use another group, so the two never collide.
func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

var (
	tk1 = uid(1)
	tk2 = uid(2)

	// cmdID is the command_id of the command under test; earlierCmd is the
	// one recorded on given events.
	cmdID      = uid(100)
	earlierCmd = uid(101)

	unknownTicket = uid(999)
)

// users holds one user per role, so assign can be tried against each.
var users = func() map[domain.Role]domain.User {
	m := map[domain.Role]domain.User{}
	for i, r := range domain.Roles {
		m[r] = domain.User{ID: uid(200 + i), Name: string(r), Role: r}
	}
	return m
}()

func userID(r domain.Role) string { return users[r].ID }

func userByID(id string) (domain.User, bool) {
	for _, u := range users {
		if u.ID == id {
			return u, true
		}
	}
	return domain.User{}, false
}

var agent = domain.Actor{UserID: userID(domain.RoleSupport), Role: domain.RoleSupport}

// world is the state of every aggregate the tests touch.
type world struct {
	profiles map[string]*domain.Profile
	phones   map[string]*domain.Phone
	log      []domain.Event
	ids      int
}

func newWorld() *world {
	return &world{profiles: map[string]*domain.Profile{}, phones: map[string]*domain.Phone{}}
}

// given builds state by Apply alone, exactly as a replay of the log would.
func given(evs ...domain.Event) *world {
	w := newWorld()
	w.apply(evs)
	return w
}

// delivered is the engine's index of gateway message ids, over the log.
func (w *world) delivered(profileID, messageID string) (string, bool) {
	for _, e := range w.log {
		if d, ok := e.Data.(*domain.MessageReceivedData); ok && e.ProfileID == profileID && d.ExternalID == messageID {
			return e.CommandID, true
		}
	}
	return "", false
}

func (w *world) newID() string {
	w.ids++
	return fmt.Sprintf("00000000-0000-4000-9000-%012d", w.ids)
}

func (w *world) apply(events []domain.Event) {
	for _, e := range events {
		switch e.Aggregate.Kind {
		case domain.KindProfile:
			p, ok := w.profiles[e.Aggregate.ID]
			if !ok {
				p = domain.NewProfile(e.Aggregate.ID)
				w.profiles[e.Aggregate.ID] = p
			}
			p.Apply(e)
		case domain.KindPhone:
			ph, ok := w.phones[e.Aggregate.ID]
			if !ok {
				ph = domain.NewPhone(e.Aggregate.ID)
				w.phones[e.Aggregate.ID] = ph
			}
			ph.Apply(e)
		}
		w.log = append(w.log, e)
	}
}

// profile returns the profile's state, a fresh one (not stored) if it has
// no events, so that looking does not change the world.
func (w *world) profile(id string) *domain.Profile {
	if p, ok := w.profiles[id]; ok {
		return p
	}
	return domain.NewProfile(id)
}

func (w *world) phone(number string) *domain.Phone {
	if ph, ok := w.phones[number]; ok {
		return ph
	}
	return domain.NewPhone(number)
}

// owner returns the profile holding a ticket; the default profile when no
// profile holds it, so that an unknown ticket reaches Decide as not_found.
func (w *world) owner(ticket string) *domain.Profile {
	for _, p := range w.profiles {
		if _, ok := p.Tickets[ticket]; ok {
			return p
		}
	}
	return w.profile(prof)
}

func (w *world) ticket(t *testing.T, id string) *domain.Ticket {
	t.Helper()
	for _, p := range w.profiles {
		if tk, ok := p.Tickets[id]; ok {
			return tk
		}
	}
	t.Fatalf("ticket %s not in state", id)
	return nil
}

func (w *world) ticketIDs() map[string]bool {
	out := map[string]bool{}
	for _, p := range w.profiles {
		for id := range p.Tickets {
			out[id] = true
		}
	}
	return out
}

// wake is the timer's wake-up of a snoozed ticket.
type wake = domain.Wake

func wakeOf(ticket string) wake { return wake{TicketCommand: domain.TicketCommand{TicketID: ticket}} }

// decide loads the state the command's registered targets name, as the
// engine would, and decides it with its registered decide function.
func (w *world) decide(cmd any, c domain.Context) (domain.Decision, error) {
	command, ok := cmd.(domain.Command)
	if !ok {
		panic(fmt.Sprintf("harness cannot decide %T", cmd))
	}
	spec, ok := domain.Spec(command.Name())
	if !ok {
		panic(fmt.Sprintf("no spec for %s", command.Name()))
	}
	t := command.Targets()
	var st domain.State
	switch {
	case t.TicketID != "":
		st.Profile = w.owner(t.TicketID)
	case t.ReplyID != "":
		st.Profile = w.profile(prof)
		for _, p := range w.profiles {
			for _, tk := range p.Tickets {
				if _, ok := tk.ReplyStatus[t.ReplyID]; ok {
					st.Profile = p
				}
			}
		}
	case t.Linked:
		_, st.Phone, st.Linked = w.target(domain.BlockTarget{Phone: t.Phone})
	default:
		st.Profile = w.profile(t.ProfileID)
		if t.Phone != "" {
			st.Phone = w.phone(t.Phone)
		}
	}
	if t.UserID != "" {
		found, ok := userByID(t.UserID)
		if !ok {
			return domain.Decision{}, domain.Errorf(domain.ENotFound, "user %s not found", t.UserID)
		}
		st.User = &found
	}
	return spec.Decide(st, command, c)
}

// target returns what a block or unblock is decided against: the profile,
// or the phone and every profile that ever wrote from it.
func (w *world) target(bt domain.BlockTarget) (*domain.Profile, *domain.Phone, []*domain.Profile) {
	if bt.ProfileID != "" {
		return w.profile(bt.ProfileID), nil, nil
	}
	ph := w.phone(bt.Phone)
	var linked []*domain.Profile
	for _, id := range ph.Profiles {
		linked = append(linked, w.profile(id))
	}
	return nil, ph, linked
}

// sameState reports whether two worlds hold deep-equal aggregates.
func sameState(a, b *world) bool {
	return reflect.DeepEqual(a.profiles, b.profiles) && reflect.DeepEqual(a.phones, b.phones)
}

type opt func(*domain.Context)

func at(now time.Time) opt            { return func(c *domain.Context) { c.Now = now } }
func by(a domain.Actor) opt           { return func(c *domain.Context) { c.Actor = a } }
func withCommandID(id string) opt     { return func(c *domain.Context) { c.CommandID = id } }
func later(d time.Duration) time.Time { return t0.Add(d) }

type result struct {
	t        *testing.T
	w        *world
	ctx      domain.Context
	d        domain.Decision
	err      error
	existing map[string]bool
}

// when decides cmd against w, checks that deciding changed nothing, then
// applies the decided events so that a scenario can go on.
func when(t *testing.T, w *world, cmd any, opts ...opt) *result {
	t.Helper()
	c := domain.Context{Now: t0, Actor: agent, CommandID: cmdID, NewID: w.newID, Delivered: w.delivered}
	if _, ok := cmd.(wake); ok {
		c.Actor = domain.SystemTimer
	}
	for _, o := range opts {
		o(&c)
	}
	before := given(w.log...)
	existing := w.ticketIDs()
	d, err := w.decide(cmd, c)
	if !sameState(before, w) {
		t.Fatalf("deciding %T changed the state it read", cmd)
	}
	if err != nil && len(d.Events) > 0 {
		t.Fatalf("%T failed (%v) but returned %d events", cmd, err, len(d.Events))
	}
	w.apply(d.Events)
	return &result{t: t, w: w, ctx: c, d: d, err: err, existing: existing}
}

// newTk stands for the ticket a decision opens, whose id the engine makes.
const newTk = "<new ticket>"

// then asserts success and exactly the wanted events, in order. Generated
// ids are checked for presence and uniqueness, then left out of the
// comparison; everything else (type, aggregate, profile, ticket, time,
// payload) must match.
func (r *result) then(want ...domain.Event) *result {
	r.t.Helper()
	if r.err != nil {
		r.t.Fatalf("want success, got error %v", r.err)
	}
	ids := map[string]bool{}
	for i, e := range r.d.Events {
		if e.ID == "" || ids[e.ID] {
			r.t.Errorf("event %d (%s) has empty or repeated id %q", i, e.Type, e.ID)
		}
		ids[e.ID] = true
		if e.Actor != r.ctx.Actor {
			r.t.Errorf("event %d (%s) actor %+v, want the command's %+v", i, e.Type, e.Actor, r.ctx.Actor)
		}
		if e.CommandID != r.ctx.CommandID {
			r.t.Errorf("event %d (%s) command_id %q, want %q", i, e.Type, e.CommandID, r.ctx.CommandID)
		}
		if e.At.Location() != time.UTC {
			r.t.Errorf("event %d (%s) at %v is not UTC", i, e.Type, e.At)
		}
		if id := generatedID(e); id != nil {
			if *id == "" || ids[*id] {
				r.t.Errorf("event %d (%s) has empty or repeated message id %q", i, e.Type, *id)
			}
			ids[*id] = true
		}
	}
	if slices.ContainsFunc(want, func(e domain.Event) bool { return e.TicketID == newTk }) {
		if !domain.ValidUUID(r.d.TicketID) || r.existing[r.d.TicketID] {
			r.t.Fatalf("decision's ticket %q is not a new UUID", r.d.TicketID)
		}
	}
	got := views(r.d.Events, "")
	exp := views(want, r.d.TicketID)
	if !reflect.DeepEqual(got, exp) {
		r.t.Fatalf("events differ\n got: %s\nwant: %s", fmtViews(got), fmtViews(exp))
	}
	return r
}

// fails asserts the error code and that it is a *domain.Error that
// errors.Is matches against the code's sentinel.
func (r *result) fails(code string) *result {
	r.t.Helper()
	if r.err == nil {
		r.t.Fatalf("want %s, got success with %s", code, fmtViews(views(r.d.Events, r.d.TicketID)))
	}
	var de *domain.Error
	if !errors.As(r.err, &de) {
		r.t.Fatalf("error %v is not a *domain.Error", r.err)
	}
	if got := domain.ErrorCode(r.err); got != code {
		r.t.Fatalf("error code %q, want %q (%v)", got, code, r.err)
	}
	if !errors.Is(r.err, &domain.Error{Code: code}) {
		r.t.Fatalf("errors.Is(%v, sentinel %s) is false", r.err, code)
	}
	if domain.ErrorMessage(r.err) == "" {
		r.t.Fatalf("error %s has no message for the user", code)
	}
	return r
}

func (r *result) outcome(want string) *result {
	r.t.Helper()
	if r.d.Outcome != want {
		r.t.Fatalf("outcome %q, want %q", r.d.Outcome, want)
	}
	return r
}

// generatedID returns a pointer to the message id the engine generated for
// an event's payload, or nil.
func generatedID(e domain.Event) *string {
	switch d := e.Data.(type) {
	case *domain.MessageReceivedData:
		return &d.MessageID
	case *domain.ReplySentData:
		return &d.MessageID
	case *domain.NoteAddedData:
		return &d.NoteID
	}
	return nil
}

type view struct {
	Type      string
	Aggregate domain.AggregateKey
	ProfileID string
	TicketID  string
	At        string
	Data      any
}

func views(evs []domain.Event, newTicket string) []view {
	out := []view{}
	for _, e := range evs {
		v := view{Type: e.Type, Aggregate: e.Aggregate, ProfileID: e.ProfileID,
			TicketID: e.TicketID, At: e.At.UTC().Format(time.RFC3339Nano), Data: e.Data}
		if v.TicketID == newTk {
			v.TicketID = newTicket
		}
		switch d := e.Data.(type) {
		case *domain.MessageReceivedData:
			c := *d
			c.MessageID = ""
			v.Data = c
		case *domain.ReplySentData:
			c := *d
			c.MessageID = ""
			v.Data = c
		case *domain.NoteAddedData:
			c := *d
			c.NoteID = ""
			v.Data = c
		case *domain.TicketSnoozedData:
			// The instant matters, not how the zone is spelled.
			v.Data = d.Until.UTC().Format(time.RFC3339Nano)
		default:
			if rv := reflect.ValueOf(d); rv.Kind() == reflect.Pointer && !rv.IsNil() {
				v.Data = rv.Elem().Interface()
			}
		}
		out = append(out, v)
	}
	return out
}

func fmtViews(vs []view) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s %s ticket=%s at=%s %+v", v.Type, v.Aggregate, v.TicketID, v.At, v.Data)
	}
	if len(vs) == 0 {
		b.WriteString("(no events)")
	}
	return b.String()
}

// Event constructors. They build events of prof's stream (phone1's for
// phone events); of() moves profile events to another profile. Envelope
// fields the rules do not read are fixed.

func pev(typ, ticket string, at time.Time, data any) domain.Event {
	return domain.Event{ID: "given", Type: typ, At: at, Actor: agent, CommandID: earlierCmd,
		Aggregate: domain.ProfileKey(prof), ProfileID: prof, TicketID: ticket, Data: data}
}

func opened(ticket string, at time.Time) domain.Event {
	return pev(domain.TicketOpened, ticket, at, &domain.TicketOpenedData{})
}

func openedVia(ticket string, at time.Time, channel string) domain.Event {
	return pev(domain.TicketOpened, ticket, at, &domain.TicketOpenedData{Channel: channel})
}

// inboundID is the message id that received() gives a message, so that
// tests can name the ids a block must erase.
func inboundID(ticket string, at time.Time) string {
	return fmt.Sprintf("msg-%s-%d", ticket[len(ticket)-3:], at.Sub(t0))
}

type msgOpt func(*domain.MessageReceivedData)

func fromPhone(n string) msgOpt  { return func(d *domain.MessageReceivedData) { d.Phone = n } }
func extID(id string) msgOpt     { return func(d *domain.MessageReceivedData) { d.ExternalID = id } }
func onChannel(ch string) msgOpt { return func(d *domain.MessageReceivedData) { d.Channel = ch } }

func received(ticket string, at time.Time, opts ...msgOpt) domain.Event {
	d := &domain.MessageReceivedData{MessageID: inboundID(ticket, at), Body: body}
	for _, o := range opts {
		o(d)
	}
	return pev(domain.MessageReceived, ticket, at, d)
}

func replied(ticket string, at time.Time) domain.Event {
	return pev(domain.ReplySent, ticket, at, &domain.ReplySentData{MessageID: "reply", Body: body})
}

func assigned(ticket string, at time.Time, assignee string) domain.Event {
	return pev(domain.TicketAssigned, ticket, at, &domain.TicketAssignedData{AssigneeID: assignee})
}

func snoozed(ticket string, at, until time.Time) domain.Event {
	return pev(domain.TicketSnoozed, ticket, at, &domain.TicketSnoozedData{Until: until})
}

func woke(ticket string, at time.Time, reason string) domain.Event {
	return pev(domain.TicketWoke, ticket, at, &domain.TicketWokeData{Reason: reason})
}

func markedUnread(ticket string, at time.Time) domain.Event {
	return pev(domain.TicketMarkedUnread, ticket, at, nil)
}

func markedRead(ticket string, at time.Time) domain.Event {
	return pev(domain.TicketMarkedRead, ticket, at, nil)
}

func closed(ticket string, at time.Time, reason string) domain.Event {
	return pev(domain.TicketClosed, ticket, at, &domain.TicketClosedData{Reason: reason})
}

func reopened(ticket string, at time.Time) domain.Event {
	return pev(domain.TicketReopened, ticket, at, nil)
}

func blocked(at time.Time) domain.Event {
	return pev(domain.ProfileBlocked, "", at, &domain.ProfileBlockedData{})
}

func blockedVia(at time.Time, phone string) domain.Event {
	return pev(domain.ProfileBlocked, "", at, &domain.ProfileBlockedData{Phone: phone})
}

func unblocked(at time.Time) domain.Event {
	return pev(domain.ProfileUnblocked, "", at, &domain.ProfileUnblockedData{})
}

func unblockedVia(at time.Time, phone string) domain.Event {
	return pev(domain.ProfileUnblocked, "", at, &domain.ProfileUnblockedData{Phone: phone})
}

func erased(ticket string, at time.Time, ids ...string) domain.Event {
	return pev(domain.MessagesErased, ticket, at, &domain.MessagesErasedData{MessageIDs: ids})
}

func phev(typ, number string, at time.Time, profileID string, data any) domain.Event {
	return domain.Event{ID: "given", Type: typ, At: at, Actor: agent, CommandID: earlierCmd,
		Aggregate: domain.PhoneKey(number), ProfileID: profileID, Data: data}
}

func phoneBlocked(number string, at time.Time) domain.Event {
	return phev(domain.ProfileBlocked, number, at, "", &domain.ProfileBlockedData{Phone: number})
}

func phoneUnblocked(number string, at time.Time) domain.Event {
	return phev(domain.ProfileUnblocked, number, at, "", &domain.ProfileUnblockedData{Phone: number})
}

func linked(number, profileID string, at time.Time) domain.Event {
	return phev(domain.PhoneLinked, number, at, profileID, &domain.PhoneLinkedData{ProfileID: profileID})
}

// of moves profile events to another profile's stream.
func of(profileID string, evs ...domain.Event) []domain.Event {
	out := make([]domain.Event, len(evs))
	for i, e := range evs {
		if e.Aggregate.Kind == domain.KindProfile {
			e.Aggregate = domain.ProfileKey(profileID)
			e.ProfileID = profileID
		}
		out[i] = e
	}
	return out
}

func cat(parts ...[]domain.Event) []domain.Event {
	var out []domain.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func evs(e ...domain.Event) []domain.Event { return e }

// Command constructors.

type inOpt func(*domain.Inbound)

func viaPhone(n string) inOpt    { return func(c *domain.Inbound) { c.Phone = n } }
func messageID(id string) inOpt  { return func(c *domain.Inbound) { c.MessageID = id } }
func channel(ch string) inOpt    { return func(c *domain.Inbound) { c.Channel = ch } }
func commandID(id string) inOpt  { return func(c *domain.Inbound) { c.CommandID = id } }
func withBody(text string) inOpt { return func(c *domain.Inbound) { c.Body = text } }

func inbound(profileID string, opts ...inOpt) domain.Inbound {
	c := domain.Inbound{ProfileID: profileID, Body: body}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func replyTo(ticket string) domain.Reply { return domain.Reply{TicketID: ticket, Body: body} }

func assignTo(ticket string, assignee *string) domain.Assign {
	return domain.Assign{TicketID: ticket, AssigneeID: assignee}
}

func ptr[T any](v T) *T { return &v }

func snoozeUntil(ticket string, until time.Time) domain.Snooze {
	return domain.Snooze{TicketID: ticket, Until: &until}
}

func snoozeFor(ticket, d string) domain.Snooze {
	return domain.Snooze{TicketID: ticket, Duration: d}
}

func tc(ticket string) domain.TicketCommand { return domain.TicketCommand{TicketID: ticket} }

func unsnooze(ticket string) domain.Unsnooze     { return domain.Unsnooze{TicketCommand: tc(ticket)} }
func markUnread(ticket string) domain.MarkUnread { return domain.MarkUnread{TicketCommand: tc(ticket)} }
func markRead(ticket string) domain.MarkRead     { return domain.MarkRead{TicketCommand: tc(ticket)} }
func closeTicket(ticket string) domain.Close     { return domain.Close{TicketCommand: tc(ticket)} }

func blockProfile(id string) domain.Block {
	return domain.Block{BlockTarget: domain.BlockTarget{ProfileID: id}}
}

func blockPhone(n string) domain.Block {
	return domain.Block{BlockTarget: domain.BlockTarget{Phone: n}}
}

func unblockProfile(id string) domain.Unblock {
	return domain.Unblock{BlockTarget: domain.BlockTarget{ProfileID: id}}
}

func unblockPhone(n string) domain.Unblock {
	return domain.Unblock{BlockTarget: domain.BlockTarget{Phone: n}}
}

// ruleCase is one row of a rule table: given events, one command at a
// clock reading, and either the exact events or an error code.
type ruleCase struct {
	name  string
	given []domain.Event
	now   time.Time // zero means t0
	actor *domain.Actor
	when  any
	want  []domain.Event // nil with no err: the command changes nothing
	err   string
	// msg, when set, must appear in the error's message.
	msg string
	// outcome and ticket, when set, are checked against the decision.
	outcome string
	ticket  string
	// check runs on the state after the decided events were applied.
	check func(t *testing.T, w *world, d domain.Decision)
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := given(c.given...)
			var opts []opt
			if !c.now.IsZero() {
				opts = append(opts, at(c.now))
			}
			if c.actor != nil {
				opts = append(opts, by(*c.actor))
			}
			r := when(t, w, c.when, opts...)
			if c.err != "" {
				r.fails(c.err)
				if !strings.Contains(domain.ErrorMessage(r.err), c.msg) {
					t.Fatalf("error message %q does not mention %q", domain.ErrorMessage(r.err), c.msg)
				}
			} else {
				r.then(c.want...)
			}
			if c.outcome != "" {
				r.outcome(c.outcome)
			}
			if c.ticket != "" && r.d.TicketID != c.ticket {
				t.Fatalf("decision ticket %q, want %q", r.d.TicketID, c.ticket)
			}
			if c.check != nil {
				c.check(t, w, r.d)
			}
		})
	}
}
