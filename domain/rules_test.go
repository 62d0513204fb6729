package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// Histories shared by the tables. Each is a fresh slice per use of cat, and
// Apply never writes to payloads, so parallel tests may share them.
var (
	// fresh: tk1 opened at t0 by one customer message, still unread.
	fresh = evs(opened(tk1, t0), received(tk1, t0))
	// read: like fresh, with the blue dot cleared.
	read = cat(fresh, evs(markedRead(tk1, t0)))
	// snoozedT1: read, snoozed at t0 until t0+24h.
	snoozedT1 = cat(read, evs(snoozed(tk1, t0, later(day))))
	// closedT1: fresh, closed by an agent at t0+1h.
	closedT1 = cat(fresh, evs(closed(tk1, later(time.Hour), domain.CloseAgent)))
)

func checkTicket(id string, status domain.Status, unread bool) func(*testing.T, *world, domain.Decision) {
	return func(t *testing.T, w *world, _ domain.Decision) {
		t.Helper()
		tk := w.ticket(t, id)
		if tk.Status != status || tk.Unread != unread {
			t.Fatalf("ticket %s is %s unread=%v, want %s unread=%v", id, tk.Status, tk.Unread, status, unread)
		}
	}
}

func checkActive(profileID, want string) func(*testing.T, *world, domain.Decision) {
	return func(t *testing.T, w *world, d domain.Decision) {
		t.Helper()
		if want == newTk {
			want = d.TicketID
		}
		if got := w.profile(profileID).ActiveID; got != want {
			t.Fatalf("profile %s active ticket %q, want %q", profileID, got, want)
		}
	}
}

func checks(fs ...func(*testing.T, *world, domain.Decision)) func(*testing.T, *world, domain.Decision) {
	return func(t *testing.T, w *world, d domain.Decision) {
		t.Helper()
		for _, f := range fs {
			f(t, w, d)
		}
	}
}

func TestR2InboundRouting(t *testing.T) {
	t.Parallel()
	h := time.Hour
	blockedHist := cat(fresh, evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
		erased(tk1, later(h), inboundID(tk1, t0))))
	runRules(t, []ruleCase{
		{
			name: "R2.4 first message of a profile opens a ticket",
			when: inbound(prof, channel(domain.ChannelSMS)),
			want: evs(openedVia(newTk, t0, domain.ChannelSMS),
				received(newTk, t0, onChannel(domain.ChannelSMS))),
			outcome: domain.OutcomeOpened,
			check:   checks(checkActive(prof, newTk)),
		},
		{
			name:    "R1 a second message appends instead of opening another ticket",
			given:   fresh,
			when:    inbound(prof),
			want:    evs(received(tk1, t0)),
			outcome: domain.OutcomeAppended,
			ticket:  tk1,
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if n := len(w.profile(prof).TicketIDs); n != 1 {
					t.Fatalf("profile has %d tickets, want 1", n)
				}
			},
		},
		{
			name:    "R2.2 message appended to the open ticket sets unread",
			given:   read,
			now:     later(h),
			when:    inbound(prof),
			want:    evs(received(tk1, later(h))),
			outcome: domain.OutcomeAppended,
			ticket:  tk1,
			check: checks(checkTicket(tk1, domain.StatusOpen, true), func(t *testing.T, w *world, _ domain.Decision) {
				if got := w.ticket(t, tk1).Inbound; len(got) != 2 {
					t.Fatalf("ticket holds %d inbound messages, want 2", len(got))
				}
			}),
		},
		{
			name:    "R2.2 message to a snoozed ticket wakes it (reason inbound) before the message",
			given:   snoozedT1,
			now:     later(h),
			when:    inbound(prof),
			want:    evs(woke(tk1, later(h), domain.WakeInbound), received(tk1, later(h))),
			outcome: domain.OutcomeAppended,
			ticket:  tk1,
			check: checks(checkTicket(tk1, domain.StatusOpen, true), checkActive(prof, tk1),
				func(t *testing.T, w *world, _ domain.Decision) {
					if u := w.ticket(t, tk1).SnoozedUntil; !u.IsZero() {
						t.Fatalf("woken ticket keeps snoozed_until %v", u)
					}
				}),
		},
		{
			name:    "R2.2 a snooze past due but not yet fired still wakes with the message",
			given:   snoozedT1,
			now:     later(2 * day),
			when:    inbound(prof),
			want:    evs(woke(tk1, later(2*day), domain.WakeInbound), received(tk1, later(2*day))),
			outcome: domain.OutcomeAppended,
		},
		{
			name:    "R2.3 message exactly 72h after an agent's close reopens the ticket",
			given:   closedT1,
			now:     later(h + 72*h),
			when:    inbound(prof),
			want:    evs(reopened(tk1, later(73*h)), received(tk1, later(73*h))),
			outcome: domain.OutcomeReopened,
			ticket:  tk1,
			check: checks(checkTicket(tk1, domain.StatusOpen, true), checkActive(prof, tk1),
				func(t *testing.T, w *world, _ domain.Decision) {
					tk := w.ticket(t, tk1)
					if !tk.ClosedAt.IsZero() || tk.CloseReason != "" || len(tk.Inbound) != 2 {
						t.Fatalf("reopened ticket: closed_at %v reason %q inbound %v", tk.ClosedAt, tk.CloseReason, tk.Inbound)
					}
				}),
		},
		{
			name:    "R2.3 message 72h+1ns after the close opens a new ticket",
			given:   closedT1,
			now:     later(73*h + time.Nanosecond),
			when:    inbound(prof),
			want:    evs(opened(newTk, later(73*h+1)), received(newTk, later(73*h+1))),
			outcome: domain.OutcomeOpened,
			check: checks(checkTicket(tk1, domain.StatusClosed, true), checkActive(prof, newTk),
				func(t *testing.T, w *world, _ domain.Decision) {
					if n := len(w.profile(prof).TicketIDs); n != 2 {
						t.Fatalf("profile has %d tickets, want 2", n)
					}
				}),
		},
		{
			name: "R2.3 only the most recently closed ticket is reopened",
			given: cat(closedT1, evs(opened(tk2, later(100*h)), received(tk2, later(100*h)),
				closed(tk2, later(101*h), domain.CloseAgent))),
			now:     later(102 * h),
			when:    inbound(prof),
			want:    evs(reopened(tk2, later(102*h)), received(tk2, later(102*h))),
			outcome: domain.OutcomeReopened,
			ticket:  tk2,
		},
		{
			name:    "R6 a ticket closed by a block is never reopened, even within 72h after unblock",
			given:   cat(blockedHist, evs(unblocked(later(2*h)))),
			now:     later(3 * h),
			when:    inbound(prof),
			want:    evs(opened(newTk, later(3*h)), received(newTk, later(3*h))),
			outcome: domain.OutcomeOpened,
			check:   checkTicket(tk1, domain.StatusClosed, true),
		},
		{
			name: "R6 after unblock a message opens a new ticket even if an agent closed one just before the block",
			given: cat(closedT1, evs(blocked(later(2*h)), erased(tk1, later(2*h), inboundID(tk1, t0)),
				unblocked(later(3*h)))),
			now:     later(4 * h),
			when:    inbound(prof),
			want:    evs(opened(newTk, later(4*h)), received(newTk, later(4*h))),
			outcome: domain.OutcomeOpened,
			check:   checks(checkTicket(tk1, domain.StatusClosed, true), checkActive(prof, newTk)),
		},
		{
			name: "R6 a block through a phone also ends the reopen window of an agent's close",
			given: cat(evs(opened(tk1, t0), received(tk1, t0, fromPhone(phone1)), linked(phone1, prof, t0),
				closed(tk1, later(h), domain.CloseAgent), phoneBlocked(phone1, later(2*h)), blockedVia(later(2*h), phone1),
				erased(tk1, later(2*h), inboundID(tk1, t0)), phoneUnblocked(phone1, later(3*h)),
				unblockedVia(later(3*h), phone1))),
			now:     later(4 * h),
			when:    inbound(prof, viaPhone(phone1)),
			want:    evs(opened(newTk, later(4*h)), received(newTk, later(4*h), fromPhone(phone1))),
			outcome: domain.OutcomeOpened,
		},
		{
			name: "R2.3 an agent's close after the unblock reopens as usual",
			given: cat(closedT1, evs(blocked(later(2*h)), erased(tk1, later(2*h), inboundID(tk1, t0)),
				unblocked(later(3*h)), opened(tk2, later(4*h)), received(tk2, later(4*h)),
				closed(tk2, later(5*h), domain.CloseAgent))),
			now:     later(6 * h),
			when:    inbound(prof),
			want:    evs(reopened(tk2, later(6*h)), received(tk2, later(6*h))),
			outcome: domain.OutcomeReopened,
			ticket:  tk2,
		},
		{
			name:    "R2.1 a blocked profile's message is dropped and stores nothing",
			given:   blockedHist,
			now:     later(2 * h),
			when:    inbound(prof, viaPhone(phone1), messageID("gw-1")),
			outcome: domain.OutcomeDroppedBlocked,
			check: func(t *testing.T, w *world, d domain.Decision) {
				p := w.profile(prof)
				if d.ProfileID != prof || len(p.Phones) != 0 || len(w.ticket(t, tk1).Inbound) != 0 {
					t.Fatalf("dropped message left a trace: decision %+v, profile %+v", d, p)
				}
				if _, ok := w.phones[phone1]; ok {
					t.Fatalf("dropped message linked its phone")
				}
			},
		},
		{
			name:    "R2.1 a blocked phone drops the message of an unblocked profile",
			given:   cat(read, evs(phoneBlocked(phone1, later(h)))),
			now:     later(2 * h),
			when:    inbound(prof, viaPhone(phone1)),
			outcome: domain.OutcomeDroppedBlocked,
			check:   checkTicket(tk1, domain.StatusOpen, false),
		},
		{
			name:    "R2.1 a blocked phone drops the message of a profile never seen",
			given:   evs(phoneBlocked(phone1, t0)),
			now:     later(h),
			when:    inbound(prof2, viaPhone(phone1)),
			outcome: domain.OutcomeDroppedBlocked,
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if _, ok := w.profiles[prof2]; ok || len(w.phones[phone1].Profiles) != 0 {
					t.Fatalf("dropped message created state for %s", prof2)
				}
			},
		},
		{
			name:    "R2.1 a blocked profile is dropped even from an unblocked phone",
			given:   cat(blockedHist, evs(linked(phone2, prof, t0))),
			now:     later(2 * h),
			when:    inbound(prof, viaPhone(phone2)),
			outcome: domain.OutcomeDroppedBlocked,
		},
		{
			name:    "first message from a phone links the phone to the profile",
			when:    inbound(prof, viaPhone(phone1)),
			want:    evs(opened(newTk, t0), received(newTk, t0, fromPhone(phone1)), linked(phone1, prof, t0)),
			outcome: domain.OutcomeOpened,
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if ph := w.phones[phone1]; ph == nil || len(ph.Profiles) != 1 || ph.Profiles[0] != prof {
					t.Fatalf("phone state %+v, want linked to %s", ph, prof)
				}
				if ps := w.profile(prof).Phones; len(ps) != 1 || ps[0] != phone1 {
					t.Fatalf("profile phones %v, want [%s]", ps, phone1)
				}
			},
		},
		{
			name:    "a phone already linked is not linked again",
			given:   cat(fresh, evs(linked(phone1, prof, t0))),
			when:    inbound(prof, viaPhone(phone1)),
			want:    evs(received(tk1, t0, fromPhone(phone1))),
			outcome: domain.OutcomeAppended,
		},
		{
			name:    "the message records the gateway's message_id and channel",
			given:   fresh,
			when:    inbound(prof, messageID("gw-42"), channel(domain.ChannelEmail), withBody("Bonjour\nmerci")),
			want:    evs(receivedBody(tk1, t0, "Bonjour\nmerci", extID("gw-42"), onChannel(domain.ChannelEmail))),
			outcome: domain.OutcomeAppended,
		},
		{
			name: "an invalid inbound is refused before any routing",
			when: inbound("bad id"),
			err:  domain.EInvalid,
			msg:  "profile_id",
		},
	})
}

