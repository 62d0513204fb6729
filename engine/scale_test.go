package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
)

// TestTinyCachesTwoInstances runs a mixed load through two instances whose
// caches hold two profiles each, so aggregates are evicted and read back
// from the log all the time. Nothing acknowledged may be lost or written
// twice, and R1 must hold in the log: no decision was made on a stale
// aggregate that the append's check let through.
func TestTinyCachesTwoInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.engineCfg = func(c *engine.Config) { c.CacheProfiles = 2 }
	a, b := e.startEngine(), e.startEngine()
	nc := e.client()
	const producers, each, profiles = 8, 40, 12
	var (
		mu     sync.Mutex
		acked  = map[string]reply{}
		wg     sync.WaitGroup
		failed []string
	)
	for p := range producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			var tickets []string
			for i := range each {
				id := uuid.NewString()
				name, body := "inbound", map[string]any{"command_id": id, "profile_id": fmt.Sprintf("tiny-%d", rng.IntN(profiles)), "body": fmt.Sprintf("%d/%d", p, i)}
				if len(tickets) > 0 && rng.IntN(3) == 0 {
					name, body = []string{"close", "mark_read", "mark_unread"}[rng.IntN(3)], map[string]any{"command_id": id, "ticket_id": tickets[rng.IntN(len(tickets))]}
				}
				r := send(t, nc, e.owner, name, body)
				mu.Lock()
				switch {
				case r.OK:
					acked[id] = r
					if r.TicketID != "" {
						tickets = append(tickets, r.TicketID)
					}
				case r.Code() != "ticket_closed":
					failed = append(failed, name+": "+r.Code())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d commands failed, e.g. %v", len(failed), failed[:min(5, len(failed))])
	}
	for i, h := range []*engineHandle{a, b} {
		if h.metric(t, "ticketbus_engine_aggregates_evicted_total") == 0 || h.commandsHandled(t) == 0 {
			t.Fatalf("engine %d evicted nothing or handled nothing: the test proves nothing", i)
		}
	}
	byCmd, wrote := map[string]int{}, map[string]bool{}
	state := map[string]*domain.Profile{}
	for _, ev := range e.events(a.log) {
		wrote[ev.CommandID] = true
		if ev.Type == domain.MessageReceived {
			byCmd[ev.CommandID]++
		}
		if ev.Aggregate.Kind != domain.KindProfile {
			continue
		}
		p := state[ev.Aggregate.ID]
		if p == nil {
			p = domain.NewProfile(ev.Aggregate.ID)
			state[ev.Aggregate.ID] = p
		}
		if (ev.Type == domain.TicketOpened || ev.Type == domain.TicketReopened) && p.Active() != nil {
			t.Fatalf("position %d: %s on %s while %s is active", ev.Seq, ev.Type, p.ID, p.ActiveID)
		}
		p.Apply(ev.Event)
	}
	for id, r := range acked {
		if r.Outcome != domain.OutcomeDone && r.Outcome != domain.OutcomeDroppedBlocked && byCmd[id] != 1 {
			t.Fatalf("inbound %s (%s): %d MessageReceived in the log, want 1", id, r.Outcome, byCmd[id])
		}
		if !wrote[id] {
			continue // changed nothing, so nothing to remember (R9 is for writes)
		}
		if again := send(t, nc, e.owner, "mark_read", map[string]any{"command_id": id, "ticket_id": r.TicketID}); !again.OK || again != r {
			t.Fatalf("resend of %s: %+v, first %+v", id, again, r)
		}
	}
}

