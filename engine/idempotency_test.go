package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// TestCommandIDForever resends commands with the same command_id: right
// away, after JetStream's duplicate window has passed, after the engine was
// restarted from the log, and to another instance. Each time the first
// result comes back and nothing is appended (R9).
func TestCommandIDForever(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	ctx := context.Background()

	// Shrink the server's duplicate window so the test can outlive it: the
	// engine must not depend on it.
	const window = 100 * time.Millisecond
	cfg := h.log.Stream().CachedInfo().Config
	cfg.Duplicates = window
	if _, err := h.log.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	inbound := map[string]any{"command_id": newCommandID(), "profile_id": "ivy", "body": "hi"}
	first := mustOK(t, send(t, nc, e.owner, "inbound", inbound))
	closeCmd := map[string]any{"command_id": newCommandID(), "ticket_id": first.TicketID}
	closed := mustOK(t, send(t, nc, e.owner, "close", closeCmd))
	last, _ := h.log.LastSeq(ctx)

	// What is waited for here is the server's window to expire, not work.
	time.Sleep(2 * window)

	check := func(when string) {
		t.Helper()
		again := mustOK(t, send(t, nc, e.owner, "inbound", inbound))
		if again != first {
			t.Errorf("%s: inbound repeat gave %+v, first was %+v", when, again, first)
		}
		// A repeat of the close must not fail on the now-closed ticket.
		if r := mustOK(t, send(t, nc, e.owner, "close", closeCmd)); r != closed {
			t.Errorf("%s: close repeat gave %+v, first was %+v", when, r, closed)
		}
		now, _ := h.log.LastSeq(ctx)
		if now != last {
			t.Fatalf("%s: a repeat appended %d events", when, now-last)
		}
	}
	check("after the duplicate window")

	h.stop()
	h = e.startEngine()
	check("after a restart")
	e.startEngine()
	e.clock.Advance(400 * 24 * time.Hour)
	check("a year later, with two instances")

	// A block that closes a ticket answers its repeat exactly as it did
	// the first time, by profile and by phone.
	mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "jon", "body": "hi", "phone": "+4930123456"}))
	for _, target := range []map[string]any{{"profile_id": "jon"}, {"phone": "+4930123456"}} {
		target["command_id"] = newCommandID()
		first := mustOK(t, send(t, nc, e.owner, "block", target))
		if again := mustOK(t, send(t, nc, e.owner, "block", target)); again != first {
			t.Errorf("block %v repeat gave %+v, first was %+v", target, again, first)
		}
		if first.TicketID != "" {
			t.Errorf("block %v names ticket %s", target, first.TicketID)
		}
	}

	// A gateway's message_id deduplicates redelivered messages per profile.
	m := map[string]any{"profile_id": "ivy", "body": "again", "message_id": "sms-123"}
	firstMsg := mustOK(t, send(t, nc, e.owner, "inbound", m))
	before, _ := h.log.LastSeq(ctx)
	if r := mustOK(t, send(t, nc, e.owner, "inbound", m)); r != firstMsg {
		t.Errorf("redelivered message_id: %+v, first %+v", r, firstMsg)
	}
	if after, _ := h.log.LastSeq(ctx); after != before {
		t.Errorf("a redelivered message appended %d events", after-before)
	}
	if firstMsg.Outcome != domain.OutcomeOpened {
		t.Errorf("message after 400 days: %+v", firstMsg)
	}
}