func receivedBody(ticket string, at time.Time, text string, opts ...msgOpt) domain.Event {
	e := received(ticket, at, opts...)
	e.Data.(*domain.MessageReceivedData).Body = text
	return e
}

// A dropped message is not recorded, so its message_id does not make the
// redelivery after an unblock a repeat, and its phone was never linked.
func TestR2DroppedMessageLeavesNoTrace(t *testing.T) {
	t.Parallel()
	w := given(cat(fresh, evs(blocked(later(time.Hour)), closed(tk1, later(time.Hour), domain.CloseProfileBlocked)))...)
	when(t, w, inbound(prof, messageID("gw-7"), viaPhone(phone1)), at(later(2*time.Hour))).
		then().outcome(domain.OutcomeDroppedBlocked)
	if _, ok := w.phones[phone1]; ok {
		t.Fatal("a dropped message linked its phone")
	}
	when(t, w, unblockProfile(prof), at(later(3*time.Hour))).then(unblocked(later(3 * time.Hour)))
	r := when(t, w, inbound(prof, messageID("gw-7"), viaPhone(phone1)), at(later(4*time.Hour)), withCommandID(uid(102)))
	if r.d.RepeatOf != "" {
		t.Fatalf("redelivery of a dropped message is a repeat of %s", r.d.RepeatOf)
	}
	r.then(opened(newTk, later(4*time.Hour)), received(newTk, later(4*time.Hour), extID("gw-7"), fromPhone(phone1)),
		linked(phone1, prof, later(4*time.Hour))).outcome(domain.OutcomeOpened)
}

func TestR3ClosedTicket(t *testing.T) {
	t.Parallel()
	h := time.Hour
	byBlock := cat(fresh, evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
		erased(tk1, later(h), inboundID(tk1, t0)), unblocked(later(2*h))))
	var cases []ruleCase
	refused := []struct {
		name string
		cmd  any
	}{
		{"snooze", snoozeFor(tk1, "1h")},
		{"snooze until", snoozeUntil(tk1, later(5*h))},
		{"unsnooze", unsnooze(tk1)},
		{"assign", assignTo(tk1, ptr(userID(domain.RoleSupport)))},
		{"unassign", assignTo(tk1, nil)},
		{"reply", replyTo(tk1)},
		{"close", closeTicket(tk1)},
	}
	for _, c := range refused {
		cases = append(cases,
			ruleCase{name: c.name + " of a ticket closed by an agent fails", given: closedT1, now: later(2 * h),
				when: c.cmd, err: domain.ETicketClosed, msg: tk1,
				check: checkTicket(tk1, domain.StatusClosed, true)},
			ruleCase{name: c.name + " of a ticket closed by a block fails", given: byBlock, now: later(3 * h),
				when: c.cmd, err: domain.ETicketClosed})
	}
	cases = append(cases,
		ruleCase{name: "mark_read is allowed on a closed ticket", given: closedT1, now: later(2 * h),
			when: markRead(tk1), want: evs(markedRead(tk1, later(2*h))), outcome: domain.OutcomeDone, ticket: tk1,
			check: checkTicket(tk1, domain.StatusClosed, false)},
		ruleCase{name: "mark_unread is allowed on a closed ticket",
			given: cat(closedT1, evs(markedRead(tk1, later(2*h)))), now: later(3 * h),
			when: markUnread(tk1), want: evs(markedUnread(tk1, later(3*h))),
			check: checkTicket(tk1, domain.StatusClosed, true)},
	)
	unknown := []any{replyTo(unknownTicket), assignTo(unknownTicket, nil), snoozeFor(unknownTicket, "1h"),
		unsnooze(unknownTicket), markRead(unknownTicket), markUnread(unknownTicket), closeTicket(unknownTicket),
		wakeOf(unknownTicket)}
	for _, cmd := range unknown {
		cases = append(cases, ruleCase{name: fmt.Sprintf("%T of an unknown ticket is not found", cmd),
			given: fresh, when: cmd, err: domain.ENotFound, msg: unknownTicket})
	}
	runRules(t, cases)

	// A command decided against the wrong profile must not reach a ticket
	// of another one.
	t.Run("ticket of another profile", func(t *testing.T) {
		t.Parallel()
		w := given(of(prof2, fresh...)...)
		_, err := domain.DecideClose(w.profile(prof), closeTicket(tk1), domain.Context{Now: t0, NewID: w.newID})
		if domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("close of another profile's ticket: %v, want not_found", err)
		}
	})

	t.Run("errors.Is matches ErrTicketClosed", func(t *testing.T) {
		t.Parallel()
		w := given(closedT1...)
		r := when(t, w, replyTo(tk1), at(later(2*h)))
		if !errors.Is(r.err, domain.ErrTicketClosed) || errors.Is(r.err, domain.ErrNotFound) {
			t.Fatalf("errors.Is on %v does not single out ErrTicketClosed", r.err)
		}
	})
}

