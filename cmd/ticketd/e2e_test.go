package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInboxWalk walks the contract end to end over HTTP and NATS against a
// real ticketd: views and status filters, counts, the blue dot, snooze and
// wake-up on the test clock, close and the 72h reopen window, block, roles.
func TestInboxWalk(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}

	var agent struct{ ID, Token string }
	if code := owner.do("POST", "/v1/users", map[string]any{"name": "Ada", "role": "support"}, &agent); code != http.StatusCreated {
		t.Fatalf("create user: %d", code)
	}
	ada := &client{tb: t, m: m, token: agent.Token}

	// A gateway sends over NATS; the new ticket shows unread in All and
	// Unassigned, not in Ada's inbox.
	gw := &client{tb: t, m: m, token: ownerToken}
	r := gw.natsCmd("inbound", map[string]any{"profile_id": "alice", "body": "Where is my parcel?", "channel": "sms"})
	if !r.OK || r.Outcome != "opened" {
		t.Fatalf("inbound over NATS: %+v", r)
	}
	tk := r.TicketID
	ada.last = r.Position
	all := ada.list("all", "open")
	if len(all) != 1 || all[0].ID != tk || !all[0].Unread || all[0].Preview != "Where is my parcel?" || all[0].MessageCount != 1 {
		t.Fatalf("all/open: %+v", all)
	}
	if !contains(ada.list("unassigned", "open"), tk) || contains(ada.list("mine", "open"), tk) {
		t.Fatal("a new ticket must be in Unassigned and not in My inbox")
	}

	// Opening it marks it read; mark_unread brings the dot back.
	ada.cmd("mark_read", map[string]any{"ticket_id": tk})
	if ada.list("all", "open")[0].Unread {
		t.Fatal("dot still set after mark_read")
	}
	ada.cmd("mark_unread", map[string]any{"ticket_id": tk})
	if !ada.list("all", "open")[0].Unread {
		t.Fatal("dot not set after mark_unread")
	}

	// Assigned: My inbox, not Unassigned.
	ada.cmd("assign", map[string]any{"ticket_id": tk, "assignee_id": agent.ID})
	ada.cmd("reply", map[string]any{"ticket_id": tk, "body": "Let me check."})
	if !contains(ada.list("mine", "open"), tk) || contains(ada.list("unassigned", "open"), tk) {
		t.Fatal("an assigned ticket must be in My inbox only")
	}

	// Snooze 1h: gone from Open, in Snoozed with its time; counts agree.
	ada.cmd("mark_read", map[string]any{"ticket_id": tk})
	ada.cmd("snooze", map[string]any{"ticket_id": tk, "duration": "1h"})
	if contains(ada.list("all", "open"), tk) {
		t.Fatal("a snoozed ticket shows in Open")
	}
	sn := ada.list("mine", "snoozed")
	if len(sn) != 1 || sn[0].SnoozedUntil == nil || sn[0].Status != "snoozed" {
		t.Fatalf("mine/snoozed: %+v", sn)
	}
	// Every view and status at once: an assigned snoozed ticket is only in
	// All and My inbox, under Snoozed.
	for _, view := range []string{"all", "mine", "unassigned"} {
		for _, status := range []string{"open", "snoozed", "closed"} {
			want := status == "snoozed" && view != "unassigned"
			if got := contains(ada.list(view, status), tk); got != want {
				t.Errorf("%s/%s lists the snoozed ticket: %v, want %v", view, status, got, want)
			}
		}
	}
	var counts map[string]map[string]int
	ada.do("GET", "/v1/tickets/counts", nil, &counts)
	if counts["all"]["snoozed"] != 1 || counts["mine"]["snoozed"] != 1 || counts["all"]["open"] != 0 {
		t.Fatalf("counts while snoozed: %v", counts)
	}

	// Past until, the ticket reads open even before the wake-up event...
	m.Clock.Advance(61 * time.Minute)
	if !contains(ada.list("mine", "open"), tk) {
		t.Fatal("a snooze past its until must read open")
	}
	// ...and the clock's advance writes the wake-up: open, unread, mine.
	var adv struct {
		Woke     int
		Position uint64
	}
	if code := owner.do("POST", "/v1/test-clock/advance", map[string]any{"duration": "1s"}, &adv); code != 200 || adv.Woke != 1 {
		t.Fatalf("advance: %d %+v", code, adv)
	}
	ada.last = adv.Position
	woke := ada.list("mine", "open")
	if len(woke) != 1 || !woke[0].Unread {
		t.Fatalf("after wake-up: %+v", woke)
	}

	// Close: in Closed; a message 72h later reopens it, 72h+1s later opens
	// a new one.
	ada.cmd("close", map[string]any{"ticket_id": tk})
	if !contains(ada.list("all", "closed"), tk) {
		t.Fatal("closed ticket not in Closed")
	}
	m.Clock.Advance(72 * time.Hour)
	re := ada.cmd("inbound", map[string]any{"profile_id": "alice", "body": "Still nothing"})
	if re.Outcome != "reopened" || re.TicketID != tk {
		t.Fatalf("at 72h: %+v", re)
	}
	ada.cmd("close", map[string]any{"ticket_id": tk})
	m.Clock.Advance(72*time.Hour + time.Second)
	fresh := ada.cmd("inbound", map[string]any{"profile_id": "alice", "body": "Hello again"})
	if fresh.Outcome != "opened" || fresh.TicketID == tk {
		t.Fatalf("at 72h+1s: %+v", fresh)
	}

	// Block: every inbound text gone from every ticket, agent replies stay.
	ada.cmd("block", map[string]any{"profile_id": "alice"})
	for _, id := range []string{tk, fresh.TicketID} {
		var d summary
		if code := ada.do("GET", "/v1/tickets/"+id+"?min_position="+itoa(ada.last), nil, &d); code != 200 {
			t.Fatalf("show %s: %d", id, code)
		}
		for _, msg := range d.Messages {
			if msg.Direction == "inbound" {
				t.Fatalf("inbound message left after block: %+v", msg)
			}
		}
		if id == tk && (len(d.Messages) != 1 || d.Messages[0].Body != "Let me check.") {
			t.Fatalf("agent reply must stay: %+v", d.Messages)
		}
		if d.Status != "closed" {
			t.Fatalf("blocked profile's ticket %s is %s", id, d.Status)
		}
	}
	var prof struct {
		Blocked   bool     `json:"blocked"`
		TicketIDs []string `json:"ticket_ids"`
		Erasure   string   `json:"erasure"`
	}
	ada.do("GET", "/v1/profiles/alice?min_position="+itoa(ada.last), nil, &prof)
	if !prof.Blocked || len(prof.TicketIDs) != 2 || (prof.Erasure != "pending" && prof.Erasure != "complete") {
		t.Fatalf("profile after block: %+v", prof)
	}
	// The block starts the rotation that completes its erasure.
	waitFor(t, 10*time.Second, "the erasure to complete", func() bool {
		ada.do("GET", "/v1/profiles/alice", nil, &prof)
		return prof.Erasure == "complete"
	})
	var erasure struct {
		Pending    int      `json:"pending"`
		WaitingFor []string `json:"waiting_for"`
	}
	if code := ada.do("GET", "/v1/erasure", nil, nil); code != http.StatusForbidden {
		t.Fatalf("a support agent reads the erasure status: %d", code)
	}
	if code := owner.do("GET", "/v1/erasure", nil, &erasure); code != 200 || erasure.Pending != 0 || len(erasure.WaitingFor) != 0 {
		t.Fatalf("GET /v1/erasure: %d %+v", code, erasure)
	}
	dropped := ada.cmd("inbound", map[string]any{"profile_id": "alice", "body": "spam"})
	if dropped.Outcome != "dropped_blocked" {
		t.Fatalf("blocked inbound: %+v", dropped)
	}

	// The engine's metrics are on its own registry, served at /metrics.
	resp, err := http.Get("http://" + m.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{`ticketbus_commands_total{command="inbound",result="opened"}`,
		`ticketbus_commands_total{command="inbound",result="dropped_blocked"}`, "ticketbus_commands_duration_seconds",
		"ticketbus_eventstore_events_appended_total", "ticketbus_eventstore_batch_commands", "ticketbus_scheduler_wakeups_total",
		"ticketbus_commands_inbound_dropped_total", "ticketbus_projector_position", "ticketbus_projector_lag_events",
		"ticketbus_projector_apply_seconds", `ticketbus_http_requests_total{route="GET /v1/tickets",status="200"}`,
		"ticketbus_erasure_pending 0", "ticketbus_erasure_rotations_total 1", "ticketbus_projector_stalled 0"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// The auditor's history names every step.
	var hist []struct {
		Type string `json:"type"`
	}
	ada.do("GET", "/v1/tickets/"+tk+"/events", nil, &hist)
	var types []string
	for _, h := range hist {
		types = append(types, h.Type)
	}
	for _, want := range []string{"TicketOpened", "MessageReceived", "TicketMarkedRead", "TicketAssigned", "ReplySent",
		"TicketSnoozed", "TicketWoke", "TicketClosed", "TicketReopened", "MessagesErased"} {
		if !strings.Contains(strings.Join(types, ","), want) {
			t.Errorf("history lacks %s: %v", want, types)
		}
	}
}

// TestRolesOverHTTP checks the role table on queries and commands.
func TestRolesOverHTTP(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	tk := owner.cmd("inbound", map[string]any{"profile_id": "bob", "body": "hi"}).TicketID
	for _, c := range []struct {
		role             string
		inbox, ticketCmd bool
		inbound, users   bool
	}{
		{"owner", true, true, true, true}, {"admin", true, true, true, true},
		{"manager", true, true, true, false}, {"support", true, true, true, false},
		{"analyst", false, false, false, false}, {"campaign_coordinator", false, false, false, false},
		{"content_creator", false, false, false, false}, {"integration", false, false, true, false},
	} {
		var u struct{ ID, Token string }
		if code := owner.do("POST", "/v1/users", map[string]any{"name": c.role, "role": c.role}, &u); code != 201 {
			t.Fatalf("create %s: %d", c.role, code)
		}
		cl := &client{tb: t, m: m, token: u.Token}
		expect := func(what string, allowed bool, status int) {
			t.Helper()
			if allowed == (status == http.StatusForbidden) {
				t.Errorf("%s: %s gave %d, allowed=%v", c.role, what, status, allowed)
			}
		}
		expect("list", c.inbox, cl.do("GET", "/v1/tickets", nil, nil))
		expect("counts", c.inbox, cl.do("GET", "/v1/tickets/counts", nil, nil))
		expect("show", c.inbox, cl.do("GET", "/v1/tickets/"+tk, nil, nil))
		expect("history", c.inbox, cl.do("GET", "/v1/tickets/"+tk+"/events", nil, nil))
		expect("mark_unread", c.ticketCmd, cl.do("POST", "/v1/commands/mark_unread", map[string]any{"ticket_id": tk}, nil))
		expect("inbound", c.inbound, cl.do("POST", "/v1/commands/inbound", map[string]any{"profile_id": "bob", "body": "x"}, nil))
		expect("users", c.users, cl.do("POST", "/v1/users", map[string]any{"name": "n", "role": "support"}, nil))
		var me struct{ Role string }
		if cl.do("GET", "/v1/me", nil, &me); me.Role != c.role {
			t.Errorf("/v1/me for %s: %+v", c.role, me)
		}
	}
	anon := &client{tb: t, m: m}
	if code := anon.do("GET", "/v1/tickets", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code := anon.do("GET", "/healthz", nil, nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestQueryErrors checks that the views' errors reach callers with the
// contract's codes and a message that names the problem.
func TestQueryErrors(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	for _, c := range []struct {
		path   string
		status int
		code   string
		says   string
	}{
		{"/v1/tickets/" + newID(), 404, "not_found", "not found"},
		{"/v1/tickets/" + newID() + "/events", 404, "not_found", "not found"},
		{"/v1/profiles/nobody", 404, "not_found", "not found"},
		{"/v1/tickets?cursor=%21%21", 400, "invalid_argument", "cursor"},
		{"/v1/tickets?view=everyone", 400, "invalid_argument", "view"},
		{"/v1/tickets?limit=501", 400, "invalid_argument", "limit"},
		{"/v1/tickets?sort=oldest", 400, "invalid_argument", "sort must be newest or waiting"},
		{"/v1/tickets?q=x&sort=longest", 400, "invalid_argument", "sort must be newest or waiting"},
		{"/v1/tickets?min_position=abc", 400, "invalid_argument", "min_position"},
		{"/v1/nothing", 404, "not_found", "no route"},
	} {
		var r cmdReply
		status := owner.do("GET", c.path, nil, &r)
		if status != c.status || r.Code() != c.code || !strings.Contains(r.Error.Message, c.says) || strings.Contains(r.Error.Message, "projections") {
			t.Errorf("GET %s: %d %+v, want %d %s mentioning %q", c.path, status, r.Error, c.status, c.code, c.says)
		}
	}
}

// TestCommandErrorsOverHTTP checks that commands over HTTP fail with the
// same codes as over NATS, each with its status, and write nothing.
func TestCommandErrorsOverHTTP(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	tk := owner.cmd("inbound", map[string]any{"profile_id": "carl", "body": "hi"}).TicketID
	owner.cmd("close", map[string]any{"ticket_id": tk})
	before, err := m.Log.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	post := func(token, name, body string) (int, cmdReply) {
		req, _ := http.NewRequest("POST", "http://"+m.HTTPAddr()+"/v1/commands/"+name, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r cmdReply
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s: reply %q is not JSON", name, raw)
		}
		return resp.StatusCode, r
	}
	for _, c := range []struct {
		name, token, cmd, body string
		status                 int
		code                   string
	}{
		{"no token", "", "close", `{"ticket_id":"` + tk + `"}`, 401, "unauthenticated"},
		{"unknown token", "tbk_nope", "close", `{"ticket_id":"` + tk + `"}`, 401, "unauthenticated"},
		{"malformed", ownerToken, "inbound", `{"profile_id":`, 400, "invalid_argument"},
		{"unknown field", ownerToken, "inbound", `{"profile_id":"carl","body":"x","extra":1}`, 400, "invalid_argument"},
		{"wrong type", ownerToken, "inbound", `{"profile_id":"carl","body":5}`, 400, "invalid_argument"},
		{"invalid UTF-8", ownerToken, "inbound", "{\"profile_id\":\"carl\",\"body\":\"\xff\"}", 400, "invalid_argument"},
		{"2 MB body", ownerToken, "inbound", `{"profile_id":"carl","body":"` + strings.Repeat("a", 2<<20) + `"}`, 400, "invalid_argument"},
		{"unknown command", ownerToken, "explode", `{}`, 400, "invalid_argument"},
		{"unknown ticket", ownerToken, "close", `{"ticket_id":"` + newID() + `"}`, 404, "not_found"},
		{"closed ticket", ownerToken, "snooze", `{"ticket_id":"` + tk + `","duration":"1h"}`, 409, "ticket_closed"},
	} {
		status, r := post(c.token, c.cmd, c.body)
		if status != c.status || r.OK || r.Code() != c.code || r.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", c.name, status, r.Error, c.status, c.code)
		}
	}
	after, err := m.Log.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("failed commands wrote %d events", after-before)
	}
}
