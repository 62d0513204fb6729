package engine_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

// TestOneActiveTicketUnderConcurrency sends 50 messages from one profile at
// the same instant through two engine instances: exactly one ticket may
// be opened, and every message must land on it (R1).
func TestOneActiveTicketUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startEngine()
	e.startEngine()
	nc := e.client()

	const n = 50
	replies := make([]reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i] = send(t, nc, e.owner, "inbound", map[string]any{
				"profile_id": "erin", "body": fmt.Sprintf("message %d", i)})
		}()
	}
	close(start)
	wg.Wait()

	opened, tickets := 0, map[string]bool{}
	for _, r := range replies {
		mustOK(t, r)
		tickets[r.TicketID] = true
		if r.Outcome == domain.OutcomeOpened {
			opened++
		}
	}
	if opened != 1 || len(tickets) != 1 {
		t.Fatalf("opened %d tickets, replies named %d tickets; want 1 and 1", opened, len(tickets))
	}
	var openedEvents, received int
	for _, ev := range e.events(a.log) {
		switch ev.Type {
		case domain.TicketOpened:
			openedEvents++
		case domain.MessageReceived:
			received++
		}
	}
	if openedEvents != 1 || received != n {
		t.Fatalf("log holds %d TicketOpened and %d MessageReceived; want 1 and %d", openedEvents, received, n)
	}
	// Both instances must have taken part, or this proves nothing about
	// two instances.
	for i, h := range e.engines {
		if h.commandsHandled(t) == 0 {
			t.Fatalf("engine %d handled no command", i)
		}
	}
}