func TestR4Snooze(t *testing.T) {
	t.Parallel()
	h := time.Hour
	n := later(h)
	cest := time.FixedZone("CEST", 2*3600)
	untilIsUTC := func(t *testing.T, w *world, _ domain.Decision) {
		if u := w.ticket(t, tk1).SnoozedUntil; u.Location() != time.UTC {
			t.Fatalf("snoozed_until %v is not UTC", u)
		}
	}
	runRules(t, []ruleCase{
		{name: "until equal to now fails", given: read, now: n, when: snoozeUntil(tk1, n),
			err: domain.EInvalid, msg: "future", check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "until in the past fails", given: read, now: n, when: snoozeUntil(tk1, n.Add(-1)),
			err: domain.EInvalid, msg: "future"},
		{name: "until 1ns ahead snoozes", given: read, now: n, when: snoozeUntil(tk1, n.Add(1)),
			want: evs(snoozed(tk1, n, n.Add(1))), outcome: domain.OutcomeDone, ticket: tk1,
			check: checkTicket(tk1, domain.StatusSnoozed, false)},
		{name: "until exactly 366 days ahead snoozes", given: read, now: n, when: snoozeUntil(tk1, n.Add(366*day)),
			want: evs(snoozed(tk1, n, n.Add(366*day)))},
		{name: "until 366 days and 1ns ahead fails", given: read, now: n, when: snoozeUntil(tk1, n.Add(366*day+1)),
			err: domain.EInvalid, msg: "366 days"},
		{name: "until given in another zone is kept as the same instant in UTC", given: read, now: n,
			when: snoozeUntil(tk1, n.Add(2*h).In(cest)), want: evs(snoozed(tk1, n, n.Add(2*h))), check: untilIsUTC},
		{name: "duration 90m snoozes until now+90m", given: read, now: n, when: snoozeFor(tk1, "90m"),
			want: evs(snoozed(tk1, n, n.Add(90*time.Minute))), check: untilIsUTC},
		{name: "duration of exactly 366 days snoozes", given: read, now: n, when: snoozeFor(tk1, "8784h"),
			want: evs(snoozed(tk1, n, n.Add(366*day)))},
		{name: "duration 1ns over 366 days fails", given: read, now: n, when: snoozeFor(tk1, "8784h0m0.000000001s"),
			err: domain.EInvalid, msg: "duration"},
		{name: "zero duration fails", given: read, now: n, when: snoozeFor(tk1, "0s"), err: domain.EInvalid, msg: "duration"},
		{name: "negative duration fails", given: read, now: n, when: snoozeFor(tk1, "-1h"), err: domain.EInvalid, msg: "duration"},
		{name: "unparsable duration fails", given: read, now: n, when: snoozeFor(tk1, "2 days"), err: domain.EInvalid, msg: "duration"},
		{name: "both until and duration fail", given: read, now: n,
			when: domain.Snooze{TicketID: tk1, Until: ptr(n.Add(h)), Duration: "1h"}, err: domain.EInvalid, msg: "exactly one"},
		{name: "neither until nor duration fails", given: read, now: n,
			when: domain.Snooze{TicketID: tk1}, err: domain.EInvalid, msg: "exactly one"},
		{name: "snoozing a snoozed ticket moves its time later", given: snoozedT1, now: n,
			when: snoozeUntil(tk1, later(2*day)), want: evs(snoozed(tk1, n, later(2*day))),
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if u := w.ticket(t, tk1).SnoozedUntil; !u.Equal(later(2 * day)) {
					t.Fatalf("snoozed_until %v, want %v", u, later(2*day))
				}
			}},
		{name: "snoozing a snoozed ticket moves its time earlier", given: snoozedT1, now: n,
			when: snoozeFor(tk1, "1h"), want: evs(snoozed(tk1, n, n.Add(h)))},
		{name: "snoozing again to the same until changes nothing", given: snoozedT1, now: n,
			when: snoozeUntil(tk1, later(day)), outcome: domain.OutcomeDone, ticket: tk1},
		{name: "the same instant spelled in another zone changes nothing", given: snoozedT1, now: n,
			when: snoozeUntil(tk1, later(day).In(cest))},
		{name: "a duration landing on the current until changes nothing", given: snoozedT1, now: n,
			when: snoozeFor(tk1, "23h")},
		{name: "snooze of a closed ticket fails", given: closedT1, now: later(2 * h),
			when: snoozeFor(tk1, "1h"), err: domain.ETicketClosed},
		{name: "snooze leaves unread alone", given: fresh, now: n, when: snoozeFor(tk1, "1h"),
			want: evs(snoozed(tk1, n, n.Add(h))), check: checkTicket(tk1, domain.StatusSnoozed, true)},
	})
}

func TestR4Wake(t *testing.T) {
	t.Parallel()
	h := time.Hour
	runRules(t, []ruleCase{
		{name: "timer before until changes nothing", given: snoozedT1, now: later(day - 1), when: wakeOf(tk1),
			outcome: domain.OutcomeDone, ticket: tk1, check: checkTicket(tk1, domain.StatusSnoozed, false)},
		{name: "timer at until opens the ticket and sets unread", given: snoozedT1, now: later(day), when: wakeOf(tk1),
			want: evs(woke(tk1, later(day), domain.WakeTimer)),
			check: checks(checkTicket(tk1, domain.StatusOpen, true), checkActive(prof, tk1),
				func(t *testing.T, w *world, _ domain.Decision) {
					if u := w.ticket(t, tk1).SnoozedUntil; !u.IsZero() {
						t.Fatalf("woken ticket keeps snoozed_until %v", u)
					}
				})},
		{name: "timer long after until (engine was down) still fires, at the current time", given: snoozedT1,
			now: later(30 * day), when: wakeOf(tk1), want: evs(woke(tk1, later(30*day), domain.WakeTimer)),
			check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "old timer after a re-snooze to later changes nothing",
			given: cat(snoozedT1, evs(snoozed(tk1, later(h), later(2*day)))), now: later(day), when: wakeOf(tk1),
			check: checkTicket(tk1, domain.StatusSnoozed, false)},
		{name: "timer of an open ticket changes nothing", given: read, now: later(day), when: wakeOf(tk1),
			check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "timer of a ticket woken by hand changes nothing",
			given: cat(snoozedT1, evs(woke(tk1, later(h), domain.WakeAgent))), now: later(day), when: wakeOf(tk1),
			check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "timer of a closed ticket changes nothing",
			given: cat(snoozedT1, evs(closed(tk1, later(h), domain.CloseAgent))), now: later(day), when: wakeOf(tk1),
			check: checkTicket(tk1, domain.StatusClosed, false)},
		{name: "unsnooze wakes by hand with reason agent and leaves it read", given: snoozedT1, now: later(h),
			when: unsnooze(tk1), want: evs(woke(tk1, later(h), domain.WakeAgent)), outcome: domain.OutcomeDone,
			ticket: tk1, check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "unsnooze leaves an unread ticket unread",
			given: cat(fresh, evs(snoozed(tk1, t0, later(day)))), now: later(h),
			when: unsnooze(tk1), want: evs(woke(tk1, later(h), domain.WakeAgent)),
			check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "unsnooze of an open ticket changes nothing", given: read, now: later(h), when: unsnooze(tk1),
			outcome: domain.OutcomeDone, ticket: tk1},
		{name: "unsnooze 1ns before until is still by hand", given: snoozedT1, now: later(day - 1),
			when: unsnooze(tk1), want: evs(woke(tk1, later(day-1), domain.WakeAgent)),
			check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "unsnooze at until records the timer's wake-up and its dot", given: snoozedT1, now: later(day),
			when: unsnooze(tk1), want: evs(woke(tk1, later(day), domain.WakeTimer)), outcome: domain.OutcomeDone,
			ticket: tk1, check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "unsnooze long after until records the timer's wake-up", given: snoozedT1, now: later(30 * day),
			when: unsnooze(tk1), want: evs(woke(tk1, later(30*day), domain.WakeTimer)),
			check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "unsnooze judges the due time from the raised event time",
			given: cat(snoozedT1, evs(replied(tk1, later(day+h)))), now: later(h),
			when: unsnooze(tk1), want: evs(woke(tk1, later(day+h), domain.WakeTimer))},
		{name: "re-snooze after until records the due wake-up before the new snooze", given: snoozedT1,
			now: later(day + h), when: snoozeFor(tk1, "1h"),
			want:  evs(woke(tk1, later(day+h), domain.WakeTimer), snoozed(tk1, later(day+h), later(day+2*h))),
			check: checkTicket(tk1, domain.StatusSnoozed, true)},
		{name: "re-snooze at until records the due wake-up too", given: snoozedT1, now: later(day),
			when:  snoozeUntil(tk1, later(2*day)),
			want:  evs(woke(tk1, later(day), domain.WakeTimer), snoozed(tk1, later(day), later(2*day))),
			check: checkTicket(tk1, domain.StatusSnoozed, true)},
	})
}

