package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// receiver is a webhook endpoint that records every delivery it took.
type receiver struct {
	mu       sync.Mutex
	first    []hookDelivery  // first delivery of each event id, in arrival order
	seen     map[string]bool // event ids
	attempts int
}

type hookDelivery struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Position uint64 `json:"position"`
	TicketID string `json:"ticket_id"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var d hookDelivery
	if json.Unmarshal(body, &d) != nil || d.ID == "" || r.Header.Get("Ticketbus-Event-Id") != d.ID {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// Slow enough that deliveries are still under way at the kill.
	time.Sleep(5 * time.Millisecond)
	rc.mu.Lock()
	rc.attempts++
	if !rc.seen[d.ID] {
		rc.seen[d.ID] = true
		rc.first = append(rc.first, d)
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.first)
}

// TestWebhookDeliverySurvivesKillNine kills a real ticketd with SIGKILL
// while it delivers to a webhook, starts it again on its data directory,
// and checks that every event of the log after the webhook's creation
// reached the receiver (duplicates allowed, each with its event id), and
// that each ticket's events first arrived in log order.
func TestWebhookDeliverySurvivesKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts ticketd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildTicketd(ctx, t)
	token, dataDir := randomToken(), t.TempDir()
	server, proc := startTicketdIn(ctx, t, bin, token, dataDir)
	rc := &receiver{seen: map[string]bool{}}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	var hook struct{ ID string }
	if code := postJSON(t, server, token, "/v1/webhooks", map[string]any{"url": hs.URL, "events": []string{"*"}}, &hook); code != http.StatusCreated {
		t.Fatalf("create webhook: %d", code)
	}
	const commands = 300
	for i := range commands {
		body, _ := json.Marshal(map[string]any{"profile_id": fmt.Sprintf("hook-%d", i%17), "body": fmt.Sprintf("message %d", i)})
		if _, ok := postCommand(server, token, body); !ok {
			t.Fatalf("command %d not acknowledged", i)
		}
	}
	waitUntil(t, time.Minute, "some deliveries before the kill", func() bool { return rc.count() >= 20 })
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	before := rc.count()
	server, _ = startTicketdIn(ctx, t, bin, token, dataDir)
	want := profileEventsAfter(t, server, token, hook.ID)
	if len(want) < commands {
		t.Fatalf("%d events to deliver, want at least %d", len(want), commands)
	}
	waitUntil(t, 3*time.Minute, fmt.Sprintf("all %d events delivered", len(want)), func() bool { return rc.count() >= len(want) })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := map[uint64]bool{}
	last := map[string]uint64{}
	for _, d := range rc.first {
		got[d.Position] = true
		if d.Position < last[d.TicketID] {
			t.Errorf("ticket %s: event at %d arrived first after the one at %d", d.TicketID, d.Position, last[d.TicketID])
		}
		last[d.TicketID] = d.Position
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("the event at %d never arrived", p)
		}
	}
	t.Logf("%d delivered before the kill, %d events, %d attempts in all", before, len(rc.first), rc.attempts)
}

// profileEventsAfter lists the positions of the profiles' events after the
// webhook's creation, from the raw log.
func profileEventsAfter(t *testing.T, server, token, hookID string) []uint64 {
	t.Helper()
	var out []uint64
	var after uint64
	created := uint64(0)
	for {
		var page struct {
			Events []struct {
				Position  uint64 `json:"position"`
				Type      string `json:"type"`
				Aggregate struct {
					Kind string `json:"kind"`
					ID   string `json:"id"`
				} `json:"aggregate"`
			} `json:"events"`
			LastPosition uint64 `json:"last_position"`
			NextAfter    uint64 `json:"next_after"`
		}
		if code := getJSON(t, server, token, fmt.Sprintf("/v1/log?after=%d&limit=1000", after), &page); code != 200 {
			t.Fatalf("GET /v1/log: %d", code)
		}
		for _, e := range page.Events {
			switch {
			case e.Aggregate.Kind == "webhook" && e.Aggregate.ID == hookID && e.Type == "WebhookCreated":
				created = e.Position
			case created != 0 && e.Aggregate.Kind == "profile":
				out = append(out, e.Position)
			}
		}
		if page.NextAfter >= page.LastPosition || page.NextAfter == after {
			return out
		}
		after = page.NextAfter
	}
}

func postJSON(t *testing.T, server, token, path string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	return doJSON(t, "POST", server+path, token, bytes.NewReader(b), out)
}

func getJSON(t *testing.T, server, token, path string, out any) int {
	t.Helper()
	return doJSON(t, "GET", server+path, token, nil, out)
}

func doJSON(t *testing.T, method, url, token string, body io.Reader, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