// TestRestartResumesFromTheIndex stops an engine and starts another on
// the same index file: it reads nothing of the log again, yet every old
// command's repeat gets its first answer and an old ticket takes commands
// (its profile read back from the log on demand).
func TestRestartResumesFromTheIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "engine.db")
	e.engineCfg = func(c *engine.Config) { c.IndexPath = path }
	first := e.startEngine()
	nc := e.client()
	firsts := map[string]reply{}
	for i := range 50 {
		id := uuid.NewString()
		firsts[id] = mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"command_id": id, "profile_id": fmt.Sprintf("old-%d", i%10), "body": "hi"}))
	}
	last, err := first.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the index to reach the log's end", func() bool {
		return first.metric(t, "ticketbus_engine_index_position") >= float64(last)
	})
	first.stop()
	again := e.startEngine()
	if n := again.metric(t, "ticketbus_engine_tail_events_total"); n != 0 {
		t.Fatalf("the restarted engine read %v entries of the log again", n)
	}
	for id, r := range firsts {
		if got := send(t, nc, e.owner, "inbound", map[string]any{"command_id": id, "profile_id": "someone-else", "body": "repeat"}); !got.OK || got != r {
			t.Fatalf("repeat of %s after the restart: %+v, first %+v", id, got, r)
		}
	}
	var old reply
	for _, r := range firsts {
		old = r
		break
	}
	mustOK(t, send(t, nc, e.owner, "close", map[string]any{"ticket_id": old.TicketID}))
	if again.metric(t, "ticketbus_engine_aggregates_loaded_total") == 0 {
		t.Fatal("the old ticket's profile was not read back from the log")
	}
}

// TestSnapshotShortensALongAggregate: a profile with more events than a
// snapshot is taken after is read the long way once, by an instance that
// never held it, which stores its snapshot in the log; that instance, once
// its cache drops the profile, reads it back from its index's snapshot
// without reading the log; a third instance reads the log's snapshot and
// the events after it only; and all decide the same.
func TestSnapshotShortensALongAggregate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.engineCfg = func(c *engine.Config) { c.CacheProfiles = 1 }
	writer := e.startEngine()
	nc := e.client()
	var ticket string
	for i := range 260 { // TicketOpened once, then MessageReceived and TicketMarkedRead each
		r := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "chatty", "body": fmt.Sprint(i)}))
		ticket = r.TicketID
		mustOK(t, send(t, nc, e.owner, "mark_read", map[string]any{"ticket_id": ticket}))
	}
	writer.stop()
	evict := func() {
		mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": uuid.NewString(), "body": "x"}))
	}
	eventsRead := func(h *engineHandle, name, ticket string) (reply, float64) {
		before := h.metric(t, "ticketbus_engine_aggregate_events_read_total")
		r := send(t, nc, e.owner, name, map[string]any{"ticket_id": ticket})
		return r, h.metric(t, "ticketbus_engine_aggregate_events_read_total") - before
	}

	h := e.startEngine() // a fresh index: it never held the profile
	if _, long := eventsRead(h, "mark_unread", ticket); long < 500 {
		t.Fatalf("the first read took %v events, want the whole subject", long)
	}
	waitFor(t, "the snapshot", func() bool { return h.metric(t, "ticketbus_engine_snapshots_written_total") == 1 })
	evict()
	last, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the index to take the evicted profile", func() bool {
		return h.metric(t, "ticketbus_engine_index_position") >= float64(last)
	})
	r, fromIndex := eventsRead(h, "close", ticket)
	mustOK(t, r)
	if fromIndex != 0 {
		t.Fatalf("read back after an eviction, the profile took %v events of the log, want its index snapshot alone", fromIndex)
	}
	h.stop()

	third := e.startEngine()
	before := third.metric(t, "ticketbus_engine_aggregate_events_read_total")
	again := send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "chatty", "body": "back"})
	if again.Outcome != domain.OutcomeReopened || again.TicketID != ticket {
		t.Fatalf("after the close the snapshot-based state decided %+v (close at %d), want a reopen of %s", again, r.Position, ticket)
	}
	if short := third.metric(t, "ticketbus_engine_aggregate_events_read_total") - before; short > 5 {
		t.Fatalf("read from the log's snapshot, the profile still took %v events", short)
	}
}
