package projections

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// noteCases are TestEventEffects' cases for internal notes (spec section
// 8): a message of direction note with its author, which changes neither
// the inbox order, the preview nor the blue dot, and outlives a block.
var noteCases = []effectCase{
	{"NoteAdded", func(t *testing.T, e *env, v *Views) {
		ctx := testContext(t)
		agent := e.user("Nora", domain.RoleSupport)
		res := e.inbound("nina", "My order never came")
		e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
		e.clock.Advance(time.Minute)
		text := "Called the carrier: lost in Lyon.\nRefund if not found by Friday."
		if _, err := e.eng.Execute(ctx, agent, domain.Note{TicketID: res.TicketID, Body: text}); err != nil {
			t.Fatal(err)
		}
		e.sync(v)
		d := mustTicket(t, v, res.TicketID, e.clock.Now())
		checkSummary(t, d.TicketSummary, TicketSummary{ID: res.TicketID, ProfileID: "nina", Status: StatusOpen,
			LastMessageAt: clockStart, WaitingSince: ptr(clockStart), Preview: "My order never came", MessageCount: 2})
		m := d.Messages[1]
		if len(d.Messages) != 2 || m.Direction != "note" || m.Body != text || m.AuthorID == nil || *m.AuthorID != agent.ID ||
			!m.At.Equal(clockStart.Add(time.Minute)) || m.Status != nil || m.StatusReason != nil || m.ID == "" {
			t.Fatalf("messages = %+v", d.Messages)
		}
		h := history(t, v, res.TicketID)
		if last := h[len(h)-1]; last.Type != domain.NoteAdded || !strings.Contains(string(last.Data), "lost in Lyon") {
			t.Fatalf("last history entry = %+v", last)
		}
	}},
	{"NoteAdded on a closed ticket, then a block", func(t *testing.T, e *env, v *Views) {
		res := e.inbound("omar", "Cancel my subscription")
		e.exec(domain.Reply{TicketID: res.TicketID, Body: "Done."})
		e.exec(domain.Close{TicketCommand: ticketCmd(res.TicketID)})
		e.clock.Advance(time.Minute)
		e.exec(domain.Note{TicketID: res.TicketID, Body: "He was rude on the phone"})
		e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "omar"}})
		e.sync(v)
		d := mustTicket(t, v, res.TicketID, e.clock.Now())
		// The customer's words go; the team's reply and note stay (R6), and
		// the preview is the reply, never the note.
		if d.Status != StatusClosed || d.MessageCount != 2 || d.Preview != "Done." || len(d.Messages) != 2 ||
			d.Messages[0].Direction != "outbound" || d.Messages[1].Direction != "note" {
			t.Fatalf("after the block: %+v", d)
		}
	}},
}
