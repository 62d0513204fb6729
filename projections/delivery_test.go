package projections

import (
	"slices"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

// deliveryCases are TestEventEffects' cases for what spec section 7 adds to
// the log: a reply's delivery status, and webhooks the views ignore.
var deliveryCases = []effectCase{
	{"ReplyStatusChanged", func(t *testing.T, e *env, v *Views) {
		res := e.inbound("olga", "Did you ship it?")
		e.exec(domain.Reply{TicketID: res.TicketID, Body: "yes"})
		e.exec(domain.Reply{TicketID: res.TicketID, Body: "tracking follows"})
		e.sync(v)
		msgs := mustTicket(t, v, res.TicketID, e.clock.Now()).Messages
		if len(msgs) != 3 {
			t.Fatalf("messages = %+v", msgs)
		}
		first, second := msgs[1].ID, msgs[2].ID
		ctx := testContext(t)
		steps := []struct {
			name string
			do   func() error
			want []string // status and reason of each message, "-" for nil
		}{
			{"written", func() error { return nil }, []string{"-", "-", "pending", "-", "pending", "-"}},
			{"handed over", func() error { return e.eng.ReplyHandedOver(ctx, first, domain.ReplySentOut, "") },
				[]string{"-", "-", "sent", "-", "pending", "-"}},
			{"delivered", func() error {
				_, err := e.eng.Execute(ctx, e.owner, domain.ReplyStatus{ReplyID: first, Status: domain.ReplyDelivered})
				return err
			}, []string{"-", "-", "delivered", "-", "pending", "-"}},
			{"failed", func() error {
				_, err := e.eng.Execute(ctx, e.owner, domain.ReplyStatus{ReplyID: second, Status: domain.ReplyFailed, Reason: "number unreachable"})
				return err
			}, []string{"-", "-", "delivered", "-", "failed", "number unreachable"}},
			// Not ahead of failed: no event, no change.
			{"late handover", func() error { return e.eng.ReplyHandedOver(ctx, second, domain.ReplySentOut, "") },
				[]string{"-", "-", "delivered", "-", "failed", "number unreachable"}},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			e.sync(v)
			var got []string
			for _, m := range mustTicket(t, v, res.TicketID, e.clock.Now()).Messages {
				got = append(got, orDash(m.Status), orDash(m.StatusReason))
			}
			if !slices.Equal(got, st.want) {
				t.Fatalf("%s: statuses %v, want %v", st.name, got, st.want)
			}
		}
		want := "TicketOpened MessageReceived ReplySent ReplySent ReplyStatusChanged ReplyStatusChanged ReplyStatusChanged"
		if got := types(history(t, v, res.TicketID)); got != want {
			t.Fatalf("history = %s", got)
		}
	}},
	{"webhook events are ignored", func(t *testing.T, e *env, v *Views) {
		ctx := testContext(t)
		res := e.inbound("pia", "hi")
		e.sync(v)
		before := mustTicket(t, v, res.TicketID, clockStart)
		w, _, err := e.eng.CreateWebhook(ctx, e.owner, domain.NewWebhook{URL: "https://example.com/hook", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.eng.RemoveWebhook(ctx, e.owner, w.ID); err != nil {
			t.Fatal(err)
		}
		e.exec(domain.MarkRead{TicketCommand: ticketCmd(res.TicketID)})
		e.sync(v)
		after := mustTicket(t, v, res.TicketID, clockStart)
		if after.Unread || after.MessageCount != before.MessageCount {
			t.Fatalf("ticket after the webhook events = %+v", after.TicketSummary)
		}
		if got := types(history(t, v, res.TicketID)); got != "TicketOpened MessageReceived TicketMarkedRead" {
			t.Fatalf("history = %s", got)
		}
	}},
}

// orDash shows a nil string as "-".
func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
