package relay_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/internal/metrictest"
	"github.com/ticketbus/ticketbus/relay"
	"github.com/ticketbus/ticketbus/webhooksig"
)

// TestDeliveryPayload checks what a webhook receives for each kind of
// event, and that it receives only the events it subscribed to, from
// profiles' subjects, appended after its creation.
func TestDeliveryPayload(t *testing.T) {
	s := newSetup(t)
	tk := newTicket(t, s.log, s.eng)
	tk.inbound("before the webhook") // not delivered: older than the webhook
	all := newReceiver(t, nil)
	wAll := s.hook(t, all, domain.WebhookAll)
	replies := newReceiver(t, nil)
	wReplies := s.hook(t, replies, domain.ReplySent)
	in, inSeq := tk.inbound("hello, my parcel is late")
	rep, _ := tk.reply("on it")
	asg, _ := tk.assign("u-2")
	// A user's event: never delivered, even to "*".
	uid := uuid.NewString()
	appendEvent(t, s.log, domain.Event{ID: uuid.NewString(), Type: domain.UserCreated, At: time.Now().UTC(),
		Aggregate: domain.AggregateKey{Kind: domain.KindUser, ID: uid}, Data: &domain.UserCreatedData{UserID: uid, Name: "x", Role: domain.RoleSupport}})
	cfg := s.config(t, nil)
	cfg.Now = func() time.Time { return time.Now().Add(time.Hour) }
	s.start(t, cfg)

	waitFor(t, "three deliveries to * and one to ReplySent", func() bool {
		return len(all.firstArrivals()) >= 3 && len(replies.firstArrivals()) >= 1
	})
	replyID := rep.Data.(*domain.ReplySentData).MessageID
	waitFor(t, "the reply recorded as sent twice", func() bool { return len(s.eng.handedOver(replyID)) == 2 })

	got := map[string]received{}
	for _, r := range all.requests() {
		got[r.EventID] = r
	}
	if len(all.requests()) != 3 {
		t.Fatalf("* received %d requests, want 3: %+v", len(all.requests()), all.requests())
	}
	tests := []struct {
		name string
		ev   domain.Event
		data map[string]any
	}{
		{"MessageReceived has its text", in, map[string]any{"message_id": in.Data.(*domain.MessageReceivedData).MessageID,
			"external_id": "ext-1", "channel": "sms", "phone": "+33600000001", "body": "hello, my parcel is late"}},
		{"ReplySent has its text and route", rep, map[string]any{"reply_id": replyID, "body": "on it", "channel": "sms", "phone": "+33600000001"}},
		{"other types have their stored data", asg, map[string]any{"assignee_id": "u-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := got[tt.ev.ID]
			if !ok {
				t.Fatalf("%s not delivered", tt.ev.Type)
			}
			if r.SigError != nil {
				t.Fatalf("signature: %v", r.SigError)
			}
			if !errors.Is(r.OtherSecretError, webhooksig.ErrMismatch) {
				t.Fatalf("with another secret the signature gave %v, want a mismatch", r.OtherSecretError)
			}
			if r.Attempt != "1" {
				t.Errorf("attempt %q, want 1", r.Attempt)
			}
			d := r.Body
			if d.ID != tt.ev.ID || d.Type != tt.ev.Type || d.TicketID != tk.id || d.ProfileID != tk.profile || !d.At.Equal(tt.ev.At) || d.Position == 0 {
				t.Errorf("envelope %+v, want the event %s %s of ticket %s", d, tt.ev.ID, tt.ev.Type, tk.id)
			}
			var actor domain.Actor
			if err := json.Unmarshal(d.Actor, &actor); err != nil || actor.UserID != "u-agent" {
				t.Errorf("actor %s: %v", d.Actor, err)
			}
			var data map[string]any
			if err := json.Unmarshal(d.Data, &data); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.data {
				if data[k] != v {
					t.Errorf("data[%s] = %v, want %v (data %s)", k, data[k], v, d.Data)
				}
			}
			if len(data) != len(tt.data) {
				t.Errorf("data %s has other fields than %v", d.Data, tt.data)
			}
			var raw map[string]json.RawMessage
			_ = json.Unmarshal([]byte(r.Raw), &raw)
			for _, k := range []string{"id", "type", "at", "position", "ticket_id", "profile_id", "actor", "data"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("body lacks %q: %s", k, r.Raw)
				}
			}
		})
	}
	if got[in.ID].Body.Position != inSeq {
		t.Errorf("position %d, want %d", got[in.ID].Body.Position, inSeq)
	}
	if r := replies.requests(); len(r) != 1 || r[0].EventID != rep.ID || r[0].SigError != nil {
		t.Errorf("ReplySent webhook received %+v, want the reply alone, signed", r)
	}
	if _, err := relay.Start(testContext(t), relay.Config{}); err == nil {
		t.Error("Start without a log or an engine succeeded")
	}
	for _, w := range []string{wAll.ID, wReplies.ID} {
		if n := metrictest.Sum(t, s.reg, "ticketbus_webhooks_deliveries_total", "webhook", w, "outcome", "delivered"); n < 1 {
			t.Errorf("deliveries_total{webhook=%s,outcome=delivered} = %v", w, n)
		}
	}
	if lag := metrictest.Sum(t, s.reg, "ticketbus_webhooks_lag_seconds", "webhook", wAll.ID); lag < 3500 || lag > 3700 {
		t.Errorf("lag_seconds = %v, want about an hour by the relay's clock", lag)
	}
	families, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	for _, want := range []string{"ticketbus_webhooks_lag_seconds", "ticketbus_webhooks_handler_execution_time_seconds",
		"ticketbus_webhooks_subscriber_messages_received_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s not registered; have %v", want, names)
		}
	}
}

// TestTicketOrder delivers many tickets' events through a receiver that
// answers after random delays and sometimes fails: each ticket's events
// arrive in log order, a later one only once the one before was taken.
func TestTicketOrder(t *testing.T) {
	s := newSetup(t)
	rc := newReceiver(t, func(d relay.Delivery, n int) int {
		time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond) // the receiver's own pace
		if n == 1 && rand.IntN(8) == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	s.hook(t, rc, domain.WebhookAll)
	cfg := s.config(t, nil)
	cfg.Concurrency = 6
	s.start(t, cfg)
	const tickets, perTicket = 24, 8
	want := writeTickets(t, s, tickets, perTicket)
	waitFor(t, "every event delivered", func() bool { return countOK(rc) == tickets*perTicket })
	checkOrder(t, rc, want)
	checkWaits(t, rc, want)
	retried := false
	for _, r := range rc.requests() {
		if r.SigError != nil {
			t.Fatalf("signature of %s: %v", r.EventID, r.SigError)
		}
		retried = retried || r.Attempt != "1"
	}
	if !retried {
		t.Log("no retry happened this run")
	}
}

// countOK counts the events answered 2xx.
func countOK(rc *receiver) int {
	ok := map[string]bool{}
	for _, r := range rc.requests() {
		if r.Status/100 == 2 {
			ok[r.EventID] = true
		}
	}
	return len(ok)
}

// checkWaits checks that no event of a ticket was sent before the one
// before it was answered 2xx.
func checkWaits(t testing.TB, rc *receiver, want map[string][]string) {
	t.Helper()
	index := map[string]int{}
	for _, ids := range want {
		for i, id := range ids {
			index[id] = i
		}
	}
	taken := map[string]int{} // ticket: how many of its events were taken, in order
	for _, r := range rc.requests() {
		i, ok := index[r.EventID]
		if !ok {
			continue
		}
		if i > taken[r.Body.TicketID] {
			t.Fatalf("event %d of ticket %s sent before event %d was taken", i, r.Body.TicketID, taken[r.Body.TicketID])
		}
		if r.Status/100 == 2 && i == taken[r.Body.TicketID] {
			taken[r.Body.TicketID]++
		}
	}
}

// writeTickets appends perTicket events to each of n tickets, interleaved
// across tickets, and returns each ticket's event ids in log order.
func writeTickets(t testing.TB, s *setup, n, perTicket int) map[string][]string {
	t.Helper()
	var tks []*ticket
	for range n {
		tks = append(tks, newTicket(t, s.log, s.eng))
	}
	want := map[string][]string{}
	for i := range perTicket {
		for _, tk := range tks {
			var e domain.Event
			switch i % 3 {
			case 0:
				e, _ = tk.inbound("message " + tk.id)
			case 1:
				e, _ = tk.reply("reply " + tk.id)
			default:
				e, _ = tk.assign("u-" + tk.id[:4])
			}
			want[tk.id] = append(want[tk.id], e.ID)
		}
	}
	return want
}

// checkOrder checks that each ticket's events first arrived in log order.
func checkOrder(t testing.TB, rc *receiver, want map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	for _, r := range rc.firstArrivals() {
		got[r.Body.TicketID] = append(got[r.Body.TicketID], r.EventID)
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("ticket %s: events arrived as %s, want %s", id, strings.Join(got[id], ","), strings.Join(w, ","))
		}
	}
}
