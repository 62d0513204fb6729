package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

// TestEveryAppendedEventIsCounted: the appended-events counter agrees with
// the log, users included (the bootstrap owner's and those made later),
// alongside commands.
func TestEveryAppendedEventIsCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	owner, err := h.engine.User(context.Background(), e.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := h.engine.CreateUser(context.Background(), owner, fmt.Sprint("user ", i), domain.RoleSupport); err != nil {
			t.Fatal(err)
		}
		r := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": fmt.Sprint("p", i), "body": "hi"}))
		mustOK(t, send(t, nc, e.owner, "close", map[string]any{"ticket_id": r.TicketID}))
	}
	last, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := h.metric(t, "ticketbus_eventstore_events_appended_total"); got != float64(last) {
		t.Fatalf("events appended counted %v, the log holds %d", got, last)
	}
}
