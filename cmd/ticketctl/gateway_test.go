package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/webhooksig"
)

const gatewaySecret = "whsec_gateway_test"

// gatewayAPI is a small working engine for the routes the gateway calls:
// it registers webhooks, removes them, and takes reply_status commands.
type gatewayAPI struct {
	*httptest.Server
	registered chan map[string]any // POST /v1/webhooks bodies
	statuses   chan map[string]any // reply_status bodies
	createCode int                 // POST /v1/webhooks status, 201 unless set

	mu      sync.Mutex
	hooks   map[string]bool
	removed []string
	auth    []string
}

func newGatewayAPI(t *testing.T) *gatewayAPI {
	a := &gatewayAPI{registered: make(chan map[string]any, 4), statuses: make(chan map[string]any, 16), createCode: 201, hooks: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/webhooks", func(w http.ResponseWriter, r *http.Request) {
		body := a.record(r)
		if a.createCode != 201 {
			w.WriteHeader(a.createCode)
			_, _ = io.WriteString(w, `{"ok":false,"error":{"code":"forbidden","message":"role support may not manage webhooks"}}`)
			return
		}
		a.mu.Lock()
		a.hooks["wh1"] = true
		a.mu.Unlock()
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "wh1", "url": body["url"], "events": body["events"], "secret": gatewaySecret})
		a.registered <- body
	})
	mux.HandleFunc("DELETE /v1/webhooks/{id}", func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		a.mu.Lock()
		defer a.mu.Unlock()
		id := r.PathValue("id")
		if !a.hooks[id] {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"ok":false,"error":{"code":"not_found","message":"webhook not found"}}`)
			return
		}
		delete(a.hooks, id)
		a.removed = append(a.removed, id)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("POST /v1/commands/reply_status", func(w http.ResponseWriter, r *http.Request) {
		a.statuses <- a.record(r)
		_, _ = io.WriteString(w, `{"ok":true,"ticket_id":"`+ticketA+`","outcome":"done","position":9}`)
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func (a *gatewayAPI) record(r *http.Request) map[string]any {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	a.mu.Lock()
	a.auth = append(a.auth, r.Header.Get("Authorization"))
	a.mu.Unlock()
	return body
}

// receive waits for one value or fails the test at the deadline.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		panic("unreachable")
	}
}

// payload is a ReplySent delivery as the relay sends it.
func payload(eventID, replyID, body string) []byte {
	b, _ := json.Marshal(map[string]any{"id": eventID, "type": "ReplySent", "at": "2026-03-01T08:00:00Z", "position": 5,
		"ticket_id": ticketA, "profile_id": "alice", "actor": map[string]any{"user_id": userA},
		"data": map[string]any{"reply_id": replyID, "body": body, "channel": "sms", "phone": "+33612345678"}})
	return b
}

func deliver(t *testing.T, url, eventID, secret string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhooksig.EventIDHeader, eventID)
	req.Header.Set(webhooksig.AttemptHeader, "1")
	req.Header.Set(webhooksig.SignatureHeader, webhooksig.Sign(secret, time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGatewayRoundTrip runs the gateway in-process: it registers, takes a
// signed delivery, refuses a badly signed one, ignores a repeat, reports
// what it printed, and removes its webhook on exit.
func TestGatewayRoundTrip(t *testing.T) {
	api := newGatewayAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, HTTPClient: &http.Client{}}
	result := make(chan error, 1)
	go func() {
		result <- m.Run(ctx, []string{"-server", api.URL, "-token", "tok", "gateway", "-listen", "127.0.0.1:0"})
	}()

	reg := receive(t, api.registered, "webhook registration")
	hookURL, _ := reg["url"].(string)
	if !strings.HasPrefix(hookURL, "http://127.0.0.1:") || !strings.HasSuffix(hookURL, "/") {
		t.Fatalf("registered url %q", hookURL)
	}
	if ev, _ := json.Marshal(reg["events"]); string(ev) != `["ReplySent"]` {
		t.Errorf("registered events %s", ev)
	}

	const replyB = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c05"
	steps := []struct {
		name, eventID, secret string
		body                  []byte
		want                  int
	}{
		{"signed", "ev1", gatewaySecret, payload("ev1", replyA, "Your parcel\nleaves today"), 200},
		{"badly signed", "ev2", "whsec_someone_else", payload("ev2", "forged", "pay here"), 401},
		{"repeat", "ev1", gatewaySecret, payload("ev1", replyA, "Your parcel\nleaves today"), 200},
		{"second reply", "ev3", gatewaySecret, payload("ev3", replyB, "Thanks!"), 200},
	}
	for _, s := range steps {
		if got := deliver(t, hookURL, s.eventID, s.secret, s.body); got != s.want {
			t.Errorf("%s: HTTP %d, want %d", s.name, got, s.want)
		}
	}

	// Reports go one at a time in arrival order, so a report of the repeat
	// would come before the second reply's.
	for _, want := range []string{replyA, replyB} {
		st := receive(t, api.statuses, "reply_status for "+want)
		if st["reply_id"] != want || st["status"] != "delivered" || st["reason"] != nil || !uuidRe.MatchString(st["command_id"].(string)) {
			t.Errorf("reply_status %v, want %s delivered", st, want)
		}
	}

	cancel()
	if err := receive(t, result, "gateway exit"); err != nil {
		t.Fatalf("gateway: %v\n%s", err, errb.String())
	}
	select {
	case st := <-api.statuses:
		t.Errorf("extra reply_status %v", st)
	default:
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.removed) != 1 || api.removed[0] != "wh1" {
		t.Errorf("removed webhooks %v, want [wh1]", api.removed)
	}
	for _, a := range api.auth {
		if a != "Bearer tok" {
			t.Errorf("Authorization %q", a)
		}
	}
	wantOut := "reply " + replyA + " to sms +33612345678: Your parcel leaves today\n" +
		"reply " + replyB + " to sms +33612345678: Thanks!\n"
	if out.String() != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), wantOut)
	}
	if !strings.Contains(errb.String(), "refused a delivery") || !strings.Contains(errb.String(), "webhook wh1 removed") {
		t.Errorf("stderr does not tell the refusal and the removal:\n%s", errb.String())
	}
}

// startGateway runs the gateway with args until the test ends or stop is
// called, and returns what Run returned.
func startGateway(t *testing.T, api *gatewayAPI, args ...string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, HTTPClient: &http.Client{}}
	result := make(chan error, 1)
	go func() {
		result <- m.Run(ctx, append([]string{"-server", api.URL, "-token", "tok", "gateway"}, args...))
	}()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		return receive(t, result, "gateway exit")
	}
}

func TestGatewayPublicURL(t *testing.T) {
	api := newGatewayAPI(t)
	stop := startGateway(t, api, "-listen", "127.0.0.1:0", "-public-url", "https://gw.example/hooks/ticketbus")
	if reg := receive(t, api.registered, "webhook registration"); reg["url"] != "https://gw.example/hooks/ticketbus" {
		t.Errorf("registered url %v", reg["url"])
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayRegisterRefused checks that a token that may not manage
// webhooks stops the gateway with a hint, and that nothing is removed.
func TestGatewayRegisterRefused(t *testing.T) {
	api := newGatewayAPI(t)
	api.createCode = 403
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, HTTPClient: &http.Client{}}
	err := m.Run(context.Background(), []string{"-server", api.URL, "-token", "tok", "gateway", "-listen", "127.0.0.1:0"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "forbidden" || !strings.Contains(err.Error(), "owner or admin") {
		t.Fatalf("err = %v, want forbidden with a hint", err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.removed) != 0 || len(api.auth) != 1 {
		t.Errorf("calls after a refused registration: removed %v, %d calls", api.removed, len(api.auth))
	}
}

func TestGatewayUsage(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"TICKETCTL_TOKEN": "tok"}, []string{"gateway"}, "-listen is required"},
		{map[string]string{"TICKETCTL_TOKEN": "tok"}, []string{"gateway", "-listen", "127.0.0.1:0", "-public-url", "gw.example"}, "-public-url"},
		{nil, []string{"gateway", "-listen", "127.0.0.1:0"}, "no API token"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(tt.env, tt.args...)
			var u *UsageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error mentioning %q", err, tt.want)
			}
		})
	}
}

// TestGatewayHandler checks each kind of request against a registered
// gateway, without the network.
func TestGatewayHandler(t *testing.T) {
	now := time.Unix(1767261600, 0)
	good := payload("ev1", replyA, "hi")
	other, _ := json.Marshal(map[string]any{"id": "ev9", "type": "TicketClosed", "data": map[string]any{}})
	noReply, _ := json.Marshal(map[string]any{"id": "ev8", "type": "ReplySent", "data": map[string]any{"body": "x"}})
	tests := []struct {
		name       string
		method     string
		eventID    string // the header
		body       []byte
		sig        string // "" for a valid one made here
		want       int
		wantReport bool
	}{
		{"signed", "POST", "ev1", good, "", 200, true},
		{"repeat", "POST", "ev1", good, "", 200, false},
		{"no signature", "POST", "ev2", payload("ev2", replyA, "hi"), "none", 401, false},
		{"wrong secret", "POST", "ev2", payload("ev2", replyA, "hi"), webhooksig.Sign("whsec_x", now, payload("ev2", replyA, "hi")), 401, false},
		{"stale", "POST", "ev2", payload("ev2", replyA, "hi"), webhooksig.Sign(gatewaySecret, now.Add(-time.Hour), payload("ev2", replyA, "hi")), 401, false},
		{"body tampered", "POST", "ev2", payload("ev2", replyA, "hi!"), webhooksig.Sign(gatewaySecret, now, payload("ev2", replyA, "hi")), 401, false},
		{"header and payload disagree", "POST", "ev7", payload("ev2", replyA, "hi"), "", 400, false},
		{"not json", "POST", "ev2", []byte("hello"), "", 400, false},
		{"ReplySent without reply_id", "POST", "ev8", noReply, "", 400, false},
		{"other event type", "POST", "ev9", other, "", 200, false},
		{"GET", "GET", "", nil, "", 405, false},
		{"no event header, payload id used", "POST", "", payload("ev3", replyA, "hi"), "", 200, true},
	}
	var out bytes.Buffer
	g := newGateway(&runner{stdout: &out, stderr: io.Discard})
	g.now = func() time.Time { return now }
	g.secret = gatewaySecret
	close(g.ready)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/", bytes.NewReader(tt.body))
			if tt.eventID != "" {
				req.Header.Set(webhooksig.EventIDHeader, tt.eventID)
			}
			switch tt.sig {
			case "":
				req.Header.Set(webhooksig.SignatureHeader, webhooksig.Sign(gatewaySecret, now, tt.body))
			case "none":
			default:
				req.Header.Set(webhooksig.SignatureHeader, tt.sig)
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("HTTP %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			select {
			case id := <-g.reports:
				if !tt.wantReport || id != replyA {
					t.Errorf("queued a report of %s", id)
				}
			default:
				if tt.wantReport {
					t.Error("no report queued")
				}
			}
		})
	}
	if got := strings.Count(out.String(), "reply "+replyA+" to sms +33612345678: hi\n"); got != 2 {
		t.Errorf("printed %d times, want 2 (ev1 and ev3):\n%s", got, out.String())
	}
}
