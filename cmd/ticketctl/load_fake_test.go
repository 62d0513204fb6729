package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The NATS users of the fake: load's, limited as docs/security.md limits
// agent tools, and the fake engine's own.
const (
	fakeLoadUser     = "agent_tools"
	fakeLoadPassword = "load-secret"
	fakeEngineUser   = "engine"
)

// fakeLogEvent is one event of the fake engine's log.
type fakeLogEvent struct {
	Position  uint64 `json:"position"`
	Type      string `json:"type"`
	CommandID string `json:"command_id"`
	Aggregate struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"aggregate"`
	TicketID string `json:"ticket_id"`
}

// fakeCommandEngine answers ticketctl load: commands over an in-process
// NATS server that wants a user and password, and the HTTP routes load
// reads (/v1/me, /v1/log, /v1/views/verify). Every first command is
// acknowledged and logged; what a resend gets is up to onResend, so that
// the bookkeeping meets every kind of answer.
type fakeCommandEngine struct {
	NATSURL string
	HTTPURL string
	nc      *nats.Conn // the fake engine's own connection
	sub     *nats.Subscription

	mu       sync.Mutex
	first    map[string][]byte // command_id -> its first reply
	resends  map[string]int    // command_id -> resends seen
	profiles []string          // profile_id of every command that had one
	owners   map[string]string // ticket id -> profile id
	events   []fakeLogEvent
	// onResend answers the n-th resend of a command whose first reply
	// was first; nil sends no answer at all. Unset: the first reply.
	onResend func(first []byte, n int) []byte
	// stray are events of commands the run never sent, logged once right
	// after the first command's.
	stray []fakeLogEvent
	// omitFromLog hides a command's events from /v1/log.
	omitFromLog func(id string) bool
}

func newFakeCommandEngine(t *testing.T) *fakeCommandEngine {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Users: []*server.User{
			{Username: fakeLoadUser, Password: fakeLoadPassword, Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"tickets.cmd.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
			{Username: fakeEngineUser, Password: "engine-secret"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("in-process NATS server not ready")
	}
	f := &fakeCommandEngine{NATSURL: ns.ClientURL(), first: map[string][]byte{}, resends: map[string]int{}, owners: map[string]string{}}
	nc, err := nats.Connect(f.NATSURL, nats.UserInfo(fakeEngineUser, "engine-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f.nc = nc
	if f.sub, err = nc.Subscribe("tickets.cmd.>", f.answer); err != nil {
		t.Fatal(err)
	}
	// The server knows the subscription once the flush returns; before,
	// a first command could find no responder.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(h.Close)
	f.HTTPURL = h.URL
	return f
}

// answer acknowledges a command the first time, with its events in the
// log, and gives a resend what onResend says.
func (f *fakeCommandEngine) answer(m *nats.Msg) {
	var c struct {
		CommandID string `json:"command_id"`
		ProfileID string `json:"profile_id"`
		TicketID  string `json:"ticket_id"`
	}
	if err := json.Unmarshal(m.Data, &c); err != nil || c.CommandID == "" {
		_ = m.Respond([]byte(`{"ok":false,"error":{"code":"invalid_argument","message":"bad body"}}`))
		return
	}
	f.mu.Lock()
	if first, ok := f.first[c.CommandID]; ok {
		f.resends[c.CommandID]++
		n, on := f.resends[c.CommandID], f.onResend
		f.mu.Unlock()
		rep := first
		if on != nil {
			rep = on(first, n)
		}
		if rep != nil {
			_ = m.Respond(rep)
		}
		return
	}
	name := strings.TrimPrefix(m.Subject, "tickets.cmd.")
	if c.ProfileID != "" {
		f.profiles = append(f.profiles, c.ProfileID)
	}
	outcome, types := "done", []string{"Ticket" + name}
	if name == "inbound" {
		c.TicketID = "t-" + c.CommandID
		outcome, types = "opened", []string{"TicketOpened", "MessageReceived"}
		f.owners[c.TicketID] = c.ProfileID
	}
	profile := c.ProfileID
	if profile == "" {
		profile = f.owners[c.TicketID]
	}
	var pos uint64
	for _, typ := range types {
		e := fakeLogEvent{Position: uint64(len(f.events) + 1), Type: typ, CommandID: c.CommandID, TicketID: c.TicketID}
		e.Aggregate.Kind, e.Aggregate.ID = "profile", profile
		f.events = append(f.events, e)
		pos = e.Position
	}
	for _, e := range f.stray {
		e.Position = uint64(len(f.events) + 1)
		f.events = append(f.events, e)
	}
	f.stray = nil
	rep, _ := json.Marshal(loadReply{OK: true, TicketID: c.TicketID, ProfileID: c.ProfileID, Outcome: outcome, Position: pos})
	f.first[c.CommandID] = rep
	f.mu.Unlock()
	_ = m.Respond(rep)
}

func (f *fakeCommandEngine) serveHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	last := uint64(len(f.events))
	switch r.Method + " " + r.URL.Path {
	case "GET /v1/me":
		fmt.Fprintf(w, `{"id":%q,"name":"load","role":"owner"}`, userA)
	case "POST /v1/views/verify":
		fmt.Fprintf(w, `{"ok":true,"position":%d,"differences":[]}`, last)
	case "GET /v1/log":
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.ParseUint(r.URL.Query().Get("limit"), 10, 64)
		end := min(last, after+max(limit, 1))
		page := []fakeLogEvent{}
		for _, e := range f.events[min(after, last):end] {
			if f.omitFromLog == nil || !f.omitFromLog(e.CommandID) {
				page = append(page, e)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"events": page, "last_position": last, "next_after": end})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"ok":false,"error":{"code":"not_found","message":"no route"}}`)
	}
}

// set changes the fake's behaviour under its lock.
func (f *fakeCommandEngine) set(change func(f *fakeCommandEngine)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// counts returns how many commands were acknowledged and the fewest
// resends any of them got.
func (f *fakeCommandEngine) counts() (acked, fewestResends int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fewestResends = -1
	for id := range f.first {
		if n := f.resends[id]; fewestResends < 0 || n < fewestResends {
			fewestResends = n
		}
	}
	return len(f.first), fewestResends
}

// seenProfiles returns the profile ids of the commands received so far.
func (f *fakeCommandEngine) seenProfiles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.profiles...)
}

// errorReply is an engine error reply with the given code.
func errorReply(code string) []byte {
	return []byte(`{"ok":false,"error":{"code":"` + code + `","message":"fake"}}`)
}

// runLoadAt runs ticketctl -json load against the fake with the load
// user's credentials in the environment and returns its summary.
func runLoadAt(t *testing.T, f *fakeCommandEngine, extra ...string) (LoadSummary, string, error) {
	t.Helper()
	env := map[string]string{"TICKETCTL_SERVER": f.HTTPURL, "TICKETCTL_TOKEN": "tok",
		"TICKETCTL_NATS_USER": fakeLoadUser, "TICKETCTL_NATS_PASSWORD": fakeLoadPassword}
	args := append([]string{"-json", "load", "-nats-url", f.NATSURL, "-producers", "2", "-duration", "100ms", "-mix", "inbound=1"}, extra...)
	out, errb, err := run(env, args...)
	var s LoadSummary
	if out != "" {
		if jerr := json.Unmarshal([]byte(out), &s); jerr != nil {
			t.Fatalf("load -json: %v: %q (stderr %q, err %v)", jerr, out, errb, err)
		}
	}
	return s, out, err
}