// The agent unsnoozes after until, before the timer's event is written
// (say the engine was down): the wake-up was due, so its blue dot is owed.
func TestR4UnsnoozeAfterDueKeepsWakeUpDot(t *testing.T) {
	t.Parallel()
	w := given(snoozedT1...)
	when(t, w, unsnooze(tk1), at(later(day+time.Hour))).then(woke(tk1, later(day+time.Hour), domain.WakeTimer))
	when(t, w, wakeOf(tk1), at(later(day+2*time.Hour))).then()
	if tk := w.ticket(t, tk1); tk.Status != domain.StatusOpen || !tk.Unread {
		t.Fatalf("ticket %s unread=%v after a due snooze was unsnoozed, want open and unread", tk.Status, tk.Unread)
	}
	// Likewise a re-snooze after until: the late timer finds the new,
	// later until and does nothing, so the due wake-up must be recorded.
	w = given(snoozedT1...)
	when(t, w, snoozeFor(tk1, "2h"), at(later(day+time.Hour)))
	when(t, w, wakeOf(tk1), at(later(day+2*time.Hour))).then()
	if tk := w.ticket(t, tk1); tk.Status != domain.StatusSnoozed || !tk.Unread {
		t.Fatalf("ticket %s unread=%v after a due snooze was moved, want snoozed and unread", tk.Status, tk.Unread)
	}
}

func TestR4StatusAt(t *testing.T) {
	t.Parallel()
	w := given(snoozedT1...)
	tk := w.ticket(t, tk1)
	cases := []struct {
		now  time.Time
		want domain.Status
	}{
		{later(day - 1), domain.StatusSnoozed},
		{later(day), domain.StatusOpen},
		{later(day + 1), domain.StatusOpen},
		{later(400 * day), domain.StatusOpen},
		{t0.Add(-day), domain.StatusSnoozed},
	}
	for _, c := range cases {
		if got := tk.StatusAt(c.now); got != c.want {
			t.Errorf("StatusAt(%v) = %s, want %s", c.now, got, c.want)
		}
	}
	if tk.Status != domain.StatusSnoozed {
		t.Fatalf("StatusAt changed the stored status to %s", tk.Status)
	}
	for _, hist := range [][]domain.Event{read, closedT1} {
		tk := given(hist...).ticket(t, tk1)
		if got := tk.StatusAt(later(400 * day)); got != tk.Status {
			t.Errorf("StatusAt of a %s ticket = %s", tk.Status, got)
		}
	}
}

func TestR5Unread(t *testing.T) {
	t.Parallel()
	h := time.Hour
	n := later(h)
	assignedUnread := cat(fresh, evs(assigned(tk1, t0, userID(domain.RoleSupport))))
	runRules(t, []ruleCase{
		{name: "mark_unread sets the dot", given: read, now: n, when: markUnread(tk1),
			want: evs(markedUnread(tk1, n)), outcome: domain.OutcomeDone, ticket: tk1,
			check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "mark_unread of an unread ticket changes nothing", given: fresh, now: n, when: markUnread(tk1),
			outcome: domain.OutcomeDone, ticket: tk1},
		{name: "mark_read clears the dot", given: fresh, now: n, when: markRead(tk1),
			want: evs(markedRead(tk1, n)), check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "mark_read of a read ticket changes nothing", given: read, now: n, when: markRead(tk1),
			outcome: domain.OutcomeDone, ticket: tk1},
		{name: "mark_read keeps a snoozed ticket snoozed",
			given: cat(fresh, evs(snoozed(tk1, t0, later(day)))), now: n, when: markRead(tk1),
			want: evs(markedRead(tk1, n)), check: checkTicket(tk1, domain.StatusSnoozed, false)},
		{name: "reply leaves an unread ticket unread", given: fresh, now: n, when: replyTo(tk1),
			want: evs(replied(tk1, n)), outcome: domain.OutcomeDone, ticket: tk1,
			check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "reply leaves a read ticket read", given: read, now: n, when: replyTo(tk1),
			want: evs(replied(tk1, n)), check: checkTicket(tk1, domain.StatusOpen, false)},
		{name: "reply keeps a snoozed ticket snoozed until the same time", given: snoozedT1, now: n,
			when: replyTo(tk1), want: evs(replied(tk1, n)),
			check: checks(checkTicket(tk1, domain.StatusSnoozed, false), func(t *testing.T, w *world, _ domain.Decision) {
				if tk := w.ticket(t, tk1); !tk.SnoozedUntil.Equal(later(day)) || tk.Replies != 1 {
					t.Fatalf("after reply: until %v replies %d", tk.SnoozedUntil, tk.Replies)
				}
			})},
		{name: "assign leaves the dot", given: fresh, now: n, when: assignTo(tk1, ptr(userID(domain.RoleManager))),
			want: evs(assigned(tk1, n, userID(domain.RoleManager))), check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "unassign leaves the dot", given: assignedUnread, now: n, when: assignTo(tk1, nil),
			want: evs(assigned(tk1, n, "")), check: checkTicket(tk1, domain.StatusOpen, true)},
		{name: "close leaves the dot", given: fresh, now: n, when: closeTicket(tk1),
			want: evs(closed(tk1, n, domain.CloseAgent)), outcome: domain.OutcomeDone, ticket: tk1,
			check: checks(checkTicket(tk1, domain.StatusClosed, true), checkActive(prof, ""))},
		{name: "close of a snoozed ticket clears its until", given: snoozedT1, now: n, when: closeTicket(tk1),
			want: evs(closed(tk1, n, domain.CloseAgent)),
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if tk := w.ticket(t, tk1); tk.Status != domain.StatusClosed || !tk.SnoozedUntil.IsZero() || !tk.ClosedAt.Equal(n) {
					t.Fatalf("closed snoozed ticket: %+v", tk)
				}
			}},
	})
}

