package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// The replay properties: random command sequences are decided and applied
// one by one; after every step the rules' invariants must hold, and at the
// end the log must rebuild exactly the same state, replayed as it is or
// through its JSON encoding.

// source draws the random choices of a history: from math/rand for the
// property test, from the fuzzer's bytes for FuzzReplay.
type source interface{ intn(n int) int }

type randSource struct{ r *rand.Rand }

func (s randSource) intn(n int) int { return s.r.Intn(n) }

type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) intn(n int) int {
	if s.i >= len(s.b) {
		return 0
	}
	v := int(s.b[s.i])
	s.i++
	return v % n
}

func (s *byteSource) exhausted() bool { return s.i >= len(s.b) }

type closeRecord struct {
	ticket string
	at     time.Time
	reason string
	// blockedSince: the profile was blocked after this close.
	blockedSince bool
}

type sim struct {
	t    testing.TB
	src  source
	w    *world
	now  time.Time
	step int
	// Model state kept apart from the domain's, from the events alone.
	first     map[string]string // profile + "\x00" + message_id: first command id
	lastAt    map[string]time.Time
	lastClose map[string]closeRecord
	// causes are each profile's block causes in order of arrival ("" for
	// a block by id), and phoneBlocked the blocked numbers (R6).
	causes       map[string][]string
	phoneBlocked map[string]bool
	// stats counts the rarer paths, for the coverage test.
	stats map[string]int
	// checkPurity rebuilds the state before each decision to prove that
	// Decide does not write to it; it costs a replay per step.
	checkPurity bool
}

func newSim(t testing.TB, src source) *sim {
	return &sim{t: t, src: src, w: newWorld(), now: t0, first: map[string]string{},
		lastAt: map[string]time.Time{}, lastClose: map[string]closeRecord{}, causes: map[string][]string{},
		phoneBlocked: map[string]bool{}, stats: map[string]int{}, checkPurity: true}
}

var simZone = time.FixedZone("UTC-7", -7*3600)

func (s *sim) tick() {
	switch s.src.intn(8) {
	case 0: // the machine's clock jumps back
		s.now = s.now.Add(-time.Duration(1+s.src.intn(600)) * time.Minute)
	case 1:
		s.now = s.now.Add(time.Duration(s.src.intn(100)) * time.Hour)
	case 2: // same instant as the previous command
	default:
		s.now = s.now.Add(time.Duration(s.src.intn(240)) * time.Minute)
	}
}

func (s *sim) tickets() []string {
	var out []string
	for _, pid := range []string{prof, prof2} {
		out = append(out, s.w.profile(pid).TicketIDs...)
	}
	return out
}

var (
	simProfiles  = []string{prof, prof2}
	simPhones    = []string{"", phone1, phone2}
	simChannels  = []string{"", domain.ChannelSMS, domain.ChannelEmail, domain.ChannelChat}
	simDurations = []string{"1ns", "90m", "24h", "72h", "8784h", "8785h", "0s"}
	simOffsets   = []time.Duration{-time.Hour, 0, 1, time.Minute, time.Hour, 2 * day, 73 * time.Hour, 366 * day, 366*day + 1}
)

func (s *sim) pick() any {
	tks := s.tickets()
	ticket := unknownTicket
	if n := s.src.intn(len(tks) + 1); n < len(tks) {
		ticket = tks[n]
	}
	switch s.src.intn(16) {
	case 0, 1, 2, 13:
		c := inbound(simProfiles[s.src.intn(2)], viaPhone(simPhones[s.src.intn(3)]),
			channel(simChannels[s.src.intn(4)]))
		if s.src.intn(3) == 0 {
			c.MessageID = fmt.Sprintf("gw-%d", s.src.intn(6))
		}
		return c
	case 3:
		return replyTo(ticket)
	case 4:
		if n := s.src.intn(len(domain.Roles) + 1); n < len(domain.Roles) {
			return assignTo(ticket, ptr(userID(domain.Roles[n])))
		}
		return assignTo(ticket, nil)
	case 5, 15:
		if s.src.intn(2) == 0 {
			return snoozeFor(ticket, simDurations[s.src.intn(len(simDurations))])
		}
		return snoozeUntil(ticket, s.now.Add(simOffsets[s.src.intn(len(simOffsets))]))
	case 6:
		return unsnooze(ticket)
	case 7:
		return markRead(ticket)
	case 8:
		return markUnread(ticket)
	case 9:
		return closeTicket(ticket)
	case 10, 14:
		// The scheduler fires at a snooze's until, or later after downtime.
		if tk := s.w.owner(ticket).Tickets[ticket]; tk != nil && tk.Status == domain.StatusSnoozed && s.src.intn(4) != 0 {
			s.now = tk.SnoozedUntil.Add(time.Duration(s.src.intn(3)) * time.Hour)
		}
		return wakeOf(ticket)
	case 11, 12:
		target := domain.BlockTarget{ProfileID: simProfiles[s.src.intn(2)]}
		if s.src.intn(2) == 0 {
			target = domain.BlockTarget{Phone: simPhones[1+s.src.intn(2)]}
		}
		// Unblocks outnumber blocks so that profiles spend most of a
		// history writing in, not dropped.
		if s.src.intn(3) != 0 {
			return domain.Unblock{BlockTarget: target}
		}
		return domain.Block{BlockTarget: target}
	}
	panic("unreachable")
}

