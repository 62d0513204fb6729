package domain_test

import (
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

func noteOn(ticket, text string) domain.Note { return domain.Note{TicketID: ticket, Body: text} }

func noted(ticket string, at time.Time, text string) domain.Event {
	return pev(domain.NoteAdded, ticket, at, &domain.NoteAddedData{NoteID: "note", Body: text})
}

// checkKept asserts what a note must leave alone: status, blue dot and
// assignee.
func checkKept(id string, status domain.Status, unread bool, assignee string) func(*testing.T, *world, domain.Decision) {
	return func(t *testing.T, w *world, d domain.Decision) {
		t.Helper()
		checkTicket(id, status, unread)(t, w, d)
		if got := w.ticket(t, id).AssigneeID; got != assignee {
			t.Fatalf("assignee %q after a note, want %q", got, assignee)
		}
	}
}

// TestNotes: a note is allowed on a ticket in any status, closed ones
// included, and changes nothing but the ticket's thread (spec section 8).
func TestNotes(t *testing.T) {
	t.Parallel()
	h := time.Hour
	support := userID(domain.RoleSupport)
	assignedRead := cat(read, evs(assigned(tk1, t0, support)))
	byBlock := cat(fresh, evs(blocked(later(h)), closed(tk1, later(h), domain.CloseProfileBlocked),
		erased(tk1, later(h), inboundID(tk1, t0))))
	text := "Customer called: parcel found at the neighbour's"
	runRules(t, []ruleCase{
		{name: "on an open unread ticket", given: fresh, now: later(h), when: noteOn(tk1, text),
			want: evs(noted(tk1, later(h), text)), outcome: domain.OutcomeDone, ticket: tk1,
			check: checkKept(tk1, domain.StatusOpen, true, "")},
		{name: "on an assigned read ticket", given: assignedRead, now: later(h), when: noteOn(tk1, text),
			want: evs(noted(tk1, later(h), text)), check: checkKept(tk1, domain.StatusOpen, false, support)},
		{name: "on a snoozed ticket, which stays snoozed", given: snoozedT1, now: later(h), when: noteOn(tk1, text),
			want: evs(noted(tk1, later(h), text)), check: checkKept(tk1, domain.StatusSnoozed, false, "")},
		{name: "on a ticket closed by an agent", given: closedT1, now: later(2 * h), when: noteOn(tk1, text),
			want: evs(noted(tk1, later(2*h), text)), check: checkKept(tk1, domain.StatusClosed, true, "")},
		{name: "on a ticket closed by a block", given: byBlock, now: later(2 * h), when: noteOn(tk1, text),
			want: evs(noted(tk1, later(2*h), text)), check: checkKept(tk1, domain.StatusClosed, true, "")},
		{name: "time never runs backwards", given: cat(read, evs(replied(tk1, later(5*h)))), when: noteOn(tk1, text),
			want: evs(noted(tk1, later(5*h), text))},
		{name: "an unknown ticket is not found", given: fresh, when: noteOn(unknownTicket, text),
			err: domain.ENotFound, msg: unknownTicket},
		{name: "an empty body is invalid", given: fresh, when: noteOn(tk1, " "), err: domain.EInvalid, msg: "body"},
	})
	// A note does not count as a reply: the ticket's replies and delivery
	// statuses are untouched.
	w := given(fresh...)
	when(t, w, noteOn(tk1, text)).then(noted(tk1, t0, text))
	if tk := w.ticket(t, tk1); tk.Replies != 0 || len(tk.ReplyStatus) != 0 || len(tk.Inbound) != 1 {
		t.Fatalf("after a note: %+v", tk)
	}
}

// TestNotesNeverReachWebhooks: not even a webhook subscribed to every
// type receives a note.
func TestNotesNeverReachWebhooks(t *testing.T) {
	t.Parallel()
	all := domain.Webhook{Events: []string{domain.WebhookAll}}
	if all.Wants(domain.NoteAdded) {
		t.Fatal(`a "*" webhook wants NoteAdded`)
	}
	for _, typ := range domain.WebhookEvents {
		if typ == domain.NoteAdded || !all.Wants(typ) {
			t.Errorf("WebhookEvents and \"*\" disagree on %s", typ)
		}
	}
	err := domain.NewWebhook{URL: "https://gw.example/", Events: []string{domain.NoteAdded}}.Validate()
	if domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("a webhook subscribing to NoteAdded: %v, want invalid_argument", err)
	}
}