func TestR6Block(t *testing.T) {
	t.Parallel()
	h := time.Hour
	m := time.Minute
	rich := evs(
		opened(tk1, t0), received(tk1, t0), replied(tk1, later(m)), received(tk1, later(2*m)),
		closed(tk1, later(h), domain.CloseAgent),
		opened(tk2, later(100*h)), received(tk2, later(100*h)), snoozed(tk2, later(101*h), later(200*h)),
	)
	b := later(102 * h)
	phoneHist := cat(
		evs(opened(tk1, t0), received(tk1, t0, fromPhone(phone1)), linked(phone1, prof, t0)),
		of(prof2, opened(tk2, later(m)), received(tk2, later(m), fromPhone(phone1))),
		evs(linked(phone1, prof2, later(m))),
	)
	prof2Blocked := of(prof2, blocked(later(2*m)), closed(tk2, later(2*m), domain.CloseProfileBlocked),
		erased(tk2, later(2*m), inboundID(tk2, later(m))))
	phoneBlock := cat(evs(phoneBlocked(phone1, later(h)), blockedVia(later(h), phone1),
		closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0))),
		prof2Blocked)
	isBlocked := func(id, via string, want bool) func(*testing.T, *world, domain.Decision) {
		return func(t *testing.T, w *world, _ domain.Decision) {
			t.Helper()
			p := w.profile(id)
			if p.Blocked != want || p.BlockedVia != via {
				t.Fatalf("profile %s blocked=%v via %q, want blocked=%v via %q", id, p.Blocked, p.BlockedVia, want, via)
			}
		}
	}
	causes := func(id string, want ...string) func(*testing.T, *world, domain.Decision) {
		return func(t *testing.T, w *world, _ domain.Decision) {
			t.Helper()
			if got := w.profile(id).BlockedBy; !slices.Equal(got, want) {
				t.Fatalf("profile %s blocked by %q, want %q", id, got, want)
			}
		}
	}
	noInbound := func(ids ...string) func(*testing.T, *world, domain.Decision) {
		return func(t *testing.T, w *world, _ domain.Decision) {
			t.Helper()
			for _, id := range ids {
				if in := w.ticket(t, id).Inbound; len(in) != 0 {
					t.Fatalf("ticket %s still lists inbound messages %v", id, in)
				}
			}
		}
	}
	runRules(t, []ruleCase{
		{
			name:  "block closes the snoozed ticket and erases every inbound message of every ticket",
			given: rich, now: b, when: blockProfile(prof),
			want: evs(blocked(b), closed(tk2, b, domain.CloseProfileBlocked),
				erased(tk1, b, inboundID(tk1, t0), inboundID(tk1, later(2*m))),
				erased(tk2, b, inboundID(tk2, later(100*h)))),
			outcome: domain.OutcomeDone,
			check: checks(isBlocked(prof, "", true), noInbound(tk1, tk2), checkActive(prof, ""),
				func(t *testing.T, w *world, d domain.Decision) {
					tk := w.ticket(t, tk2)
					if tk.Status != domain.StatusClosed || tk.CloseReason != domain.CloseProfileBlocked || !tk.SnoozedUntil.IsZero() {
						t.Fatalf("blocked profile's snoozed ticket: %+v", tk)
					}
					if w.ticket(t, tk1).Replies != 1 || w.ticket(t, tk1).CloseReason != domain.CloseAgent {
						t.Fatalf("block touched the agent's reply or the earlier close: %+v", w.ticket(t, tk1))
					}
					if d.ProfileID != prof {
						t.Fatalf("decision profile %q", d.ProfileID)
					}
				}),
		},
		{
			name: "block of an open ticket closes it", given: fresh, now: later(h), when: blockProfile(prof),
			want: evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
				erased(tk1, later(h), inboundID(tk1, t0))),
		},
		{
			name: "block of a profile with nothing to erase only blocks", now: later(h), when: blockProfile(prof2),
			want: of(prof2, blocked(later(h))), check: isBlocked(prof2, "", true),
		},
		{
			name: "block of an already blocked profile changes nothing",
			given: cat(fresh, evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
				erased(tk1, later(h), inboundID(tk1, t0)))),
			now: later(2 * h), when: blockProfile(prof), outcome: domain.OutcomeDone,
		},
		{
			name: "block by profile leaves its phone unblocked", given: phoneHist, now: later(h), when: blockProfile(prof),
			want: evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0))),
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if w.phones[phone1].Blocked {
					t.Fatal("block by profile blocked the phone")
				}
			},
		},
		{
			name:  "block by phone blocks the phone and every profile that wrote from it",
			given: phoneHist, now: later(h), when: blockPhone(phone1),
			want: cat(evs(phoneBlocked(phone1, later(h)), blockedVia(later(h), phone1),
				closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0))),
				of(prof2, blockedVia(later(h), phone1), closed(tk2, later(h), domain.CloseProfileBlocked),
					erased(tk2, later(h), inboundID(tk2, later(m))))),
			outcome: domain.OutcomeDone,
			check: checks(isBlocked(prof, phone1, true), isBlocked(prof2, phone1, true), noInbound(tk1, tk2),
				func(t *testing.T, w *world, _ domain.Decision) {
					if !w.phones[phone1].Blocked {
						t.Fatal("phone not blocked")
					}
				}),
		},
		{
			name:  "block by phone adds its cause to a profile already blocked directly, and closes and erases nothing more",
			given: cat(phoneHist, prof2Blocked), now: later(h), when: blockPhone(phone1),
			want: cat(evs(phoneBlocked(phone1, later(h)), blockedVia(later(h), phone1),
				closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0))),
				of(prof2, blockedVia(later(h), phone1))),
			check: checks(isBlocked(prof2, "", true), causes(prof2, "", phone1)),
		},
		{
			name: "block by phone of a number nobody wrote from blocks only the number",
			now:  later(h), when: blockPhone(phone2), want: evs(phoneBlocked(phone2, later(h))),
		},
		{
			name:  "block by phone already done changes nothing",
			given: cat(phoneHist, phoneBlock, of(prof2, blockedVia(later(h), phone1))), now: later(2 * h),
			when: blockPhone(phone1), outcome: domain.OutcomeDone,
		},
		{
			name:  "block by phone again adds the cause to a linked profile that lacks it",
			given: cat(phoneHist, phoneBlock), now: later(2 * h), when: blockPhone(phone1),
			want:  of(prof2, blockedVia(later(2*h), phone1)),
			check: checks(isBlocked(prof2, "", true), causes(prof2, "", phone1), causes(prof, phone1)),
		},
		{
			name: "block by phone of a profile blocked through another phone adds the cause and nothing more",
			given: cat(phoneHist, evs(linked(phone2, prof2, t0), phoneBlocked(phone2, later(h))),
				of(prof2, blockedVia(later(h), phone2), closed(tk2, later(h), domain.CloseProfileBlocked),
					erased(tk2, later(h), inboundID(tk2, later(m))))),
			now: later(2 * h), when: blockPhone(phone1),
			want: cat(evs(phoneBlocked(phone1, later(2*h)), blockedVia(later(2*h), phone1),
				closed(tk1, later(2*h), domain.CloseProfileBlocked), erased(tk1, later(2*h), inboundID(tk1, t0))),
				of(prof2, blockedVia(later(2*h), phone1))),
			check: checks(isBlocked(prof2, phone2, true), causes(prof2, phone2, phone1)),
		},
		{
			name:  "block by id of a profile blocked through a phone makes the block its own",
			given: cat(phoneHist, phoneBlock), now: later(2 * h), when: blockProfile(prof),
			want: evs(blocked(later(2 * h))), check: isBlocked(prof, "", true),
		},
		{
			name: "unblock lets the profile in again and erased messages stay erased",
			given: cat(fresh, evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
				erased(tk1, later(h), inboundID(tk1, t0)))),
			now: later(2 * h), when: unblockProfile(prof), want: evs(unblocked(later(2 * h))), outcome: domain.OutcomeDone,
			check: checks(isBlocked(prof, "", false), noInbound(tk1), checkTicket(tk1, domain.StatusClosed, true)),
		},
		{
			name: "unblock of a profile not blocked changes nothing", given: fresh, now: later(h), when: unblockProfile(prof),
		},
		{
			name: "unblock by phone unblocks profiles blocked through it, not ones blocked directly",
			given: cat(phoneHist, evs(phoneBlocked(phone1, later(h)), blockedVia(later(h), phone1),
				closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0))),
				prof2Blocked),
			now: later(2 * h), when: unblockPhone(phone1),
			want:  evs(phoneUnblocked(phone1, later(2*h)), unblockedVia(later(2*h), phone1)),
			check: checks(isBlocked(prof, "", false), isBlocked(prof2, "", true), causes(prof), causes(prof2, "")),
		},
		{
			name: "unblock by phone removes its cause from a profile also blocked directly, which stays blocked",
			given: cat(phoneHist, evs(phoneBlocked(phone1, later(h)), blockedVia(later(h), phone1),
				closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0))),
				prof2Blocked, of(prof2, blockedVia(later(h), phone1))),
			now: later(2 * h), when: unblockPhone(phone1),
			want: cat(evs(phoneUnblocked(phone1, later(2*h)), unblockedVia(later(2*h), phone1)),
				of(prof2, unblockedVia(later(2*h), phone1))),
			check: checks(isBlocked(prof, "", false), isBlocked(prof2, "", true), causes(prof2, "")),
		},
		{
			name:  "unblock by id clears every cause, phones included",
			given: cat(phoneHist, phoneBlock, of(prof2, blockedVia(later(h), phone1))),
			now:   later(2 * h), when: unblockProfile(prof2), want: of(prof2, unblocked(later(2*h))),
			check: checks(isBlocked(prof2, "", false), causes(prof2), causes(prof, phone1),
				func(t *testing.T, w *world, _ domain.Decision) {
					if !w.phones[phone1].Blocked {
						t.Fatal("unblock by profile unblocked the phone")
					}
				}),
		},
		{
			name: "unblock by phone leaves a profile blocked through another phone",
			given: cat(phoneHist, evs(phoneBlocked(phone1, later(h)), linked(phone2, prof2, t0), phoneBlocked(phone2, later(h))),
				of(prof2, blockedVia(later(h), phone2))),
			now: later(2 * h), when: unblockPhone(phone1),
			want:  evs(phoneUnblocked(phone1, later(2*h))),
			check: checks(isBlocked(prof2, phone2, true), causes(prof2, phone2)),
		},
		{
			name: "unblock by phone not blocked changes nothing", given: phoneHist, now: later(h), when: unblockPhone(phone1),
		},
		{name: "block needs a target", when: domain.Block{}, err: domain.EInvalid, msg: "profile_id or phone"},
		{name: "unblock needs a valid phone", when: unblockPhone("0612345678"), err: domain.EInvalid, msg: "phone"},
	})
}

