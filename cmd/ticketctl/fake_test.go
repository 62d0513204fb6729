package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// request is what the fake engine saw of one call.
type request struct {
	Method, Path, EscapedPath, Query, Body, Auth, ContentType string
}

// reply is a canned answer.
type reply struct {
	Status int
	Body   string
}

// fakeEngine implements ticketd's HTTP routes with canned JSON and records
// every request, so tests check what ticketctl sends and how it prints
// what it gets back.
type fakeEngine struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	routes map[string]reply // "METHOD /path", or "METHOD /path?cursor=C"
}

const (
	ticketA = "0f8b5f52-8a3c-4a55-9d54-3c2b7b8e1a01"
	ticketB = "7d1c2e90-1b2f-4c6d-8e3a-5f4b6a7c8d02"
	userA   = "5b0f3c1a-2d4e-4f60-8a7b-9c0d1e2f3a04"
)

var cannedTicket = `{"id":"` + ticketA + `","profile_id":"alice","status":"open","assignee_id":null,"unread":true,` +
	`"snoozed_until":null,"closed_at":null,"last_message_at":"2026-03-01T10:00:00.123+02:00",` +
	`"waiting_since":"2026-03-01T09:58:00+02:00","preview":"Hello, my parcel\tis late","message_count":2`

func defaultRoutes() map[string]reply {
	cmd := reply{200, `{"ok":true,"ticket_id":"` + ticketA + `","profile_id":"alice","outcome":"done","position":7}`}
	r := map[string]reply{
		"GET /v1/tickets": {200, `{"tickets":[` + cannedTicket + `},{"id":"` + ticketB + `","profile_id":"bob","status":"open",` +
			`"assignee_id":"` + userA + `","unread":false,"snoozed_until":null,"closed_at":null,"last_message_at":"2026-02-28T09:00:00Z",` +
			`"preview":"Thanks","message_count":1}],"next_cursor":"c2"}`},
		"GET /v1/tickets?cursor=c2":              {200, `{"tickets":[{"id":"third","profile_id":"carol","status":"open","unread":false,"message_count":1}],"next_cursor":null}`},
		"GET /v1/tickets/counts":                 {200, `{"all":{"open":3,"snoozed":1,"closed":2},"mine":{"open":1,"snoozed":0,"closed":0},"unassigned":{"open":2,"snoozed":1,"closed":0}}`},
		"GET /v1/tickets/" + ticketA:             {200, cannedTicket + `,"messages":[{"id":"m1","direction":"inbound","body":"Hello,\nmy parcel is late","at":"2026-03-01T08:00:00Z","author_id":null,"status":null,"status_reason":null},{"id":"m2","direction":"outbound","body":"On it","at":"2026-03-01T08:05:00Z","author_id":"` + userA + `","status":"failed","status_reason":"number unreachable"}]}`},
		"GET /v1/tickets/" + ticketA + "/events": {200, `[{"position":2,"type":"TicketOpened","at":"2026-03-01T08:00:00.000000001Z","actor":{"user_id":"` + userA + `","role":"integration"},"data":{"profile_id": "alice"}},{"position":9,"type":"TicketWoke","at":"2026-03-02T08:00:00Z","actor":{"system":"timer"},"data":{"reason":"timer"}}]`},
		"GET /v1/profiles/alice":                 {200, `{"id":"alice","phones":["+33612345678"],"blocked":false,"ticket_ids":["` + ticketA + `","` + ticketB + `"],"erasure":"none"}`},
		"GET /v1/erasure":                        {200, `{"pending":1,"waiting_for":["n3"],"keyring_generation":4,"last_note_rotated":9,"last_note_confirmed":7,"confirmed_at":"2026-03-02T08:00:00Z"}`},
		"POST /v1/users":                         {200, `{"id":"` + userA + `","token":"tbk_secret"}`},
		"GET /v1/users":                          {200, `[{"id":"` + userA + `","name":"Ann","role":"support"}]`},
		"GET /v1/me":                             {200, `{"id":"` + userA + `","name":"Ann","role":"owner","nats_inbox_prefix":"_INBOX.` + userA + `"}`},
		"POST /v1/views/rebuild":                 {200, `{"ok":true,"position":42}`},
		"POST /v1/views/verify":                  {200, `{"ok":true,"position":42,"differences":[]}`},
		"POST /v1/test-clock/advance":            {200, `{"now":"2026-03-04T08:00:00.5Z","woke":1,"position":42}`},
		"GET /healthz":                           {200, "ok\n"},
		"GET /readyz":                            {200, "ready\n"},
	}
	for _, name := range []string{"inbound", "reply", "note", "assign", "snooze", "unsnooze", "mark_unread", "mark_read", "close", "block", "unblock"} {
		r["POST /v1/commands/"+name] = cmd
	}
	r["POST /v1/commands/inbound"] = reply{200, `{"ok":true,"ticket_id":"` + ticketA + `","profile_id":"alice","outcome":"opened","position":2}`}
	return r
}

func newFakeEngine(t *testing.T, override map[string]reply) *fakeEngine {
	t.Helper()
	f := &fakeEngine{routes: defaultRoutes()}
	for k, v := range override {
		f.routes[k] = v
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEngine) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Body: string(body), Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")})
	rep, ok := f.routes[r.Method+" "+r.URL.Path+"?cursor="+r.URL.Query().Get("cursor")]
	if !ok {
		rep, ok = f.routes[r.Method+" "+r.URL.Path]
	}
	f.mu.Unlock()
	if !ok {
		rep = reply{404, `{"ok":false,"error":{"code":"not_found","message":"no route ` + r.Method + ` ` + r.URL.Path + `"}}`}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, rep.Body)
}

func (f *fakeEngine) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// run runs ticketctl in-process with only the given environment.
func run(env map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }, HTTPClient: &http.Client{}}
	err = m.Run(context.Background(), args)
	return out.String(), errb.String(), err
}

// runAt runs ticketctl against the fake engine with a token.
func runAt(f *fakeEngine, args ...string) (string, string, error) {
	return run(map[string]string{"TICKETCTL_SERVER": f.URL, "TICKETCTL_TOKEN": "tok"}, args...)
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }
