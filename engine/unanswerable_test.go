package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/natsapi"
)

// TestUnanswerableCommandsAreCountedNotRun: a command the engine cannot
// answer under the inbox prefix of the user whose token it carries is not
// run (its producer could never learn its outcome) and is counted by
// reason. Forged reply subjects (another user's inbox, a wildcard, the
// JetStream API) get nothing.
func TestUnanswerableCommandsAreCountedNotRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	agentToken, agentID := e.createUser(domain.RoleSupport)
	agent := e.clientAs(agentToken)
	before, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The agent listens on its whole prefix: nothing forged may land there.
	agentInbox, err := agent.SubscribeSync(natsapi.InboxPrefix(agentID) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Flush(); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"profile_id": "ghost", "body": "hi"})
	cases := []struct{ reply, token, reason string }{
		{"", e.owner, "no_reply_subject"},
		{"tickets.elsewhere", e.owner, "reply_not_the_senders_inbox"},
		{"$JS.API.STREAM.DELETE.TICKETBUS_EVENTS", e.owner, "reply_not_the_senders_inbox"},
		{"_INBOX.>", e.owner, "reply_not_the_senders_inbox"},
		{natsapi.InboxPrefix(agentID) + ".forged.1", e.owner, "reply_not_the_senders_inbox"},
		{natsapi.InboxPrefix(e.ownerID) + "x.1", e.owner, "reply_not_the_senders_inbox"},
		{natsapi.InboxPrefix(agentID) + ".forged.2", "", "unauthenticated"},
		{natsapi.InboxPrefix(agentID) + ".forged.3", "tbk_not-a-real-token", "unauthenticated"},
	}
	for _, c := range cases {
		m := nats.NewMsg(natsapi.CommandSubjectPrefix + "inbound")
		m.Data, m.Reply = body, c.reply
		if c.token != "" {
			m.Header.Set("Authorization", "Bearer "+c.token)
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every forged command counted", func() bool {
		return h.metric(t, "ticketbus_commands_unanswerable_total") == float64(len(cases))
	})
	// A request after them is answered; by then the forged ones were handled.
	mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "real", "body": "hi"}))
	after, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if written := after - before; written != 2 { // the real one's MessageReceived and TicketOpened
		t.Fatalf("%d events written, want only the answered command's 2", written)
	}
	if m, err := agentInbox.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("a forged reply reached the agent's inbox on %s: %q", m.Subject, m.Data)
	}
	want := map[string]float64{}
	for _, c := range cases {
		want[c.reason]++
	}
	for reason, n := range want {
		if got := h.labelled(t, "ticketbus_commands_unanswerable_total", "reason", reason); got != n {
			t.Errorf("reason %s counted %v times, want %v", reason, got, n)
		}
	}
}

// TestRepliesReachOnlyTheirSender: a producer can neither subscribe to
// another producer's inbox nor to every inbox, and receives none of
// another producer's replies while both work.
func TestRepliesReachOnlyTheirSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startEngine()
	victim := e.client()
	snoopToken, snoopID := e.createUser(domain.RoleSupport)
	errs := make(chan error, 16)
	snoopUser, err := e.engines[0].engine.Authenticate(context.Background(), snoopToken)
	if err != nil || snoopUser.ID != snoopID {
		t.Fatal(err)
	}
	snoop, err := nats.Connect(e.srv.ClientURL(), nats.Token(snoopToken), nats.CustomInboxPrefix(natsapi.InboxPrefix(snoopID)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer snoop.Close()
	for _, subject := range []string{"_INBOX.>", natsapi.InboxPrefix(e.ownerID) + ".>", ">", "tickets.cmd.>"} {
		if _, err := snoop.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		if err := snoop.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("subscribe %s: %v, want a permissions violation", subject, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscribe %s: no permissions violation", subject)
		}
	}
	// Everything the snoop's own prefix receives while the victim works.
	own, err := snoop.SubscribeSync(natsapi.InboxPrefix(snoopID) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := snoop.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r := mustOK(t, send(t, victim, e.owner, "inbound", map[string]any{"profile_id": "vic", "body": "secret " + string(rune('a'+i))}))
		if r.TicketID == "" {
			t.Fatal("no ticket id")
		}
	}
	if m, err := own.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("the snoop received %s: %q", m.Subject, m.Data)
	}
}