// expectation is what the spec says a command must do, worked out from
// the state before it is decided.
type expectation struct {
	err      string
	at       time.Time
	aggs     map[domain.AggregateKey]bool
	repeatOf string
	outcome  string
	ticket   string
	before   *domain.Ticket
	until    time.Time
	// due: the ticket was snoozed and its until has come, so a snooze or
	// unsnooze must record the timer's wake-up and its blue dot (R4).
	due bool
	// blockEvents are the events a block or unblock must write, as
	// blockSig spells them.
	blockEvents []string
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func ticketOfCmd(cmd any) (string, bool) {
	switch c := cmd.(type) {
	case domain.Reply:
		return c.TicketID, true
	case domain.Assign:
		return c.TicketID, true
	case domain.Snooze:
		return c.TicketID, true
	case domain.Unsnooze:
		return c.TicketID, true
	case domain.MarkRead:
		return c.TicketID, true
	case domain.MarkUnread:
		return c.TicketID, true
	case domain.Close:
		return c.TicketID, true
	case wake:
		return c.TicketID, true
	}
	return "", false
}

func (s *sim) expect(cmd any, c domain.Context) expectation {
	now := c.Now.UTC()
	if id, ok := ticketOfCmd(cmd); ok {
		p := s.w.owner(id)
		e := expectation{at: maxTime(now, p.LastAt), aggs: map[domain.AggregateKey]bool{domain.ProfileKey(p.ID): true}}
		// Fields are validated before any state is read.
		if sn, ok := cmd.(domain.Snooze); ok && sn.Duration != "" {
			if d, err := time.ParseDuration(sn.Duration); err != nil || d <= 0 || d > 366*day {
				e.err = domain.EInvalid
				return e
			}
		}
		tk := p.Tickets[id]
		if tk == nil {
			e.err = domain.ENotFound
			return e
		}
		cp := *tk
		e.before = &cp
		e.due = tk.Status == domain.StatusSnoozed && !e.at.Before(tk.SnoozedUntil)
		switch cmd.(type) {
		case domain.Reply, domain.Assign, domain.Snooze, domain.Unsnooze, domain.Close:
			if tk.Status == domain.StatusClosed {
				e.err = domain.ETicketClosed
				return e
			}
		}
		switch cmd := cmd.(type) {
		case domain.Assign:
			if cmd.AssigneeID != nil {
				if u, _ := userByID(*cmd.AssigneeID); !u.Role.Can(domain.PermInboxRead) {
					e.err = domain.EInvalid
				}
			}
		case domain.Snooze:
			if cmd.Until != nil {
				e.until = cmd.Until.UTC()
			} else if d, err := time.ParseDuration(cmd.Duration); err == nil && d > 0 {
				e.until = e.at.Add(d)
			}
			if !e.until.After(e.at) || e.until.Sub(e.at) > 366*day {
				e.err = domain.EInvalid
			}
		}
		return e
	}
	switch cmd := cmd.(type) {
	case domain.Inbound:
		p := s.w.profile(cmd.ProfileID)
		e := expectation{at: maxTime(now, p.LastAt), aggs: map[domain.AggregateKey]bool{domain.ProfileKey(p.ID): true}}
		var ph *domain.Phone
		if cmd.Phone != "" {
			ph = s.w.phone(cmd.Phone)
			e.at = maxTime(e.at, ph.LastAt)
			e.aggs[domain.PhoneKey(ph.Number)] = true
		}
		if first, ok := s.first[p.ID+"\x00"+cmd.MessageID]; ok && cmd.MessageID != "" {
			e.repeatOf = first
			return e
		}
		if len(s.causes[p.ID]) > 0 || ph != nil && s.phoneBlocked[ph.Number] {
			e.outcome = domain.OutcomeDroppedBlocked
			return e
		}
		if a := p.Active(); a != nil {
			e.outcome, e.ticket = domain.OutcomeAppended, a.ID
			return e
		}
		lc := s.lastClose[p.ID]
		e.outcome = domain.OutcomeOpened
		if lc.ticket != "" && lc.reason == domain.CloseAgent && e.at.Sub(lc.at) <= 72*time.Hour {
			// A block in between ends the window for good (R6).
			if lc.blockedSince {
				s.stats["opened instead of reopened after a block"]++
			} else {
				e.outcome, e.ticket = domain.OutcomeReopened, lc.ticket
			}
		}
		return e
	case domain.Block, domain.Unblock:
		var bt domain.BlockTarget
		if b, ok := cmd.(domain.Block); ok {
			bt = b.BlockTarget
		} else {
			bt = cmd.(domain.Unblock).BlockTarget
		}
		p, ph, linked := s.w.target(bt)
		e := expectation{aggs: map[domain.AggregateKey]bool{}}
		times := []time.Time{now}
		if p != nil {
			times = append(times, p.LastAt)
			e.aggs[domain.ProfileKey(p.ID)] = true
		}
		if ph != nil {
			times = append(times, ph.LastAt)
			e.aggs[domain.PhoneKey(ph.Number)] = true
		}
		for _, lp := range linked {
			times = append(times, lp.LastAt)
			e.aggs[domain.ProfileKey(lp.ID)] = true
		}
		e.at = maxTime(times...)
		_, isBlock := cmd.(domain.Block)
		e.blockEvents = s.expectBlock(isBlock, bt, p, ph, linked)
		return e
	}
	s.t.Fatalf("no expectation for %T", cmd)
	return expectation{}
}

// expectBlock works out the events of a block or unblock from the model's
// causes: a cause is added or removed only where it is missing or present,
// and a profile's tickets are closed and erased only when nothing blocked
// it before (R6).
func (s *sim) expectBlock(isBlock bool, bt domain.BlockTarget, p *domain.Profile, ph *domain.Phone, linked []*domain.Profile) []string {
	var out []string
	profileEvent := func(lp *domain.Profile, cause string) {
		causes := s.causes[lp.ID]
		switch {
		case isBlock && !contains(causes, cause):
			out = append(out, blockSig(domain.ProfileBlocked, domain.ProfileKey(lp.ID), cause))
			if len(causes) > 0 {
				return
			}
			if a := lp.Active(); a != nil {
				out = append(out, blockSig(domain.TicketClosed, domain.ProfileKey(lp.ID), a.ID))
			}
			for _, id := range lp.TicketIDs {
				if len(lp.Tickets[id].Inbound) > 0 {
					out = append(out, blockSig(domain.MessagesErased, domain.ProfileKey(lp.ID), id))
				}
			}
		case !isBlock && cause == "" && len(causes) > 0, !isBlock && cause != "" && contains(causes, cause):
			out = append(out, blockSig(domain.ProfileUnblocked, domain.ProfileKey(lp.ID), cause))
		}
	}
	if p != nil {
		profileEvent(p, "")
		return out
	}
	if isBlock != s.phoneBlocked[ph.Number] {
		typ := domain.ProfileUnblocked
		if isBlock {
			typ = domain.ProfileBlocked
		}
		out = append(out, blockSig(typ, domain.PhoneKey(ph.Number), ph.Number))
	}
	for _, lp := range linked {
		profileEvent(lp, ph.Number)
	}
	return out
}

// blockSig spells an event of a block or unblock: its type, aggregate, and
// the phone it names or the ticket it touches.
func blockSig(typ string, agg domain.AggregateKey, detail string) string {
	return typ + " " + agg.String() + " " + detail
}

func blockSigOf(e domain.Event) string {
	switch d := e.Data.(type) {
	case *domain.ProfileBlockedData:
		return blockSig(e.Type, e.Aggregate, d.Phone)
	case *domain.ProfileUnblockedData:
		return blockSig(e.Type, e.Aggregate, d.Phone)
	}
	return blockSig(e.Type, e.Aggregate, e.TicketID)
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("step %d (now %s): %s", s.step, s.now.Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

func (s *sim) stepOnce() {
	s.step++
	s.tick()
	cmd := s.pick()
	now := s.now
	if s.src.intn(8) == 0 {
		now = now.In(simZone)
	}
	c := domain.Context{Now: now, Actor: agent, CommandID: fmt.Sprintf("00000000-0000-4000-a000-%012d", s.step), NewID: s.w.newID, Delivered: s.w.delivered}
	exp := s.expect(cmd, c)
	var before *world
	if s.checkPurity {
		before = given(s.w.log...)
	}
	existing := s.w.ticketIDs()
	d, err := s.w.decide(cmd, c)
	if before != nil && !sameState(before, s.w) {
		s.fail("deciding %#v changed the state", cmd)
	}
	if exp.err != "" || err != nil {
		if domain.ErrorCode(err) != exp.err || len(d.Events) != 0 {
			s.fail("%#v: error %v with %d events, want %q", cmd, err, len(d.Events), exp.err)
		}
		return
	}
	for _, e := range d.Events {
		if !e.At.Equal(exp.at) || e.At.Location() != time.UTC {
			s.fail("%#v: %s at %v, want %v UTC", cmd, e.Type, e.At, exp.at)
		}
		if !exp.aggs[e.Aggregate] || e.CommandID != c.CommandID || e.ID == "" {
			s.fail("%#v: event %+v outside the command's aggregates or envelope", cmd, e)
		}
	}
	if in, ok := cmd.(domain.Inbound); ok {
		s.checkInbound(in, exp, d, existing)
	}
	s.apply(d.Events)
	s.checkAfter(cmd, exp, d)
	s.checkInvariants()
}

func (s *sim) checkInbound(cmd domain.Inbound, exp expectation, d domain.Decision, existing map[string]bool) {
	s.t.Helper()
	if d.RepeatOf != exp.repeatOf {
		s.fail("%#v: repeat of %q, want %q", cmd, d.RepeatOf, exp.repeatOf)
	}
	if exp.repeatOf != "" || exp.outcome == domain.OutcomeDroppedBlocked {
		if len(d.Events) != 0 || (exp.outcome != "" && d.Outcome != exp.outcome) {
			s.fail("%#v: outcome %q with %d events, want %q and none", cmd, d.Outcome, len(d.Events), exp.outcome)
		}
		return
	}
	switch {
	case d.Outcome == exp.outcome && exp.ticket != "" && d.TicketID == exp.ticket:
	case d.Outcome == exp.outcome && exp.ticket == "" && !existing[d.TicketID] && domain.ValidUUID(d.TicketID):
	default:
		s.fail("%#v: outcome %q ticket %s, want %q ticket %q", cmd, d.Outcome, d.TicketID, exp.outcome, exp.ticket)
	}
	n := 0
	for _, e := range d.Events {
		if e.Type == domain.MessageReceived {
			n++
			if e.TicketID != d.TicketID || e.Data.(*domain.MessageReceivedData).Body != cmd.Body {
				s.fail("%#v: message on ticket %s, decision names %s", cmd, e.TicketID, d.TicketID)
			}
		}
	}
	if n != 1 {
		s.fail("%#v: %d MessageReceived events", cmd, n)
	}
}

// checkAfter checks the state a successful command leaves.
func (s *sim) checkAfter(cmd any, exp expectation, d domain.Decision) {
	s.t.Helper()
	tk := func(id string) *domain.Ticket { return s.w.owner(id).Tickets[id] }
	switch cmd := cmd.(type) {
	case domain.Inbound:
		if d.RepeatOf == "" && d.Outcome != domain.OutcomeDroppedBlocked {
			t := tk(d.TicketID)
			if t.Status != domain.StatusOpen || !t.Unread || s.w.profile(cmd.ProfileID).ActiveID != t.ID {
				s.fail("after inbound the ticket is %+v", t)
			}
		}
	case domain.Reply:
		if t := tk(cmd.TicketID); t.Status != exp.before.Status || t.Unread != exp.before.Unread || t.Replies != exp.before.Replies+1 {
			s.fail("reply changed the ticket from %+v to %+v", exp.before, t)
		}
	case domain.Assign:
		want := ""
		if cmd.AssigneeID != nil {
			want = *cmd.AssigneeID
		}
		if t := tk(cmd.TicketID); t.AssigneeID != want || t.Status != exp.before.Status || t.Unread != exp.before.Unread {
			s.fail("after assign to %q the ticket is %+v", want, t)
		}
	case domain.Snooze:
		if t := tk(cmd.TicketID); t.Status != domain.StatusSnoozed || !t.SnoozedUntil.Equal(exp.until) ||
			t.Unread != (exp.before.Unread || exp.due) {
			s.fail("after snooze until %v (due %v) the ticket is %+v", exp.until, exp.due, t)
		}
		if woke := len(d.Events) > 0 && d.Events[0].Type == domain.TicketWoke; woke != exp.due ||
			woke && d.Events[0].Data.(*domain.TicketWokeData).Reason != domain.WakeTimer {
			s.fail("snooze of %+v at %v (due %v) wrote %v", exp.before, exp.at, exp.due, views(d.Events, ""))
		}
	case domain.Unsnooze:
		if t := tk(cmd.TicketID); t.Status != domain.StatusOpen || t.Unread != (exp.before.Unread || exp.due) {
			s.fail("after unsnooze (due %v) the ticket is %+v", exp.due, t)
		}
		want := ""
		switch {
		case exp.due:
			want = domain.WakeTimer
		case exp.before.Status == domain.StatusSnoozed:
			want = domain.WakeAgent
		}
		got := ""
		if len(d.Events) == 1 {
			got = d.Events[0].Data.(*domain.TicketWokeData).Reason
		}
		if got != want || len(d.Events) > 1 {
			s.fail("unsnooze of %+v at %v woke with reason %q, want %q", exp.before, exp.at, got, want)
		}
	case domain.MarkRead, domain.MarkUnread:
		_, unread := cmd.(domain.MarkUnread)
		id, _ := ticketOfCmd(cmd)
		if t := tk(id); t.Unread != unread || t.Status != exp.before.Status {
			s.fail("after %T the ticket is %+v", cmd, t)
		}
	case domain.Close:
		if t := tk(cmd.TicketID); t.Status != domain.StatusClosed || t.CloseReason != domain.CloseAgent || t.Unread != exp.before.Unread {
			s.fail("after close the ticket is %+v", t)
		}
	case wake:
		b := exp.before
		due := b.Status == domain.StatusSnoozed && !exp.at.Before(b.SnoozedUntil)
		t := tk(cmd.TicketID)
		if due != (len(d.Events) == 1) || (due && (t.Status != domain.StatusOpen || !t.Unread)) {
			s.fail("wake of %+v at %v gave %d events and %+v", b, exp.at, len(d.Events), t)
		}
	case domain.Block:
		s.checkBlockEvents(cmd, exp, d)
		if cmd.ProfileID != "" {
			if p := s.w.profile(cmd.ProfileID); !p.Blocked || p.BlockedVia != "" || !p.BlockedByCause("") {
				s.fail("after block by id the profile is %+v", p)
			}
			break
		}
		ph := s.w.phone(cmd.Phone)
		if !ph.Blocked {
			s.fail("after block the phone is %+v", ph)
		}
		for _, id := range ph.Profiles {
			if p := s.w.profile(id); !p.Blocked || !p.BlockedByCause(ph.Number) {
				s.fail("profile %s linked to blocked phone %s is not blocked by it: %+v", id, ph.Number, p)
			}
		}
	case domain.Unblock:
		s.checkBlockEvents(cmd, exp, d)
		if cmd.ProfileID != "" && s.w.profile(cmd.ProfileID).Blocked {
			s.fail("profile %s still blocked after unblock", cmd.ProfileID)
		}
		if cmd.Phone != "" && s.w.phone(cmd.Phone).Blocked {
			s.fail("phone %s still blocked after unblock", cmd.Phone)
		}
	}
}

func (s *sim) checkBlockEvents(cmd any, exp expectation, d domain.Decision) {
	s.t.Helper()
	got := []string{}
	for _, e := range d.Events {
		got = append(got, blockSigOf(e))
	}
	want := append([]string{}, exp.blockEvents...)
	if !reflect.DeepEqual(got, want) {
		s.fail("%#v wrote\n  %s\nwant\n  %s", cmd, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (s *sim) apply(evs []domain.Event) {
	s.t.Helper()
	for _, e := range evs {
		k := e.Aggregate.String()
		if e.At.Before(s.lastAt[k]) {
			s.fail("%s of %s at %v runs back from %v", e.Type, k, e.At, s.lastAt[k])
		}
		s.lastAt[k] = e.At
		switch {
		case e.Aggregate.Kind == domain.KindPhone && e.Type == domain.ProfileBlocked:
			s.phoneBlocked[e.Aggregate.ID] = true
		case e.Aggregate.Kind == domain.KindPhone && e.Type == domain.ProfileUnblocked:
			s.phoneBlocked[e.Aggregate.ID] = false
		}
		if e.Aggregate.Kind != domain.KindProfile {
			continue
		}
		switch e.Type {
		case domain.MessageReceived:
			if ext := e.Data.(*domain.MessageReceivedData).ExternalID; ext != "" {
				if _, ok := s.first[e.ProfileID+"\x00"+ext]; !ok {
					s.first[e.ProfileID+"\x00"+ext] = e.CommandID
				}
			}
		case domain.TicketClosed:
			s.lastClose[e.ProfileID] = closeRecord{ticket: e.TicketID, at: e.At, reason: e.Data.(*domain.TicketClosedData).Reason}
		case domain.ProfileBlocked:
			if lc, ok := s.lastClose[e.ProfileID]; ok {
				lc.blockedSince = true
				s.lastClose[e.ProfileID] = lc
			}
			if len(s.causes[e.ProfileID]) > 0 {
				s.stats["ProfileBlocked on a blocked profile"]++
			}
			if cause := e.Data.(*domain.ProfileBlockedData).Phone; !contains(s.causes[e.ProfileID], cause) {
				s.causes[e.ProfileID] = append(s.causes[e.ProfileID], cause)
			}
		case domain.ProfileUnblocked:
			if cause := e.Data.(*domain.ProfileUnblockedData).Phone; cause == "" {
				delete(s.causes, e.ProfileID)
			} else {
				var kept []string
				for _, c := range s.causes[e.ProfileID] {
					if c != cause {
						kept = append(kept, c)
					}
				}
				s.causes[e.ProfileID] = kept
				if len(kept) > 0 {
					s.stats["ProfileUnblocked leaving a profile blocked"]++
				}
			}
		case domain.TicketWoke:
			if e.Data.(*domain.TicketWokeData).Reason == domain.WakeTimer && e.Actor != domain.SystemTimer {
				s.stats["timer wake-up recorded by an agent's command"]++
			}
		}
	}
	s.w.apply(evs)
}

func (s *sim) checkInvariants() {
	s.t.Helper()
	for pid, p := range s.w.profiles {
		active := ""
		if len(p.TicketIDs) != len(p.Tickets) {
			s.fail("profile %s lists %d tickets, holds %d", pid, len(p.TicketIDs), len(p.Tickets))
		}
		for _, id := range p.TicketIDs {
			tk := p.Tickets[id]
			if tk == nil || tk.ProfileID != pid {
				s.fail("profile %s ticket %s is %+v", pid, id, tk)
			}
			if tk.Active() {
				if active != "" {
					s.fail("R1: profile %s has two active tickets, %s and %s", pid, active, id)
				}
				active = id
			}
			if (tk.Status == domain.StatusSnoozed) == tk.SnoozedUntil.IsZero() ||
				(tk.Status == domain.StatusClosed) == tk.ClosedAt.IsZero() {
				s.fail("ticket %s is %s with until %v closed_at %v", id, tk.Status, tk.SnoozedUntil, tk.ClosedAt)
			}
			if p.Blocked && len(tk.Inbound) != 0 {
				s.fail("R6: blocked profile %s keeps inbound messages %v on %s", pid, tk.Inbound, id)
			}
		}
		if p.ActiveID != active {
			s.fail("R1: profile %s ActiveID %q, active ticket %q", pid, p.ActiveID, active)
		}
		causes := s.causes[pid]
		via := ""
		if len(causes) > 0 && !contains(causes, "") {
			via = causes[0]
		}
		if p.Blocked != (len(causes) > 0) || p.BlockedVia != via || !reflect.DeepEqual(p.BlockedBy, causes) {
			s.fail("R6: profile %s blocked=%v via %q by %q; its events give causes %q", pid, p.Blocked, p.BlockedVia, p.BlockedBy, causes)
		}
		if p.Blocked && active != "" {
			s.fail("R6: blocked profile %s has active ticket %s", pid, active)
		}
		for _, n := range p.Phones {
			if !contains(s.w.phone(n).Profiles, pid) {
				s.fail("profile %s wrote from %s, which does not list it", pid, n)
			}
		}
	}
	for n, ph := range s.w.phones {
		if ph.Blocked != s.phoneBlocked[n] {
			s.fail("R6: phone %s blocked=%v, its events say %v", n, ph.Blocked, s.phoneBlocked[n])
		}
		for _, pid := range ph.Profiles {
			if !contains(s.w.profile(pid).Phones, n) {
				s.fail("phone %s lists %s, which never wrote from it", n, pid)
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// checkReplay rebuilds the state from the log, as it is and through its
// JSON encoding, and compares it with the state built step by step.
func (s *sim) checkReplay() {
	s.t.Helper()
	a, b := given(s.w.log...), given(s.w.log...)
	if !sameState(a, b) || !sameState(a, s.w) {
		s.t.Fatalf("replaying %d events does not rebuild the same state", len(s.w.log))
	}
	decoded := make([]domain.Event, 0, len(s.w.log))
	for i, e := range s.w.log {
		enc, err := domain.MarshalEvent(e)
		if err != nil {
			s.t.Fatalf("event %d %s: MarshalEvent: %v", i, e.Type, err)
		}
		if e.Type == domain.MessageReceived && bytes.Contains(enc, []byte(body)) {
			s.t.Fatalf("event %d: encoded message holds its text in clear: %s", i, enc)
		}
		d, err := domain.UnmarshalEvent(enc)
		if err != nil {
			s.t.Fatalf("event %d %s: UnmarshalEvent(%s): %v", i, e.Type, enc, err)
		}
		again, err := domain.MarshalEvent(d)
		if err != nil || !bytes.Equal(enc, again) {
			s.t.Fatalf("event %d re-encodes differently:\n%s\n%s (%v)", i, enc, again, err)
		}
		decoded = append(decoded, d)
	}
	if c := given(decoded...); !sameState(a, c) {
		s.t.Fatalf("replaying the decoded log does not rebuild the same state")
	}
}

func TestReplayProperty(t *testing.T) {
	t.Parallel()
	seeds, steps := 200, 150
	if testing.Short() {
		seeds = 20
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			s := newSim(t, randSource{rand.New(rand.NewSource(int64(seed)))})
			// Purity is costly on long logs; half the seeds check it.
			s.checkPurity = seed%2 == 0
			for range steps {
				s.stepOnce()
			}
			s.checkReplay()
		})
	}
}

// The generator must reach every interesting outcome, or the property test
// silently tests less than it claims.
func TestReplayPropertyCoverage(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	stats := map[string]int{}
	for seed := range 40 {
		s := newSim(t, randSource{rand.New(rand.NewSource(int64(seed)))})
		s.checkPurity = false
		for range 150 {
			n := len(s.w.log)
			s.stepOnce()
			for _, e := range s.w.log[n:] {
				key := e.Type
				switch d := e.Data.(type) {
				case *domain.TicketWokeData:
					key += "/" + d.Reason
				case *domain.TicketClosedData:
					key += "/" + d.Reason
				}
				seen[key]++
			}
		}
		for k, n := range s.stats {
			stats[k] += n
		}
	}
	for _, want := range []string{"opened instead of reopened after a block", "ProfileBlocked on a blocked profile",
		"ProfileUnblocked leaving a profile blocked", "timer wake-up recorded by an agent's command"} {
		if stats[want] == 0 {
			t.Errorf("no random history went through %q (seen %v)", want, stats)
		}
	}
	for _, want := range []string{domain.TicketOpened, domain.MessageReceived, domain.ReplySent, domain.TicketAssigned,
		domain.TicketSnoozed, domain.TicketWoke + "/timer", domain.TicketWoke + "/inbound", domain.TicketWoke + "/agent",
		domain.TicketMarkedUnread, domain.TicketMarkedRead, domain.TicketClosed + "/agent",
		domain.TicketClosed + "/profile_blocked", domain.TicketReopened, domain.ProfileBlocked, domain.ProfileUnblocked,
		domain.MessagesErased, domain.PhoneLinked} {
		if seen[want] == 0 {
			t.Errorf("no random history produced %s (seen %v)", want, seen)
		}
	}
}

func FuzzReplay(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9})
	f.Add(bytes.Repeat([]byte{1, 2, 3, 5, 7, 11, 13}, 40))
	f.Add([]byte("block the phone then write again from it, unblock, and wait 72 hours"))
	r := rand.New(rand.NewSource(1))
	seed := make([]byte, 600)
	r.Read(seed)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Long inputs add little the property test does not cover, and the
		// fuzzer's minimizer is quadratic in the input's length.
		if len(data) > 320 {
			data = data[:320]
		}
		src := &byteSource{b: data}
		s := newSim(t, src)
		for step := 0; step < 64 && !src.exhausted(); step++ {
			s.stepOnce()
		}
		s.checkReplay()
	})
}

func FuzzDecodeCommand(f *testing.F) {
	tid := `"ticket_id":"` + tk1 + `"`
	f.Add(domain.CmdInbound, []byte(`{"profile_id":"cust-1","body":"hi","phone":"+33612345678","message_id":"gw-1","channel":"sms"}`))
	f.Add(domain.CmdInbound, []byte(`{"profile_id":"p","body":"a\u0000b"}`))
	f.Add(domain.CmdReply, []byte(`{`+tid+`,"body":"On it"}`))
	f.Add(domain.CmdAssign, []byte(`{`+tid+`,"assignee_id":null}`))
	f.Add(domain.CmdSnooze, []byte(`{`+tid+`,"until":"2026-03-02T10:30:00+02:00"}`))
	f.Add(domain.CmdSnooze, []byte(`{`+tid+`,"duration":"90m"}`))
	f.Add(domain.CmdClose, []byte(`{`+tid+`,"command_id":"`+cmdID+`"}`))
	f.Add(domain.CmdBlock, []byte(`{"phone":"+33612345678"}`))
	f.Add(domain.CmdUnblock, []byte(`{"profile_id":"x"} {}`))
	f.Add(domain.CmdInbound, []byte(`{"PROFILE_ID":"p","body":"hi"}`))
	f.Add(domain.CmdInbound, []byte(`{"profile_id":"a","profile_id":"b","body":"hi"}`))
	f.Add(domain.CmdSnooze, []byte(`{`+tid+`,"until":"2026-13-02T10:30:00Z"}`))
	f.Add("nope", []byte(`null`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		cmd, err := domain.DecodeCommand(name, body)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.EInvalid || de.Message == "" || cmd != nil {
				t.Fatalf("DecodeCommand(%q, %q) = %#v, %#v; want nil and an invalid_argument *domain.Error", name, body, cmd, err)
			}
			return
		}
		if cmd.Name() != name || cmd.Validate() != nil {
			t.Fatalf("decoded %#v under name %q, Validate %v", cmd, name, cmd.Validate())
		}
		// What decodes must survive an encode and decode unchanged.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(cmd); err != nil {
			t.Fatalf("encode %#v: %v", cmd, err)
		}
		again, err := domain.DecodeCommand(name, buf.Bytes())
		if err != nil {
			t.Fatalf("re-decoding %s: %v", buf.Bytes(), err)
		}
		if !sameCommand(cmd, again) {
			t.Fatalf("round trip changed %#v into %#v", cmd, again)
		}
	})
}

// sameCommand compares commands, a snooze's until by instant.
func sameCommand(a, b domain.Command) bool {
	sa, okA := a.(domain.Snooze)
	sb, okB := b.(domain.Snooze)
	if okA && okB && sa.Until != nil && sb.Until != nil {
		if !sa.Until.Equal(*sb.Until) {
			return false
		}
		sa.Until, sb.Until = nil, nil
		return reflect.DeepEqual(sa, sb)
	}
	return reflect.DeepEqual(a, b)
}

func FuzzUnmarshalEvent(f *testing.F) {
	s := newSim(f, randSource{rand.New(rand.NewSource(7))})
	s.checkPurity = false
	for range 60 {
		s.stepOnce()
	}
	for _, e := range s.w.log {
		b, err := domain.MarshalEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"TicketSnoozed","at":"2026-03-01T09:00:00+05:00","data":{"until":"0000-01-01T00:00:00+01:00"}}`))
	f.Add([]byte(`{"type":"TicketReopened","at":"2026-03-01T09:00:00Z","data":[1,2]}`))
	f.Add([]byte(`{"type":"Nope","at":"2026-03-01T09:00:00Z"}`))
	f.Add([]byte(`{"type":"MessageReceived","at":"2026-03-01T09:00:00Z","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := domain.UnmarshalEvent(b)
		if err != nil {
			return
		}
		want, ok := domain.NewEventData(e.Type)
		if !ok || reflect.TypeOf(e.Data) != reflect.TypeOf(want) {
			t.Fatalf("decoded %s with data %T, want %T", e.Type, e.Data, want)
		}
		if e.At.IsZero() || e.At.Location() != time.UTC {
			t.Fatalf("decoded time %v", e.At)
		}
		// Applying any decodable event must not panic either.
		domain.NewProfile(prof).Apply(e)
		domain.NewPhone(phone1).Apply(e)
		enc, err := domain.MarshalEvent(e)
		if err != nil {
			return // a time beyond year 9999 in UTC has no RFC 3339 form
		}
		d, err := domain.UnmarshalEvent(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		again, err := domain.MarshalEvent(d)
		if err != nil || !bytes.Equal(enc, again) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", enc, again, err)
		}
	})
}

func TestUnmarshalEventRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"not JSON":         `{"type":`,
		"unknown type":     `{"type":"TicketDeleted","at":"2026-03-01T09:00:00Z"}`,
		"no type":          `{"at":"2026-03-01T09:00:00Z"}`,
		"no time":          `{"type":"TicketOpened"}`,
		"zero time":        `{"type":"TicketOpened","at":"0001-01-01T00:00:00Z"}`,
		"data of the type": `{"type":"TicketClosed","at":"2026-03-01T09:00:00Z","data":{"reason":5}}`,
		"bad time":         `{"type":"TicketOpened","at":"yesterday"}`,
	}
	for name, b := range cases {
		if _, err := domain.UnmarshalEvent([]byte(b)); err == nil {
			t.Errorf("%s: UnmarshalEvent(%s) succeeded", name, b)
		}
	}
}

