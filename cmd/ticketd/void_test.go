package main

import (
	"path/filepath"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// TestVoidPositionsAfterPowerLoss starts ticketd on a log that ends with
// the first part of a batch whose commit never came (what a power loss
// during a commit leaves with batches staged in memory). Its messages are
// not even valid events: reading one as an event would fail. The raw log
// must page past them, and the engine and the views must carry on.
func TestVoidPositionsAfterPowerLoss(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	store := filepath.Join(dataDir, "nats")
	srv, err := eventstore.OpenServer(eventstore.ServerConfig{StoreDir: store, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	bob := eventstore.AggregateSubject(domain.ProfileKey("bob"))
	first, last := eventstoretest.MustLeaveUncommittedBatch(t, srv, []eventstoretest.Message{
		{Subject: bob, Data: []byte("not an event 1")},
		{Subject: bob, Data: []byte("not an event 2")},
		{Subject: bob, Data: []byte("not an event 3")},
	})
	srv.Shutdown()
	// The deleted commit and the log's record of the batch follow.
	voidEnd := last + 2

	m := MustRunMain(t, dataDir)
	if got := m.Server.UncommittedBatch(); got != [2]uint64{first, voidEnd} {
		t.Fatalf("uncommitted batch found at %v, want %d..%d", got, first, voidEnd)
	}
	owner := &client{tb: t, m: m, token: ownerToken}
	r := owner.cmd("inbound", map[string]any{"profile_id": "bob", "body": "hello"})
	if r.Outcome != domain.OutcomeOpened {
		t.Fatalf("bob's message: %+v", r)
	}

	type page struct {
		Events []struct {
			Position uint64 `json:"position"`
			Type     string `json:"type"`
		} `json:"events"`
		LastPosition uint64 `json:"last_position"`
		NextAfter    uint64 `json:"next_after"`
	}
	var positions []uint64
	after, pages := uint64(0), 0
	for {
		var p page
		if code := owner.do("GET", "/v1/log?limit=2&after="+itoa(after), nil, &p); code != 200 {
			t.Fatalf("GET /v1/log after %d: %d", after, code)
		}
		pages++
		if after == 0 && (len(p.Events) != 0 || p.NextAfter != 2) {
			t.Fatalf("first page over void positions: %+v", p)
		}
		for _, e := range p.Events {
			positions = append(positions, e.Position)
		}
		if p.NextAfter <= after {
			t.Fatalf("next_after %d does not move past %d", p.NextAfter, after)
		}
		after = p.NextAfter
		if after >= p.LastPosition {
			break
		}
	}
	if len(positions) == 0 || positions[0] != voidEnd+1 {
		t.Fatalf("events at %v, want the first right after the void positions %d..%d", positions, first, voidEnd)
	}
	if positions[len(positions)-1] != r.Position {
		t.Fatalf("events at %v, want the last at bob's message %d", positions, r.Position)
	}

	if code := owner.do("GET", "/v1/tickets/"+r.TicketID+"?min_position="+itoa(r.Position), nil, nil); code != 200 {
		t.Fatalf("GET the ticket: %d", code)
	}
	var v struct {
		OK          bool     `json:"ok"`
		Differences []string `json:"differences"`
	}
	if code := owner.do("POST", "/v1/views/verify", nil, &v); code != 200 || !v.OK {
		t.Fatalf("verify: %d %+v", code, v)
	}
}