// Walks a profile through block, a dropped message, unblock and a new
// message, checking the state between the steps.
func TestR6UnblockThenMessageOpensNewTicket(t *testing.T) {
	t.Parallel()
	h := time.Hour
	w := given(fresh...)
	when(t, w, replyTo(tk1), at(later(h/2))).then(replied(tk1, later(h/2)))
	when(t, w, blockProfile(prof), at(later(h))).then(blocked(later(h)),
		closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0)))
	when(t, w, inbound(prof), at(later(90*time.Minute))).then().outcome(domain.OutcomeDroppedBlocked)
	when(t, w, unblockProfile(prof), at(later(2*h))).then(unblocked(later(2 * h)))
	r := when(t, w, inbound(prof), at(later(3*h))).
		then(opened(newTk, later(3*h)), received(newTk, later(3*h))).outcome(domain.OutcomeOpened)
	old := w.ticket(t, tk1)
	if old.Status != domain.StatusClosed || len(old.Inbound) != 0 || old.Replies != 1 {
		t.Fatalf("old ticket after unblock: %+v", old)
	}
	if w.profile(prof).ActiveID != r.d.TicketID {
		t.Fatalf("active ticket %q, want the new %q", w.profile(prof).ActiveID, r.d.TicketID)
	}
}

// A profile blocked by id stays blocked when a phone it wrote from is
// unblocked, even if the phone's block had blocked it first.
func TestR6DirectBlockOutlivesPhoneUnblock(t *testing.T) {
	t.Parallel()
	h := time.Hour
	w := given(opened(tk1, t0), received(tk1, t0, fromPhone(phone1)), linked(phone1, prof, t0))
	when(t, w, blockPhone(phone1), at(later(h))).then(phoneBlocked(phone1, later(h)), blockedVia(later(h), phone1),
		closed(tk1, later(h), domain.CloseProfileBlocked), erased(tk1, later(h), inboundID(tk1, t0)))
	when(t, w, blockProfile(prof), at(later(2*h))).then(blocked(later(2 * h)))
	if p := w.profile(prof); p.BlockedVia != "" {
		t.Fatalf("profile blocked by id and by phone has BlockedVia %q, want \"\"", p.BlockedVia)
	}
	when(t, w, unblockPhone(phone1), at(later(3*h))).then(phoneUnblocked(phone1, later(3*h)),
		unblockedVia(later(3*h), phone1))
	when(t, w, inbound(prof), at(later(4*h))).then().outcome(domain.OutcomeDroppedBlocked)
	if p := w.profile(prof); !p.Blocked || !slices.Equal(p.BlockedBy, []string{""}) {
		t.Fatalf("profile after phone unblock: blocked=%v by %q, want blocked by id", p.Blocked, p.BlockedBy)
	}
}

// A profile that wrote from two phones stays blocked while either phone is
// blocked, whichever order the phones are blocked and unblocked in.
func TestR6PhoneUnblockKeepsProfileBlockedByAnotherPhone(t *testing.T) {
	t.Parallel()
	h := time.Hour
	for _, order := range [][2]string{{phone1, phone2}, {phone2, phone1}} {
		first, second := order[0], order[1]
		t.Run("first "+first, func(t *testing.T) {
			t.Parallel()
			w := given(opened(tk1, t0), received(tk1, t0, fromPhone(phone1)), linked(phone1, prof, t0),
				received(tk1, later(time.Second), fromPhone(phone2)), linked(phone2, prof, later(time.Second)))
			when(t, w, blockPhone(first), at(later(h))).then(phoneBlocked(first, later(h)), blockedVia(later(h), first),
				closed(tk1, later(h), domain.CloseProfileBlocked),
				erased(tk1, later(h), inboundID(tk1, t0), inboundID(tk1, later(time.Second))))
			// Already blocked: the second phone is recorded as a cause, with
			// nothing left to close or erase.
			when(t, w, blockPhone(second), at(later(2*h))).then(phoneBlocked(second, later(2*h)),
				blockedVia(later(2*h), second))
			if p := w.profile(prof); p.BlockedVia != first || !slices.Equal(p.BlockedBy, []string{first, second}) {
				t.Fatalf("profile blocked via %q by %q, want via %s by both phones", p.BlockedVia, p.BlockedBy, first)
			}
			when(t, w, unblockPhone(first), at(later(3*h))).then(phoneUnblocked(first, later(3*h)),
				unblockedVia(later(3*h), first))
			if p := w.profile(prof); !p.Blocked || p.BlockedVia != second {
				t.Fatalf("profile blocked=%v via %q while %s, which it wrote from, is still blocked", p.Blocked, p.BlockedVia, second)
			}
			when(t, w, inbound(prof), at(later(4*h))).then().outcome(domain.OutcomeDroppedBlocked)
			when(t, w, unblockPhone(second), at(later(5*h))).then(phoneUnblocked(second, later(5*h)),
				unblockedVia(later(5*h), second))
			if p := w.profile(prof); p.Blocked || p.BlockedVia != "" || len(p.BlockedBy) != 0 {
				t.Fatalf("profile blocked=%v via %q by %q after both phones were unblocked", p.Blocked, p.BlockedVia, p.BlockedBy)
			}
			// The ticket the block closed stays closed: a new one opens.
			when(t, w, inbound(prof), at(later(6*h))).then(opened(newTk, later(6*h)), received(newTk, later(6*h))).
				outcome(domain.OutcomeOpened)
		})
	}
}

