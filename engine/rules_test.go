package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// TestInboundOutcomes walks every R2 outcome over NATS, with the test
// clock placing messages at exact distances from a close.
func TestInboundOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startEngine()
	nc := e.client()
	in := func(profile string) reply {
		return send(t, nc, e.owner, "inbound", map[string]any{"profile_id": profile, "body": "hello"})
	}

	first := mustOK(t, in("alice"))
	if first.Outcome != domain.OutcomeOpened || first.TicketID == "" || first.ProfileID != "alice" {
		t.Fatalf("first message: %+v", first)
	}
	second := mustOK(t, in("alice"))
	if second.Outcome != domain.OutcomeAppended || second.TicketID != first.TicketID || second.Position <= first.Position {
		t.Fatalf("second message: %+v (first %+v)", second, first)
	}

	// Snoozed tickets take the message and wake up.
	mustOK(t, send(t, nc, e.owner, "snooze", map[string]any{"ticket_id": first.TicketID, "duration": "2h"}))
	woke := mustOK(t, in("alice"))
	tk, err := e.engines[0].engine.Ticket(context.Background(), first.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if woke.Outcome != domain.OutcomeAppended || tk.Status != domain.StatusOpen || !tk.Unread {
		t.Fatalf("message to snoozed ticket: %+v, ticket %+v", woke, tk)
	}

	// Reopen at exactly 72h after the close.
	mustOK(t, send(t, nc, e.owner, "close", map[string]any{"ticket_id": first.TicketID}))
	e.clock.Advance(72 * time.Hour)
	reopened := mustOK(t, in("alice"))
	if reopened.Outcome != domain.OutcomeReopened || reopened.TicketID != first.TicketID {
		t.Fatalf("at 72h: %+v", reopened)
	}

	// 72h and a nanosecond later, a new ticket.
	mustOK(t, send(t, nc, e.owner, "close", map[string]any{"ticket_id": first.TicketID}))
	e.clock.Advance(72*time.Hour + time.Nanosecond)
	fresh := mustOK(t, in("alice"))
	if fresh.Outcome != domain.OutcomeOpened || fresh.TicketID == first.TicketID {
		t.Fatalf("at 72h+1ns: %+v", fresh)
	}

	// Blocked: dropped, and nothing written.
	mustOK(t, send(t, nc, e.owner, "block", map[string]any{"profile_id": "alice"}))
	before := len(e.events(e.engines[0].log))
	dropped := mustOK(t, in("alice"))
	if dropped.Outcome != domain.OutcomeDroppedBlocked {
		t.Fatalf("blocked: %+v", dropped)
	}
	if after := len(e.events(e.engines[0].log)); after != before {
		t.Fatalf("a dropped message wrote %d events", after-before)
	}

	// Blocked by phone: dropped under any profile.
	mustOK(t, send(t, nc, e.owner, "block", map[string]any{"phone": "+15550001111"}))
	r := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "bob", "body": "hi", "phone": "+15550001111"}))
	if r.Outcome != domain.OutcomeDroppedBlocked {
		t.Fatalf("blocked phone under a new profile: %+v", r)
	}
}

// TestClosedTicket checks R3: a closed ticket refuses every command but
// the read marks, and a block's close is never undone by a message.
func TestClosedTicket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startEngine()
	nc := e.client()
	tk := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "carol", "body": "hi"})).TicketID
	mustOK(t, send(t, nc, e.owner, "close", map[string]any{"ticket_id": tk}))

	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"snooze", map[string]any{"ticket_id": tk, "duration": "1h"}, domain.ETicketClosed},
		{"unsnooze", map[string]any{"ticket_id": tk}, domain.ETicketClosed},
		{"assign", map[string]any{"ticket_id": tk, "assignee_id": nil}, domain.ETicketClosed},
		{"reply", map[string]any{"ticket_id": tk, "body": "late"}, domain.ETicketClosed},
		{"close", map[string]any{"ticket_id": tk}, domain.ETicketClosed},
		{"mark_unread", map[string]any{"ticket_id": tk}, ""},
		{"mark_read", map[string]any{"ticket_id": tk}, ""},
	} {
		r := send(t, nc, e.owner, c.name, c.body)
		if r.Code() != c.code {
			t.Errorf("%s on a closed ticket: got %+v, want code %q", c.name, r, c.code)
		}
	}
	missing := send(t, nc, e.owner, "close", map[string]any{"ticket_id": newCommandID()})
	if missing.Code() != domain.ENotFound {
		t.Errorf("close of an unknown ticket: %+v", missing)
	}
}

// TestWakeAfterDowntime stops every engine, lets the snooze fall due while
// none runs, and checks the next engine wakes the ticket exactly once.
func TestWakeAfterDowntime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	tk := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "dan", "body": "hi"})).TicketID
	mustOK(t, send(t, nc, e.owner, "mark_read", map[string]any{"ticket_id": tk}))
	mustOK(t, send(t, nc, e.owner, "snooze", map[string]any{"ticket_id": tk, "duration": "1h"}))
	h.stop()

	e.clock.Advance(30 * 24 * time.Hour)
	a, b := e.startEngine(), e.startEngine()
	ctx := context.Background()
	// Both instances fire together; the wake-up must still be written once.
	done := make(chan error, 2)
	for _, x := range []*engineHandle{a, b} {
		go func() { _, err := x.engine.Wake(ctx); done <- err }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	woke := 0
	for _, ev := range e.events(a.log) {
		if ev.Type == domain.TicketWoke && ev.TicketID == tk {
			woke++
			if ev.Data.(*domain.TicketWokeData).Reason != domain.WakeTimer || ev.Actor.System != "timer" {
				t.Errorf("wake-up event: %+v", ev.Event)
			}
		}
	}
	if woke != 1 {
		t.Fatalf("wake-ups written: %d, want 1", woke)
	}
	got, err := a.engine.Ticket(ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.StatusOpen || !got.Unread {
		t.Fatalf("after wake-up: %+v", got)
	}
}
