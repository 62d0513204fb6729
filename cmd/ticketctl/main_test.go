package main

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const cid = "11111111-2222-4333-8444-555555555555"

// TestRequests checks that each subcommand's flags become the right
// method, path, query and body.
func TestRequests(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		method string
		path   string
		query  url.Values // nil: no query at all
		body   string     // JSON; "" for no body
	}{
		{"inbound", []string{"inbound", "-profile", "alice", "-body", "Hi", "-phone", "+33612345678", "-message-id", "gw-1", "-channel", "sms", "-command-id", cid},
			"POST", "/v1/commands/inbound", nil, `{"profile_id":"alice","body":"Hi","phone":"+33612345678","message_id":"gw-1","channel":"sms","command_id":"` + cid + `"}`},
		{"inbound minimal", []string{"inbound", "-profile", "alice", "-body", "Hi", "-command-id", cid},
			"POST", "/v1/commands/inbound", nil, `{"profile_id":"alice","body":"Hi","command_id":"` + cid + `"}`},
		{"reply", []string{"reply", "-ticket", ticketA, "-body", "On it", "-command-id", cid},
			"POST", "/v1/commands/reply", nil, `{"ticket_id":"` + ticketA + `","body":"On it","command_id":"` + cid + `"}`},
		{"assign", []string{"assign", "-ticket", ticketA, "-user", userA, "-command-id", cid},
			"POST", "/v1/commands/assign", nil, `{"ticket_id":"` + ticketA + `","assignee_id":"` + userA + `","command_id":"` + cid + `"}`},
		{"assign none", []string{"assign", "-ticket", ticketA, "-user", "none", "-command-id", cid},
			"POST", "/v1/commands/assign", nil, `{"ticket_id":"` + ticketA + `","assignee_id":null,"command_id":"` + cid + `"}`},
		{"snooze for", []string{"snooze", "-ticket", ticketA, "-for", "90m", "-command-id", cid},
			"POST", "/v1/commands/snooze", nil, `{"ticket_id":"` + ticketA + `","duration":"90m","command_id":"` + cid + `"}`},
		{"snooze until", []string{"snooze", "-ticket", ticketA, "-until", "2026-03-05T09:00:00+01:00", "-command-id", cid},
			"POST", "/v1/commands/snooze", nil, `{"ticket_id":"` + ticketA + `","until":"2026-03-05T09:00:00+01:00","command_id":"` + cid + `"}`},
		{"unsnooze", []string{"unsnooze", "-ticket", ticketA, "-command-id", cid},
			"POST", "/v1/commands/unsnooze", nil, `{"ticket_id":"` + ticketA + `","command_id":"` + cid + `"}`},
		{"mark-unread", []string{"mark-unread", "-ticket", ticketA, "-command-id", cid},
			"POST", "/v1/commands/mark_unread", nil, `{"ticket_id":"` + ticketA + `","command_id":"` + cid + `"}`},
		{"mark_read spelled as the API", []string{"mark_read", "-ticket", ticketA, "-command-id", cid},
			"POST", "/v1/commands/mark_read", nil, `{"ticket_id":"` + ticketA + `","command_id":"` + cid + `"}`},
		{"close", []string{"close", "-ticket", ticketA, "-command-id", cid},
			"POST", "/v1/commands/close", nil, `{"ticket_id":"` + ticketA + `","command_id":"` + cid + `"}`},
		{"block profile", []string{"block", "-profile", "alice", "-command-id", cid},
			"POST", "/v1/commands/block", nil, `{"profile_id":"alice","command_id":"` + cid + `"}`},
		{"unblock phone", []string{"unblock", "-phone", "+33612345678", "-command-id", cid},
			"POST", "/v1/commands/unblock", nil, `{"phone":"+33612345678","command_id":"` + cid + `"}`},
		{"note", []string{"note", "-ticket", ticketA, "-body", "VIP customer", "-command-id", cid},
			"POST", "/v1/commands/note", nil, `{"ticket_id":"` + ticketA + `","body":"VIP customer","command_id":"` + cid + `"}`},
		{"inbox defaults", []string{"inbox"}, "GET", "/v1/tickets", url.Values{"view": {"all"}, "status": {"open"}}, ""},
		{"search every status", []string{"search", "refund", "-limit", "5", "late parcel"},
			"GET", "/v1/tickets", url.Values{"q": {"refund late parcel"}, "view": {"all"}, "limit": {"5"}}, ""},
		{"search flags", []string{"search", "-view", "mine", "-status", "closed", "-cursor", "c9", "-min-position", "4", "+33612345678"},
			"GET", "/v1/tickets", url.Values{"q": {"+33612345678"}, "view": {"mine"}, "status": {"closed"}, "cursor": {"c9"}, "min_position": {"4"}}, ""},
		{"inbox flags", []string{"inbox", "-view", "mine", "-status", "snoozed", "-limit", "10", "-cursor", "abc", "-min-position", "7"},
			"GET", "/v1/tickets", url.Values{"view": {"mine"}, "status": {"snoozed"}, "limit": {"10"}, "cursor": {"abc"}, "min_position": {"7"}}, ""},
		{"inbox sorted", []string{"inbox", "-sort", "waiting"},
			"GET", "/v1/tickets", url.Values{"view": {"all"}, "status": {"open"}, "sort": {"waiting"}}, ""},
		{"search sorted", []string{"search", "-sort", "waiting", "late"},
			"GET", "/v1/tickets", url.Values{"q": {"late"}, "view": {"all"}, "sort": {"waiting"}}, ""},
		{"counts", []string{"counts", "-min-position", "3"}, "GET", "/v1/tickets/counts", url.Values{"min_position": {"3"}}, ""},
		{"show", []string{"show", ticketA}, "GET", "/v1/tickets/" + ticketA, nil, ""},
		{"show flag after id", []string{"show", ticketA, "-min-position", "5"}, "GET", "/v1/tickets/" + ticketA, url.Values{"min_position": {"5"}}, ""},
		{"history", []string{"history", "-min-position", "9", ticketA}, "GET", "/v1/tickets/" + ticketA + "/events", url.Values{"min_position": {"9"}}, ""},
		{"profile", []string{"profile", "alice"}, "GET", "/v1/profiles/alice", nil, ""},
		{"users add", []string{"users", "add", "-name", "Ann", "-role", "support"}, "POST", "/v1/users", nil, `{"name":"Ann","role":"support"}`},
		{"users list", []string{"users", "list"}, "GET", "/v1/users", nil, ""},
		{"me", []string{"me"}, "GET", "/v1/me", nil, ""},
		{"views rebuild", []string{"views", "rebuild"}, "POST", "/v1/views/rebuild", nil, `{}`},
		{"views verify", []string{"views", "verify"}, "POST", "/v1/views/verify", nil, `{}`},
		{"clock advance", []string{"clock", "advance", "73h"}, "POST", "/v1/test-clock/advance", nil, `{"duration":"73h"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t, nil)
			if _, _, err := runAt(f, tt.args...); err != nil {
				t.Fatalf("Run: %v", err)
			}
			// Lists and threads also ask for the users' names.
			reqs := slices.DeleteFunc(f.requests(), func(r request) bool { return tt.path != "/v1/users" && r.Path == "/v1/users" })
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
			}
			got := reqs[0]
			if got.Method != tt.method || got.Path != tt.path {
				t.Errorf("request %s %s, want %s %s", got.Method, got.Path, tt.method, tt.path)
			}
			if got.Auth != "Bearer tok" {
				t.Errorf("Authorization %q, want Bearer tok", got.Auth)
			}
			q, _ := url.ParseQuery(got.Query)
			if len(q) == 0 {
				q = nil
			}
			if !reflect.DeepEqual(q, tt.query) {
				t.Errorf("query %v, want %v", q, tt.query)
			}
			if tt.body == "" {
				if got.Body != "" {
					t.Errorf("body %q, want none", got.Body)
				}
				return
			}
			if got.ContentType != "application/json" {
				t.Errorf("Content-Type %q", got.ContentType)
			}
			assertJSONEqual(t, got.Body, tt.body)
		})
	}
}

func assertJSONEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body %s, want %s", got, want)
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestCommandIDDefault checks that every command carries a fresh random
// UUID when -command-id is not given.
func TestCommandIDDefault(t *testing.T) {
	f := newFakeEngine(t, nil)
	for i := 0; i < 2; i++ {
		if _, _, err := runAt(f, "close", "-ticket", ticketA); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, r := range f.requests() {
		var body struct {
			CommandID string `json:"command_id"`
		}
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatal(err)
		}
		if !uuidRe.MatchString(body.CommandID) {
			t.Errorf("command_id %q is not a random UUID", body.CommandID)
		}
		ids = append(ids, body.CommandID)
	}
	if ids[0] == ids[1] {
		t.Errorf("two commands share command_id %s", ids[0])
	}
}

// TestEnvAndFlags checks the environment twins and that a flag wins over
// its twin.
func TestEnvAndFlags(t *testing.T) {
	f := newFakeEngine(t, nil)
	other := newFakeEngine(t, nil)
	env := map[string]string{"TICKETCTL_SERVER": other.URL + "/", "TICKETCTL_TOKEN": "from-env", "TICKETCTL_JSON": "true"}

	out, _, err := run(env, "me")
	if err != nil {
		t.Fatal(err)
	}
	if reqs := other.requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer from-env" || reqs[0].Path != "/v1/me" {
		t.Errorf("env twins not used: %+v", reqs)
	}
	if !strings.HasPrefix(out, `{"id":`) {
		t.Errorf("TICKETCTL_JSON did not give raw JSON: %q", out)
	}

	if _, _, err := run(env, "-server", f.URL, "-token", "from-flag", "me"); err != nil {
		t.Fatal(err)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer from-flag" {
		t.Errorf("flags did not win over env: %+v", reqs)
	}
}

// TestDefaultServer checks the default address without reaching it.
func TestDefaultServer(t *testing.T) {
	_, _, err := run(map[string]string{"TICKETCTL_TOKEN": "t"}, "-server", "ftp://x", "me")
	var u *UsageError
	if !errors.As(err, &u) {
		t.Fatalf("bad -server: %v, want a usage error", err)
	}
	if DefaultServer != "http://127.0.0.1:8080" {
		t.Errorf("DefaultServer %s", DefaultServer)
	}
}

// TestPathEscaping checks that ids are sent as one path segment.
func TestPathEscaping(t *testing.T) {
	f := newFakeEngine(t, nil)
	for _, id := range []string{"a/b", "..", "x y"} {
		_, _, _ = runAt(f, "profile", id)
	}
	want := []string{"/v1/profiles/a%2Fb", "/v1/profiles/%2E%2E", "/v1/profiles/x%20y"}
	for i, r := range f.requests() {
		if r.EscapedPath != want[i] {
			t.Errorf("path %s, want %s", r.EscapedPath, want[i])
		}
	}
}