func TestR7Assign(t *testing.T) {
	t.Parallel()
	n := later(time.Hour)
	support := userID(domain.RoleSupport)
	var cases []ruleCase
	for _, role := range domain.Roles {
		c := ruleCase{given: read, now: n, when: assignTo(tk1, ptr(userID(role)))}
		if role.Can(domain.PermInboxRead) {
			c.name = "assign to a " + string(role) + " user"
			c.want = evs(assigned(tk1, n, userID(role)))
			c.outcome = domain.OutcomeDone
			c.ticket = tk1
			c.check = func(t *testing.T, w *world, _ domain.Decision) {
				if got := w.ticket(t, tk1).AssigneeID; got != userID(role) {
					t.Fatalf("assignee %q, want %q", got, userID(role))
				}
			}
		} else {
			c.name = "assign to a " + string(role) + " user, who has no inbox, fails"
			c.err = domain.EInvalid
			c.msg = string(role)
		}
		cases = append(cases, c)
	}
	withSupport := cat(read, evs(assigned(tk1, t0, support)))
	cases = append(cases,
		ruleCase{name: "assign to the current assignee changes nothing", given: withSupport, now: n,
			when: assignTo(tk1, ptr(support)), outcome: domain.OutcomeDone, ticket: tk1},
		ruleCase{name: "assign to another user moves the ticket", given: withSupport, now: n,
			when: assignTo(tk1, ptr(userID(domain.RoleOwner))), want: evs(assigned(tk1, n, userID(domain.RoleOwner)))},
		ruleCase{name: "null unassigns", given: withSupport, now: n, when: assignTo(tk1, nil),
			want: evs(assigned(tk1, n, "")),
			check: func(t *testing.T, w *world, _ domain.Decision) {
				if got := w.ticket(t, tk1).AssigneeID; got != "" {
					t.Fatalf("assignee %q after unassign", got)
				}
			}},
		ruleCase{name: "null on an unassigned ticket changes nothing", given: read, now: n, when: assignTo(tk1, nil)},
		ruleCase{name: "assign keeps a snoozed ticket snoozed", given: snoozedT1, now: n,
			when: assignTo(tk1, ptr(support)), want: evs(assigned(tk1, n, support)),
			check: checkTicket(tk1, domain.StatusSnoozed, false)},
		ruleCase{name: "assignee that is not a user id fails", given: read, now: n,
			when: assignTo(tk1, ptr("bob")), err: domain.EInvalid, msg: "assignee_id"},
	)
	runRules(t, cases)
}

func TestR8TimeNeverRunsBackwards(t *testing.T) {
	t.Parallel()
	h := time.Hour
	late := later(5 * h)
	// The profile's last event is at late; the clock reads t0, 5h earlier.
	hist := cat(read, evs(replied(tk1, late)))
	blockedLate := cat(fresh, evs(blocked(late), closed(tk1, late, domain.CloseProfileBlocked)))
	yekt := time.FixedZone("YEKT", 5*3600)
	runRules(t, []ruleCase{
		{name: "inbound", given: hist, when: inbound(prof), want: evs(received(tk1, late))},
		{name: "reply", given: hist, when: replyTo(tk1), want: evs(replied(tk1, late))},
		{name: "assign", given: hist, when: assignTo(tk1, ptr(userID(domain.RoleAdmin))),
			want: evs(assigned(tk1, late, userID(domain.RoleAdmin)))},
		{name: "snooze by duration counts from the event time", given: hist, when: snoozeFor(tk1, "1h"),
			want: evs(snoozed(tk1, late, late.Add(h)))},
		{name: "snooze until a time before the event time fails", given: hist, when: snoozeUntil(tk1, later(2*h)),
			err: domain.EInvalid, msg: "future"},
		{name: "snooze until at most 366 days after the event time",
			given: hist, when: snoozeUntil(tk1, late.Add(366*day)), want: evs(snoozed(tk1, late, late.Add(366*day)))},
		{name: "unsnooze", given: cat(hist, evs(snoozed(tk1, late, late.Add(day)))), when: unsnooze(tk1),
			want: evs(woke(tk1, late, domain.WakeAgent))},
		{name: "mark_unread", given: hist, when: markUnread(tk1), want: evs(markedUnread(tk1, late))},
		{name: "close", given: hist, when: closeTicket(tk1), want: evs(closed(tk1, late, domain.CloseAgent))},
		{name: "block", given: hist, when: blockProfile(prof),
			want: evs(blocked(late), closed(tk1, late, domain.CloseProfileBlocked), erased(tk1, late, inboundID(tk1, t0)))},
		{name: "unblock", given: blockedLate, when: unblockProfile(prof), want: evs(unblocked(late))},
		{name: "a phone's later event raises an inbound's time",
			given: cat(read, evs(linked(phone1, prof, late))), when: inbound(prof, viaPhone(phone1)),
			want: evs(received(tk1, late, fromPhone(phone1)))},
		{name: "a linked profile's later event raises a phone block's time",
			given: cat(evs(opened(tk1, t0), received(tk1, t0, fromPhone(phone1)), linked(phone1, prof, t0)),
				evs(replied(tk1, late))),
			when: blockPhone(phone1),
			want: evs(phoneBlocked(phone1, late), blockedVia(late, phone1), closed(tk1, late, domain.CloseProfileBlocked),
				erased(tk1, late, inboundID(tk1, t0)))},
		{name: "a phone's later event raises a phone unblock's time",
			given: evs(linked(phone1, prof, t0), phoneBlocked(phone1, late)), when: unblockPhone(phone1),
			want: evs(phoneUnblocked(phone1, late))},
		{name: "a clock in another zone still gives UTC events", given: hist, now: later(6 * h).In(yekt),
			when: replyTo(tk1), want: evs(replied(tk1, later(6*h)))},
		{name: "the reopen window is measured from the raised time",
			given: cat(closedT1, evs(markedRead(tk1, later(80*h)))), now: later(2 * h), when: inbound(prof),
			want: evs(opened(newTk, later(80*h)), received(newTk, later(80*h))), outcome: domain.OutcomeOpened},
		{name: "a due wake-up is judged from the raised time",
			given: cat(read, evs(snoozed(tk1, t0, later(3*h)), replied(tk1, later(4*h)))), now: later(h),
			when: wakeOf(tk1), want: evs(woke(tk1, later(4*h), domain.WakeTimer))},
	})
}

func TestR9MessageIDDeduplicates(t *testing.T) {
	t.Parallel()
	h := time.Hour
	seen := evs(opened(tk1, t0), received(tk1, t0, extID("gw-1")))
	repeatOf := func(first string) func(*testing.T, *world, domain.Decision) {
		return func(t *testing.T, _ *world, d domain.Decision) {
			t.Helper()
			if d.RepeatOf != first || d.ProfileID != prof {
				t.Fatalf("decision %+v, want a repeat of %s for %s", d, first, prof)
			}
		}
	}
	second := received(tk1, later(h), extID("gw-1"))
	second.CommandID = uid(102)
	runRules(t, []ruleCase{
		{name: "a message_id seen before is a repeat of the first command", given: seen, now: later(h),
			when: inbound(prof, messageID("gw-1")), check: repeatOf(earlierCmd)},
		{name: "a repeat long after the ticket closed is still a repeat",
			given: cat(seen, evs(closed(tk1, later(h), domain.CloseAgent))), now: later(400 * day),
			when: inbound(prof, messageID("gw-1")), check: repeatOf(earlierCmd)},
		{name: "a repeat after a block returns the first result",
			given: cat(seen, evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
				erased(tk1, later(h), inboundID(tk1, t0)))), now: later(2 * h),
			when: inbound(prof, messageID("gw-1")), check: repeatOf(earlierCmd)},
		{name: "the first command is kept when a message_id was recorded twice",
			given: cat(seen, evs(second)), now: later(2 * h),
			when: inbound(prof, messageID("gw-1")), check: repeatOf(earlierCmd)},
		{name: "another message_id is a new message", given: seen, now: later(h),
			when: inbound(prof, messageID("gw-2")), want: evs(received(tk1, later(h), extID("gw-2"))),
			outcome: domain.OutcomeAppended,
			check: func(t *testing.T, _ *world, d domain.Decision) {
				if d.RepeatOf != "" {
					t.Fatalf("new message taken as a repeat of %s", d.RepeatOf)
				}
			}},
		{name: "message_ids are per profile", given: of(prof2, seen...), now: later(h),
			when: inbound(prof, messageID("gw-1")), want: evs(opened(newTk, later(h)), received(newTk, later(h), extID("gw-1"))),
			outcome: domain.OutcomeOpened},
		{name: "a message without message_id is never a repeat", given: cat(fresh, evs(received(tk1, t0, extID("")))),
			when: inbound(prof), want: evs(received(tk1, t0))},
	})
}

