package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeadLetterRetriedOverHTTP: a receiver that answers 400 makes the
// event a dead letter at once (a 4xx is permanent), GET .../failures lists
// it, and once the receiver takes it, POST .../retry delivers it and the
// dead letter goes.
func TestDeadLetterRetriedOverHTTP(t *testing.T) {
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	var accept atomic.Bool
	var mu sync.Mutex
	took := map[string]int{}
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !accept.Load() {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		took[r.Header.Get("Ticketbus-Event-Id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rs.Close()
	var hook struct{ ID string }
	if code := owner.do("POST", "/v1/webhooks", map[string]any{"url": rs.URL, "events": []string{"TicketOpened"}}, &hook); code != http.StatusCreated {
		t.Fatalf("create webhook: %d", code)
	}
	owner.cmd("inbound", map[string]any{"profile_id": "dead-letter", "body": "hi"})
	var failures []struct {
		EventID   string `json:"event_id"`
		Type      string `json:"type"`
		LastError string `json:"last_error"`
	}
	waitFor(t, 30*time.Second, "the dead letter", func() bool {
		return owner.do("GET", "/v1/webhooks/"+hook.ID+"/failures", nil, &failures) == 200 && len(failures) == 1
	})
	if failures[0].Type != "TicketOpened" || failures[0].LastError == "" {
		t.Fatalf("dead letter %+v", failures[0])
	}
	if code := owner.do("POST", "/v1/webhooks/"+hook.ID+"/failures/"+failures[0].EventID+"/retry", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("retry while the receiver still refuses: %d, want 503", code)
	}
	accept.Store(true)
	if code := owner.do("POST", "/v1/webhooks/"+hook.ID+"/failures/"+failures[0].EventID+"/retry", nil, nil); code != http.StatusOK {
		t.Fatalf("retry: %d", code)
	}
	mu.Lock()
	n := took[failures[0].EventID]
	mu.Unlock()
	if n != 1 {
		t.Fatalf("the receiver took the event %d times, want 1", n)
	}
	if code := owner.do("GET", "/v1/webhooks/"+hook.ID+"/failures", nil, &failures); code != 200 || len(failures) != 0 {
		t.Fatalf("after the retry: %d %+v", code, failures)
	}
	if code := owner.do("POST", "/v1/webhooks/"+hook.ID+"/failures/00000000-0000-4000-8000-000000000009/retry", nil, nil); code != http.StatusNotFound {
		t.Fatalf("retry of no dead letter: %d, want 404", code)
	}
}
