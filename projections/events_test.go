package projections

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// effectCase is one case of TestEventEffects.
type effectCase struct {
	name string
	run  func(t *testing.T, e *env, v *Views)
}

// TestEventEffects drives a real engine through every event type and checks
// what each does to the views.
func TestEventEffects(t *testing.T) {
	t.Parallel()
	cases := []effectCase{
		{"TicketOpened and MessageReceived", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("alice", "Hello, my order is late")
			e.sync(v)
			d := mustTicket(t, v, res.TicketID, e.clock.Now())
			want := TicketSummary{ID: res.TicketID, ProfileID: "alice", Status: StatusOpen, Unread: true,
				LastMessageAt: clockStart, WaitingSince: ptr(clockStart), Preview: "Hello, my order is late", MessageCount: 1}
			checkSummary(t, d.TicketSummary, want)
			if len(d.Messages) != 1 || d.Messages[0].Direction != "inbound" || d.Messages[0].Body != "Hello, my order is late" ||
				d.Messages[0].AuthorID != nil || !d.Messages[0].At.Equal(clockStart) || d.Messages[0].Status != nil {
				t.Fatalf("messages = %+v", d.Messages)
			}
			p, err := v.Profile(testContext(t), "alice")
			if err != nil || !slices.Equal(p.TicketIDs, []string{res.TicketID}) || p.Blocked {
				t.Fatalf("profile = %+v, %v", p, err)
			}
			h := history(t, v, res.TicketID)
			if types(h) != "TicketOpened MessageReceived" {
				t.Fatalf("history = %s", types(h))
			}
			if strings.Contains(string(h[1].Data), "sealed") || strings.Contains(string(h[1].Data), "order is late") {
				t.Fatalf("history data holds the message: %s", h[1].Data)
			}
			var actor domain.Actor
			if err := json.Unmarshal(h[0].Actor, &actor); err != nil || actor.UserID != e.owner.ID || actor.Role != domain.RoleOwner {
				t.Fatalf("actor = %s", h[0].Actor)
			}
		}},
		{"ReplySent", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("bob", "Where is my parcel?")
			e.clock.Advance(time.Minute)
			reply := strings.Repeat("é", 150)
			e.exec(domain.Reply{TicketID: res.TicketID, Body: reply})
			e.sync(v)
			d := mustTicket(t, v, res.TicketID, e.clock.Now())
			checkSummary(t, d.TicketSummary, TicketSummary{ID: res.TicketID, ProfileID: "bob", Status: StatusOpen,
				Unread: true, LastMessageAt: clockStart.Add(time.Minute), Preview: strings.Repeat("é", 140), MessageCount: 2})
			m := d.Messages[1]
			if m.Direction != "outbound" || m.Body != reply || m.AuthorID == nil || *m.AuthorID != e.owner.ID ||
				orDash(m.Status) != domain.ReplyPending || m.StatusReason != nil {
				t.Fatalf("reply = %+v", m)
			}
			h := history(t, v, res.TicketID)
			if !strings.Contains(string(h[2].Data), reply) {
				t.Fatalf("reply history lost its body: %s", h[2].Data)
			}
		}},
		{"TicketAssigned", func(t *testing.T, e *env, v *Views) {
			agent := e.user("Agent", domain.RoleSupport)
			res := e.inbound("carol", "hi")
			e.exec(domain.Assign{TicketID: res.TicketID, AssigneeID: &agent.ID})
			e.sync(v)
			if s := mustTicket(t, v, res.TicketID, e.clock.Now()); s.AssigneeID == nil || *s.AssigneeID != agent.ID {
				t.Fatalf("assignee = %v", s.AssigneeID)
			}
			e.exec(domain.Assign{TicketID: res.TicketID})
			e.sync(v)
			if s := mustTicket(t, v, res.TicketID, e.clock.Now()); s.AssigneeID != nil {
				t.Fatalf("assignee after unassign = %v", *s.AssigneeID)
			}
		}},
		{"TicketSnoozed", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("dan", "hi")
			e.exec(domain.Snooze{TicketID: res.TicketID, Duration: "1h"})
			e.sync(v)
			until := clockStart.Add(time.Hour)
			s := mustTicket(t, v, res.TicketID, clockStart)
			if s.Status != StatusSnoozed || s.SnoozedUntil == nil || !s.SnoozedUntil.Equal(until) {
				t.Fatalf("snoozed ticket = %+v", s.TicketSummary)
			}
			// R4: at its until the ticket reads as open, before any wake-up.
			s = mustTicket(t, v, res.TicketID, until)
			if s.Status != StatusOpen || s.SnoozedUntil != nil {
				t.Fatalf("ticket at its until = %+v", s.TicketSummary)
			}
		}},
		{"TicketWoke by timer sets unread", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("erin", "hi")
			e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
			e.exec(domain.Snooze{TicketID: res.TicketID, Duration: "1h"})
			e.clock.Advance(2 * time.Hour)
			if n, err := e.eng.Wake(testContext(t)); err != nil || n != 1 {
				t.Fatalf("wake: %d, %v", n, err)
			}
			e.sync(v)
			s := mustTicket(t, v, res.TicketID, clockStart)
			if s.Status != StatusOpen || !s.Unread || s.SnoozedUntil != nil {
				t.Fatalf("woken ticket = %+v", s.TicketSummary)
			}
			h := history(t, v, res.TicketID)
			if last := h[len(h)-1]; last.Type != domain.TicketWoke || !strings.Contains(string(last.Data), `"timer"`) ||
				!strings.Contains(string(last.Actor), `"system":"timer"`) {
				t.Fatalf("last history entry = %+v", last)
			}
		}},
		{"TicketWoke by agent leaves unread", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("fay", "hi")
			e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
			e.exec(domain.Snooze{TicketID: res.TicketID, Duration: "1h"})
			e.exec(domain.Unsnooze{TicketCommand: ticketCmd(res.TicketID)})
			e.sync(v)
			s := mustTicket(t, v, res.TicketID, clockStart)
			if s.Status != StatusOpen || s.Unread || s.SnoozedUntil != nil {
				t.Fatalf("unsnoozed ticket = %+v", s.TicketSummary)
			}
		}},
		{"TicketWoke by inbound", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("gus", "hi")
			e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
			e.exec(domain.Snooze{TicketID: res.TicketID, Duration: "1h"})
			e.inbound("gus", "anyone?")
			e.sync(v)
			s := mustTicket(t, v, res.TicketID, clockStart)
			if s.Status != StatusOpen || !s.Unread || s.MessageCount != 2 || s.Preview != "anyone?" {
				t.Fatalf("ticket = %+v", s.TicketSummary)
			}
		}},
		{"TicketMarkedRead and TicketMarkedUnread", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("hal", "hi")
			e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
			e.sync(v)
			if mustTicket(t, v, res.TicketID, clockStart).Unread {
				t.Fatal("unread after mark_read")
			}
			e.exec(domain.MarkUnread{TicketCommand: ticketCmd(res.TicketID)})
			e.sync(v)
			if !mustTicket(t, v, res.TicketID, clockStart).Unread {
				t.Fatal("read after mark_unread")
			}
		}},
		{"TicketClosed and TicketReopened", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("ivy", "hi")
			e.clock.Advance(time.Hour)
			e.exec(domain.Close{TicketCommand: ticketCmd(res.TicketID)})
			e.sync(v)
			s := mustTicket(t, v, res.TicketID, e.clock.Now())
			if s.Status != StatusClosed || s.ClosedAt == nil || !s.ClosedAt.Equal(clockStart.Add(time.Hour)) {
				t.Fatalf("closed ticket = %+v", s.TicketSummary)
			}
			e.clock.Advance(71 * time.Hour)
			if r := e.inbound("ivy", "me again"); r.Outcome != domain.OutcomeReopened || r.TicketID != res.TicketID {
				t.Fatalf("inbound = %+v", r)
			}
			e.sync(v)
			s = mustTicket(t, v, res.TicketID, e.clock.Now())
			if s.Status != StatusOpen || s.ClosedAt != nil || s.MessageCount != 2 || !s.LastMessageAt.Equal(e.clock.Now()) {
				t.Fatalf("reopened ticket = %+v", s.TicketSummary)
			}
		}},
		{"ProfileBlocked, MessagesErased, ProfileUnblocked", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("jay", "spam spam")
			e.clock.Advance(time.Minute)
			e.exec(domain.Reply{TicketID: res.TicketID, Body: "please stop"})
			e.clock.Advance(time.Minute)
			e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "jay"}})
			e.sync(v)
			d := mustTicket(t, v, res.TicketID, e.clock.Now())
			if d.Status != StatusClosed || d.MessageCount != 1 || d.Preview != "please stop" ||
				len(d.Messages) != 1 || d.Messages[0].Body != "please stop" ||
				!d.LastMessageAt.Equal(clockStart.Add(time.Minute)) {
				t.Fatalf("blocked profile's ticket = %+v", d)
			}
			if p, _ := v.Profile(testContext(t), "jay"); !p.Blocked {
				t.Fatal("profile not blocked")
			}
			if got := types(history(t, v, res.TicketID)); got != "TicketOpened MessageReceived ReplySent TicketClosed MessagesErased" {
				t.Fatalf("history = %s", got)
			}
			e.exec(domain.Unblock{BlockTarget: domain.BlockTarget{ProfileID: "jay"}})
			e.sync(v)
			if p, _ := v.Profile(testContext(t), "jay"); p.Blocked {
				t.Fatal("profile still blocked after unblock")
			}
		}},
		{"block causes by phone and by id", func(t *testing.T, e *env, v *Views) {
			e.exec(domain.Inbound{ProfileID: "kim", Body: "hi", Phone: "+33612345678"})
			e.exec(domain.Inbound{ProfileID: "kim", Body: "hi again", Phone: "+33698765432"})
			e.sync(v)
			p, err := v.Profile(testContext(t), "kim")
			if err != nil || !slices.Equal(p.Phones, []string{"+33612345678", "+33698765432"}) {
				t.Fatalf("phones = %+v, %v", p, err)
			}
			steps := []struct {
				cmd     domain.Command
				blocked bool
			}{
				{domain.Block{BlockTarget: domain.BlockTarget{Phone: "+33612345678"}}, true},
				{domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "kim"}}, true},
				// Still blocked by id.
				{domain.Unblock{BlockTarget: domain.BlockTarget{Phone: "+33612345678"}}, true},
				{domain.Unblock{BlockTarget: domain.BlockTarget{ProfileID: "kim"}}, false},
				{domain.Block{BlockTarget: domain.BlockTarget{Phone: "+33698765432"}}, true},
				// An unblock by id clears every cause.
				{domain.Unblock{BlockTarget: domain.BlockTarget{ProfileID: "kim"}}, false},
			}
			for i, s := range steps {
				e.exec(s.cmd)
				e.sync(v)
				if p, _ := v.Profile(testContext(t), "kim"); p.Blocked != s.blocked {
					t.Fatalf("step %d (%s): blocked = %v, want %v", i, s.cmd.Name(), p.Blocked, s.blocked)
				}
			}
		}},
		{"pre-emptive block of an unknown profile", func(t *testing.T, e *env, v *Views) {
			e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "mallory"}})
			e.sync(v)
			p, err := v.Profile(testContext(t), "mallory")
			if err != nil || !p.Blocked || len(p.TicketIDs) != 0 || len(p.Phones) != 0 {
				t.Fatalf("profile = %+v, %v", p, err)
			}
		}},
		{"UserCreated", func(t *testing.T, e *env, v *Views) {
			zed := e.user("Zed", domain.RoleAnalyst)
			ann := e.user("Ann", domain.RoleSupport)
			e.sync(v)
			users, err := v.Users(testContext(t))
			want := []UserView{{ann.ID, "Ann", "support"}, {zed.ID, "Zed", "analyst"}, {e.owner.ID, "owner", "owner"}}
			if err != nil || !slices.Equal(users, want) {
				t.Fatalf("users = %+v, %v; want %+v", users, err, want)
			}
		}},
		{"unknown and unreadable events are skipped", func(t *testing.T, e *env, v *Views) {
			res := e.inbound("nia", "hi")
			future, _ := json.Marshal(map[string]any{"id": "x", "type": "TicketTeleported", "at": clockStart,
				"aggregate": map[string]string{"kind": "profile", "id": "nia"}, "ticket_id": res.TicketID})
			_, err := e.log.Append(testContext(t), []eventstore.Record{
				{Subject: "tb.ev.test.future", Data: future},
				{Subject: "tb.ev.test.garbage", Data: []byte("{not json")},
			})
			if err != nil {
				t.Fatal(err)
			}
			e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
			e.sync(v)
			if mustTicket(t, v, res.TicketID, clockStart).Unread {
				t.Fatal("the event after the skipped ones was not applied")
			}
			if got := types(history(t, v, res.TicketID)); got != "TicketOpened MessageReceived TicketMarkedRead" {
				t.Fatalf("history = %s", got)
			}
		}},
		{"unknown ids are not found", func(t *testing.T, e *env, v *Views) {
			ctx := testContext(t)
			const id = "00000000-0000-0000-0000-000000000000"
			if _, err := v.Ticket(ctx, id, clockStart); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Ticket: %v", err)
			}
			if _, err := v.TicketEvents(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("TicketEvents: %v", err)
			}
			if _, err := v.Profile(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Profile: %v", err)
			}
		}},
	}
	for _, c := range append(append(cases, deliveryCases...), noteCases...) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			v := e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
			c.run(t, e, v)
			// Whatever the events, the live views are what a replay makes.
			e.sync(v)
			mustVerify(t, v)
		})
	}
}

func checkSummary(t *testing.T, got, want TicketSummary) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("summary\n got %s\nwant %s", g, w)
	}
}

func history(t *testing.T, v *Views, id string) []HistoryEntry {
	t.Helper()
	h, err := v.TicketEvents(testContext(t), id)
	if err != nil {
		t.Fatalf("history of %s: %v", id, err)
	}
	for i := 1; i < len(h); i++ {
		if h[i].Position <= h[i-1].Position {
			t.Fatalf("history out of log order: %+v", h)
		}
	}
	return h
}

func types(h []HistoryEntry) string {
	var out []string
	for _, e := range h {
		out = append(out, e.Type)
	}
	return strings.Join(out, " ")
}
