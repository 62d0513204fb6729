package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/natsapi"
)

// TestUnanswerableCommandsAreCountedNotRun: a command published without a
// reply subject, or with a reply subject that is no request inbox, is not
// run (its producer could never learn its outcome) and is counted by
// reason.
func TestUnanswerableCommandsAreCountedNotRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	before, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"profile_id": "ghost", "body": "hi"})
	for _, reply := range []string{"", "tickets.elsewhere", "$JS.API.STREAM.DELETE.TICKETBUS_EVENTS"} {
		m := nats.NewMsg(natsapi.CommandSubjectPrefix + "inbound")
		m.Data, m.Reply = body, reply
		m.Header.Set("Authorization", "Bearer "+e.owner)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the three commands counted", func() bool {
		return h.metric(t, "ticketbus_commands_unanswerable_total") == 3
	})
	// A request after them is answered; by then the three were handled.
	mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "real", "body": "hi"}))
	after, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if written := after - before; written != 2 { // the real one's MessageReceived and TicketOpened
		t.Fatalf("%d events written, want only the answered command's 2", written)
	}
}