func TestEventCodec(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("X", 3*3600+1800)
	e := received(tk1, t0.In(zone), extID("gw-1"), fromPhone(phone1))
	e.Data.(*domain.MessageReceivedData).Sealed = &domain.SealedBody{KeyID: "k1", Nonce: []byte{1, 2}, Ciphertext: []byte{3}}
	enc, err := domain.MarshalEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	// The log stores times in UTC, so an event encodes the same wherever it
	// was decided, and the text only sealed.
	if !strings.Contains(string(enc), `"at":"2026-03-01T09:00:00Z"`) || strings.Contains(string(enc), body) {
		t.Fatalf("encoded %s", enc)
	}
	d, err := domain.UnmarshalEvent(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.At = t0
	wd := *e.Data.(*domain.MessageReceivedData)
	wd.Body = ""
	want.Data = &wd
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("decoded %+v\nwant    %+v", d, want)
	}
	for _, typ := range []string{domain.TicketMarkedRead, domain.TicketMarkedUnread, domain.TicketReopened} {
		enc, err := domain.MarshalEvent(pev(typ, tk1, t0, nil))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := domain.UnmarshalEvent(enc); err != nil || d.Data != nil || d.Type != typ {
			t.Errorf("%s decodes as %+v, %v", typ, d, err)
		}
	}
}
