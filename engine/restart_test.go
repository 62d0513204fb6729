package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/natsapi"
)

// TestRestartMidStream stops the engine and the embedded NATS server while
// producers are sending, starts both again on the same store, and checks
// that every acknowledged command's event is in the log exactly once and
// that no command took effect twice.
func TestRestartMidStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()

	const producers, perProducer = 8, 40
	var acked sync.Map // command_id -> position
	var ackCount atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				id := newCommandID()
				body, _ := json.Marshal(map[string]any{"command_id": id,
					"profile_id": fmt.Sprintf("restart-%d", (p*perProducer+i)%13), "body": fmt.Sprintf("m %d %d", p, i)})
				// A producer resends with the same command_id until it
				// hears ok: that is what makes a lost reply harmless.
				for time.Now().Before(deadline) {
					if pos, ok := tryInbound(nc, e.owner, body); ok {
						acked.Store(id, pos)
						ackCount.Add(1)
						break
					}
					// A producer backs off before resending while the
					// engine is away.
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}

	waitFor(t, "a third of the commands acknowledged", func() bool { return ackCount.Load() >= producers*perProducer/3 })
	h.stop()
	e.srv.Shutdown()
	e.startServer()
	h = e.startEngine()
	wg.Wait()
	if got := ackCount.Load(); got != producers*perProducer {
		t.Fatalf("only %d of %d commands acknowledged before the deadline", got, producers*perProducer)
	}

	effects := map[string]int{}
	positions := map[string]uint64{}
	for _, ev := range e.events(h.log) {
		if ev.Type == domain.MessageReceived {
			effects[ev.CommandID]++
			positions[ev.CommandID] = ev.Seq
		}
	}
	lost := 0
	acked.Range(func(k, v any) bool {
		id := k.(string)
		if effects[id] == 0 {
			lost++
		} else if positions[id] != v.(uint64) {
			t.Errorf("command %s acknowledged at %d but its message is at %d", id, v, positions[id])
		}
		return true
	})
	dup := 0
	for _, n := range effects {
		if n > 1 {
			dup++
		}
	}
	if lost != 0 || dup != 0 {
		t.Fatalf("lost %d acknowledged commands, %d commands took effect twice", lost, dup)
	}
	if len(effects) != producers*perProducer {
		t.Fatalf("log holds %d commands' messages, want %d", len(effects), producers*perProducer)
	}
}

// tryInbound sends one inbound command and reports its position if it was
// acknowledged.
func tryInbound(nc *nats.Conn, token string, body []byte) (uint64, bool) {
	m := nats.NewMsg(natsapi.CommandSubjectPrefix + "inbound")
	m.Data = body
	m.Header.Set("Authorization", "Bearer "+token)
	resp, err := nc.RequestMsg(m, 3*time.Second)
	if err != nil {
		return 0, false
	}
	var r reply
	if json.Unmarshal(resp.Data, &r) != nil || !r.OK {
		return 0, false
	}
	return r.Position, true
}

// TestIndexAheadOfARestoredLog restores the log from a backup older than
// the engine's index: the index holds results of commands the log no
// longer has, so the engine must build it again from the log, not answer
// a resent command with a result that is nowhere in the log.
func TestIndexAheadOfARestoredLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.engineCfg = func(c *engine.Config) { c.IndexPath = filepath.Join(e.dir+"-index", "engine.db") }
	if err := os.MkdirAll(e.dir+"-index", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(e.dir + "-index") })
	first := e.startEngine()
	nc := e.client()
	sendAll := func(h *engineHandle, prefix string) map[string]reply {
		out := map[string]reply{}
		for range 5 {
			id := uuid.NewString()
			out[id] = mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"command_id": id, "profile_id": prefix, "body": "hi"}))
		}
		last, err := h.log.LastSeq(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the index to reach the log's end", func() bool {
			return h.metric(t, "ticketbus_engine_index_position") >= float64(last)
		})
		h.stop()
		return out
	}
	kept := sendAll(first, "kept")

	backup := t.TempDir()
	e.srv.Shutdown()
	if err := os.CopyFS(backup, os.DirFS(e.dir)); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	lost := sendAll(e.startEngine(), "lost")

	e.srv.Shutdown()
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(e.dir, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	h := e.startEngine()
	if n := h.metric(t, "ticketbus_engine_tail_events_total"); n == 0 {
		t.Fatal("the engine trusted an index ahead of the log and read nothing of it")
	}
	for id, r := range kept {
		if got := send(t, nc, e.owner, "inbound", map[string]any{"command_id": id, "profile_id": "kept", "body": "repeat"}); got != r {
			t.Fatalf("repeat of %s, which the restored log holds: %+v, first %+v", id, got, r)
		}
	}
	for id, r := range lost {
		got := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"command_id": id, "profile_id": "lost", "body": "again"}))
		if got.TicketID == r.TicketID {
			t.Fatalf("resend of %s, which the restored log does not hold, answered from the old index: %+v", id, got)
		}
		break
	}
}