func TestR10RoleTable(t *testing.T) {
	t.Parallel()
	perms := []domain.Permission{domain.PermInboxRead, domain.PermTicketCommands, domain.PermInbound, domain.PermManageUsers}
	// Columns in the contract's order: inbox reads, ticket and profile
	// commands, inbound messages, manage users.
	table := map[domain.Role][4]bool{
		domain.RoleOwner:               {true, true, true, true},
		domain.RoleAdmin:               {true, true, true, true},
		domain.RoleManager:             {true, true, true, false},
		domain.RoleSupport:             {true, true, true, false},
		domain.RoleAnalyst:             {false, false, false, false},
		domain.RoleCampaignCoordinator: {false, false, false, false},
		domain.RoleContentCreator:      {false, false, false, false},
		domain.RoleIntegration:         {false, false, true, false},
		"":                             {false, false, false, false},
		"root":                         {false, false, false, false},
		"Owner":                        {false, false, false, false},
	}
	if len(domain.Roles) != 8 {
		t.Fatalf("domain.Roles has %d roles, the contract 8", len(domain.Roles))
	}
	for _, r := range domain.Roles {
		if _, ok := table[r]; !ok || !r.Valid() {
			t.Fatalf("role %q is not in the contract's table or not valid", r)
		}
	}
	for role, row := range table {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel()
			if role.Valid() != slices.Contains(domain.Roles, role) {
				t.Fatalf("Valid() = %v", role.Valid())
			}
			for i, p := range perms {
				if got := role.Can(p); got != row[i] {
					t.Errorf("Can(%s) = %v, want %v", p, got, row[i])
				}
				err := role.Authorize(p, "do "+string(p))
				switch {
				case row[i] && err != nil:
					t.Errorf("Authorize(%s) = %v, want nil", p, err)
				case !row[i] && (domain.ErrorCode(err) != domain.EForbidden || !errors.Is(err, domain.ErrForbidden) ||
					!strings.Contains(domain.ErrorMessage(err), string(p))):
					t.Errorf("Authorize(%s) = %v, want a forbidden error naming the action", p, err)
				}
			}
			if role.Can("delete_everything") {
				t.Errorf("Can grants an unknown permission")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	closedErr := domain.Errorf(domain.ETicketClosed, "ticket %s is closed", tk1)
	wrapped := fmt.Errorf("deciding: %w", closedErr)
	plain := errors.New("disk on fire at /var/lib/secret")
	cases := []struct {
		name     string
		err      error
		code     string
		msg      string
		isClosed bool
	}{
		{"nil", nil, "", "", false},
		{"domain error", closedErr, domain.ETicketClosed, "ticket " + tk1 + " is closed", true},
		{"wrapped domain error", wrapped, domain.ETicketClosed, "ticket " + tk1 + " is closed", true},
		// A foreign error must not leak its text to the caller.
		{"foreign error", plain, domain.EInternal, "internal error", false},
		{"other code", domain.Errorf(domain.ENotFound, "x"), domain.ENotFound, "x", false},
	}
	for _, c := range cases {
		if got := domain.ErrorCode(c.err); got != c.code {
			t.Errorf("%s: ErrorCode = %q, want %q", c.name, got, c.code)
		}
		if got := domain.ErrorMessage(c.err); got != c.msg {
			t.Errorf("%s: ErrorMessage = %q, want %q", c.name, got, c.msg)
		}
		if got := errors.Is(c.err, domain.ErrTicketClosed); got != c.isClosed {
			t.Errorf("%s: errors.Is(ErrTicketClosed) = %v", c.name, got)
		}
	}
	// A target with a message is a specific error, not a code sentinel.
	if errors.Is(closedErr, domain.Errorf(domain.ETicketClosed, "another message")) {
		t.Error("errors.Is matched a target with a different message")
	}
	if got := closedErr.Error(); got != "ticket_closed: ticket "+tk1+" is closed" {
		t.Errorf("Error() = %q", got)
	}
}

// TestRoleManagementMatrix walks every cell of docs/security.md's
// role-management matrix: who may create a user of which role.
func TestRoleManagementMatrix(t *testing.T) {
	t.Parallel()
	for _, actor := range domain.Roles {
		for _, target := range domain.Roles {
			manages := actor.Can(domain.PermManageUsers)
			want := manages && (target != domain.RoleOwner && target != domain.RoleAdmin || actor == domain.RoleOwner)
			c := domain.Context{Now: t0, Actor: domain.Actor{UserID: uid(1), Role: actor}, CommandID: cmdID, NewID: func() string { return uid(2) }}
			if got := c.Actor.MayGrant(target); got != want {
				t.Errorf("%s may grant %s: %v, want %v", actor, target, got, want)
			}
			if !manages {
				continue // refused before any decision: the engine checks manage_users first
			}
			_, err := domain.DecideCreateUser("Ada", target, "hash", c)
			if want && err != nil || !want && domain.ErrorCode(err) != domain.EForbidden {
				t.Errorf("%s creates %s: %v, want allowed %v", actor, target, err, want)
			}
		}
	}
	if !domain.SystemBootstrap.MayGrant(domain.RoleOwner) {
		t.Error("the engine cannot make the first owner")
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	n := 0
	c := domain.Context{Now: t0.In(time.FixedZone("X", -3600)), Actor: domain.SystemBootstrap, CommandID: cmdID,
		NewID: func() string { n++; return uid(500 + n) }}
	d, err := domain.DecideCreateUser("  Ada  ", domain.RoleManager, "hash", c)
	if err != nil || len(d.Events) != 1 {
		t.Fatalf("create user: %v, %d events", err, len(d.Events))
	}
	e := d.Events[0]
	u := domain.UserFromEvent(e)
	want := domain.User{ID: u.ID, Name: "Ada", Role: domain.RoleManager, TokenHash: "hash"}
	if e.Type != domain.UserCreated || e.Aggregate != domain.UserKey(u.ID) || !domain.ValidUUID(u.ID) ||
		u != want || !e.At.Equal(t0) || e.At.Location() != time.UTC || e.Actor != domain.SystemBootstrap {
		t.Fatalf("created %+v from %+v", u, e)
	}
	bad := []struct {
		name string
		role domain.Role
		msg  string
	}{
		{"", domain.RoleSupport, "name"},
		{"   ", domain.RoleSupport, "name"},
		{strings.Repeat("a", 101), domain.RoleSupport, "name"},
		{"a\x00b", domain.RoleSupport, "name"},
		{"Ada", "root", "role"},
		{"Ada", "", "role"},
	}
	for _, b := range bad {
		_, err := domain.DecideCreateUser(b.name, b.role, "hash", c)
		if domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(domain.ErrorMessage(err), b.msg) {
			t.Errorf("create user %q %q: %v, want invalid_argument about %s", b.name, b.role, err, b.msg)
		}
	}
	if _, err := domain.DecideCreateUser(strings.Repeat("é", 100), domain.RoleSupport, "h", c); err != nil {
		t.Errorf("100-character name refused: %v", err)
	}
}
