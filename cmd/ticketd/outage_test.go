package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// TestNATSOutage stops the embedded NATS server under a running engine
// while commands keep arriving over HTTP, then starts it again. During the
// outage commands fail with unavailable, never with a false ok; afterwards
// every acknowledged command is in the log exactly once and repeats of it
// give its first answer.
func TestNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and restarts a server under load")
	}
	m := MustRunMain(t, t.TempDir())
	type ack struct {
		body []byte
		rep  cmdReply
	}
	var (
		mu          sync.Mutex
		acked       []ack
		unavailable atomic.Int64
		other       atomic.Int64
		n           atomic.Int64
		stop        atomic.Bool
		wg          sync.WaitGroup
	)
	post := func(body []byte) (int, cmdReply, error) {
		req, _ := http.NewRequest("POST", "http://"+m.HTTPAddr()+"/v1/commands/inbound", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ownerToken)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			return 0, cmdReply{}, err
		}
		defer resp.Body.Close()
		var r cmdReply
		err = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r, err
	}
	for p := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				body, _ := json.Marshal(map[string]any{"command_id": newID(),
					"profile_id": fmt.Sprintf("outage-%d", (p+i)%9), "body": fmt.Sprintf("m %d %d", p, i)})
				status, r, err := post(body)
				switch {
				case err == nil && status == 200 && r.OK:
					mu.Lock()
					acked = append(acked, ack{body, r})
					mu.Unlock()
					n.Add(1)
				case err == nil && status == http.StatusServiceUnavailable && r.Code() == domain.EUnavailable:
					unavailable.Add(1)
					time.Sleep(10 * time.Millisecond) // a producer backs off while the log is away
				default:
					other.Add(1)
				}
			}
		}()
	}
	waitUntil(t, "commands acknowledged before the outage", func() bool { return n.Load() >= 60 })
	m.Server.Shutdown()
	waitUntil(t, "unavailable answers during the outage", func() bool { return unavailable.Load() >= 5 })
	if err := m.Server.Restart(); err != nil {
		t.Fatal(err)
	}
	before := n.Load()
	waitUntil(t, "commands acknowledged after the restart", func() bool { return n.Load() >= before+60 })
	stop.Store(true)
	wg.Wait()
	if c := other.Load(); c != 0 {
		t.Errorf("%d commands failed with something other than unavailable", c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	effects := map[string]int{}
	last, err := m.Log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Log.ReadRange(ctx, 1, last, func(en eventstore.Entry) error {
		ev, err := domain.UnmarshalEvent(en.Data)
		if err == nil && ev.Type == domain.MessageReceived {
			effects[ev.CommandID]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acked {
		var cmd struct {
			CommandID string `json:"command_id"`
		}
		_ = json.Unmarshal(a.body, &cmd)
		if effects[cmd.CommandID] != 1 {
			t.Fatalf("acknowledged command %s has %d messages in the log", cmd.CommandID, effects[cmd.CommandID])
		}
		if _, again, err := post(a.body); err != nil || again != a.rep {
			t.Fatalf("repeat of %s: %+v (%v), first answer %+v", cmd.CommandID, again, err, a.rep)
		}
	}
	t.Logf("%d acknowledged, %d unavailable during the outage", len(acked), unavailable.Load())
}

// waitUntil polls a condition until it holds or a minute has passed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
