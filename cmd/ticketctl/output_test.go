package main

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// fields splits a table row on runs of two or more spaces, the column gap.
func fields(row string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(row), -1)
}

func TestInboxTable(t *testing.T) {
	f := newFakeEngine(t, nil)
	out, _, err := runAt(f, "inbox", "-view", "mine", "-limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	got := lines(out)
	if len(got) != 4 {
		t.Fatalf("got %d lines, want header, 2 rows, next:\n%s", len(got), out)
	}
	want := [][]string{
		{"ID", "PROFILE", "STATUS", "ASSIGNEE", "UNREAD", "WAITING SINCE", "SNOOZED UNTIL", "LAST MESSAGE", "MSGS", "PREVIEW"},
		// The offset times come back in UTC; the tab in the preview does
		// not split the cell.
		{ticketA, "alice", "open", "-", "●", "2026-03-01T07:58:00Z", "-", "2026-03-01T08:00:00Z", "2", "Hello, my parcel is late"},
	}
	for i, w := range want {
		if g := fields(got[i]); strings.Join(g, "|") != strings.Join(w, "|") {
			t.Errorf("line %d = %q, want %q", i, g, w)
		}
	}
	// The assignee shows by name.
	if g := fields(got[2]); g[0] != ticketB || g[3] != "Ann" {
		t.Errorf("line 2 = %q, want ticket B assigned to Ann", g)
	}
	// The read ticket has an empty UNREAD cell, aligned under the header.
	col := strings.Index(got[0], "UNREAD")
	if got[1][col:col+len("●")] != "●" || got[2][col] != ' ' {
		t.Errorf("UNREAD column misaligned:\n%s", out)
	}
	if got[3] != "next: ticketctl inbox -limit 2 -view mine -cursor c2" {
		t.Errorf("next hint %q", got[3])
	}
}

// TestInboxSort: -sort waiting reaches the engine as sort (newest, its
// default, is left out) and is repeated by the next hint; only newest and
// waiting are taken.
func TestInboxSort(t *testing.T) {
	for _, c := range []struct {
		args []string
		sort string
	}{
		{[]string{"inbox"}, ""},
		{[]string{"inbox", "-sort", "newest"}, ""},
		{[]string{"inbox", "-sort", "waiting", "-limit", "2"}, "waiting"},
		{[]string{"search", "-sort", "waiting", "parcel"}, "waiting"},
	} {
		f := newFakeEngine(t, nil)
		out, _, err := runAt(f, c.args...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if q, _ := url.ParseQuery(f.requests()[0].Query); q.Get("sort") != c.sort {
			t.Errorf("%v: query %v, want sort=%s", c.args, q, c.sort)
		}
		if c.sort == "waiting" && !strings.Contains(out, "-sort waiting") {
			t.Errorf("%v: the next hint forgets the sort:\n%s", c.args, out)
		}
	}
	for _, args := range [][]string{{"inbox", "-sort", "oldest"}, {"search", "-sort", "", "x"}} {
		if _, _, err := runAt(newFakeEngine(t, nil), args...); ExitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestInboxAllPages(t *testing.T) {
	f := newFakeEngine(t, nil)
	out, _, err := runAt(f, "inbox", "-all-pages", "-status", "open")
	if err != nil {
		t.Fatal(err)
	}
	if rows := lines(out); len(rows) != 4 || !strings.HasPrefix(rows[3], "third ") || strings.Contains(out, "next:") {
		t.Errorf("want all three tickets and no next hint:\n%s", out)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[2].Path != "/v1/users" {
		t.Fatalf("%d requests, want 2 pages and the users' names", len(reqs))
	}
	q, _ := url.ParseQuery(reqs[1].Query)
	if q.Get("cursor") != "c2" || q.Get("status") != "open" {
		t.Errorf("second page query %v", q)
	}

	out, _, err = runAt(f, "-json", "inbox", "-all-pages")
	if err != nil {
		t.Fatal(err)
	}
	var merged struct {
		Tickets    []map[string]any `json:"tickets"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(out), &merged); err != nil || len(merged.Tickets) != 3 || merged.NextCursor != nil {
		t.Errorf("-json -all-pages = %s (%v)", out, err)
	}
}

// TestJSONIsRaw checks that -json prints each reply byte for byte.
func TestJSONIsRaw(t *testing.T) {
	f := newFakeEngine(t, nil)
	routes := defaultRoutes()
	for _, c := range []struct {
		args  []string
		route string
	}{
		{[]string{"inbox"}, "GET /v1/tickets"},
		{[]string{"counts"}, "GET /v1/tickets/counts"},
		{[]string{"show", ticketA}, "GET /v1/tickets/" + ticketA},
		{[]string{"history", ticketA}, "GET /v1/tickets/" + ticketA + "/events"},
		{[]string{"profile", "alice"}, "GET /v1/profiles/alice"},
		{[]string{"users", "list"}, "GET /v1/users"},
		{[]string{"me"}, "GET /v1/me"},
		{[]string{"views", "rebuild"}, "POST /v1/views/rebuild"},
		{[]string{"clock", "advance", "2h"}, "POST /v1/test-clock/advance"},
		{[]string{"inbound", "-profile", "alice", "-body", "Hi"}, "POST /v1/commands/inbound"},
	} {
		out, _, err := runAt(f, append([]string{"-json"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if want := routes[c.route].Body + "\n"; out != want {
			t.Errorf("%v printed %q, want %q", c.args, out, want)
		}
	}
}

func TestPlainOutput(t *testing.T) {
	tests := []struct {
		args []string
		want []string // lines, compared after collapsing column gaps
	}{
		{[]string{"inbound", "-profile", "alice", "-body", "Hi"}, []string{"ok  outcome=opened  ticket=" + ticketA + "  position=2"}},
		{[]string{"close", "-ticket", ticketA}, []string{"ok  outcome=done  ticket=" + ticketA + "  position=7"}},
		{[]string{"counts"}, []string{"VIEW|OPEN|SNOOZED|CLOSED", "all|3|1|2", "mine|1|0|0", "unassigned|2|1|0"}},
		{[]string{"show", ticketA}, []string{
			"ticket|" + ticketA, "profile|alice", "status|open", "assignee|-", "unread|● yes", "snoozed until|-",
			"closed at|-", "last message|2026-03-01T08:00:00Z", "waiting since|2026-03-01T07:58:00Z", "messages|2", "",
			"[2026-03-01T08:00:00Z] inbound (alice): Hello,", "my parcel is late",
			"[2026-03-01T08:05:00Z] outbound (Ann) [failed: number unreachable]: On it"}},
		{[]string{"history", ticketA}, []string{
			"POSITION|AT|TYPE|ACTOR|DATA",
			"2|2026-03-01T08:00:00.000000001Z|TicketOpened|Ann (integration)|{\"profile_id\":\"alice\"}",
			"9|2026-03-02T08:00:00Z|TicketWoke|system:timer|{\"reason\":\"timer\"}"}},
		{[]string{"profile", "alice"}, []string{"profile|alice", "phones|+33612345678", "blocked|no", "erasure|none", "tickets|" + ticketA, ticketB}},
		{[]string{"users", "add", "-name", "Ann", "-role", "support"}, []string{"id|" + userA, "token|tbk_secret", "The token is shown this once; store it now."}},
		{[]string{"users", "list"}, []string{"ID|NAME|ROLE", userA + "|Ann|support"}},
		{[]string{"me"}, []string{"id|" + userA, "name|Ann", "role|owner", "nats_inbox_prefix|_INBOX." + userA}},
		{[]string{"views", "rebuild"}, []string{"ok|views rebuilt from the log up to position 42"}},
		{[]string{"views", "verify"}, []string{"ok|views match the log at position 42"}},
		{[]string{"clock", "advance", "73h"}, []string{"now|2026-03-04T08:00:00.5Z|woke=1|position=42"}},
		{[]string{"health"}, []string{"healthz|ok|ok", "readyz|ok|ready"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := newFakeEngine(t, nil)
			out, _, err := runAt(f, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			got := lines(out)
			if tt.args[0] == "inbound" || tt.args[0] == "close" {
				if out != tt.want[0]+"\n" {
					t.Errorf("got %q, want %q", out, tt.want[0])
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(got), len(tt.want), out)
			}
			for i, w := range tt.want {
				if g := strings.Join(fields(got[i]), "|"); g != w {
					t.Errorf("line %d = %q, want %q", i, g, w)
				}
			}
		})
	}
}

// TestShowReplyStatus checks how show prints each reply's delivery status,
// and that -json carries it as the engine sent it.
func TestShowReplyStatus(t *testing.T) {
	msg := func(direction, status, reason string) string {
		return `{"id":"m","direction":"` + direction + `","body":"x","at":"2026-01-01T00:00:00Z","author_id":"u",` +
			`"status":` + status + `,"status_reason":` + reason + `}`
	}
	tests := []struct {
		name, message, want string
	}{
		{"inbound", msg("inbound", "null", "null"), "[2026-01-01T00:00:00Z] inbound (u): x"},
		{"inbound, fields omitted", `{"id":"m","direction":"inbound","body":"x","at":"2026-01-01T00:00:00Z","author_id":null}`,
			"[2026-01-01T00:00:00Z] inbound (p): x"},
		{"pending", msg("outbound", `"pending"`, "null"), "[2026-01-01T00:00:00Z] outbound (u) [pending]: x"},
		{"sent", msg("outbound", `"sent"`, "null"), "[2026-01-01T00:00:00Z] outbound (u) [sent]: x"},
		{"delivered", msg("outbound", `"delivered"`, "null"), "[2026-01-01T00:00:00Z] outbound (u) [delivered]: x"},
		{"failed", msg("outbound", `"failed"`, `"mailbox full"`), "[2026-01-01T00:00:00Z] outbound (u) [failed: mailbox full]: x"},
		{"failed, reason sanitized", msg("outbound", `"failed"`, `"a\u001b[2Jb\nc"`),
			"[2026-01-01T00:00:00Z] outbound (u) [failed: a\ufffd[2Jb c]: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"t1","profile_id":"p","status":"open","unread":false,"message_count":1,"messages":[` + tt.message + `]}`
			f := newFakeEngine(t, map[string]reply{"GET /v1/tickets/t1": {200, body}})
			out, _, err := runAt(f, "show", "t1")
			if err != nil {
				t.Fatal(err)
			}
			if got := lines(out); got[len(got)-1] != tt.want {
				t.Errorf("got %q, want %q", got[len(got)-1], tt.want)
			}
			out, _, err = runAt(f, "-json", "show", "t1")
			if err != nil || out != body+"\n" {
				t.Errorf("-json printed %q (%v), want %q", out, err, body)
			}
		})
	}
}

// TestTerminalSafety checks that customer text cannot move the cursor or
// break a table row.
func TestTerminalSafety(t *testing.T) {
	long := strings.Repeat("é", 100)
	f := newFakeEngine(t, map[string]reply{
		"GET /v1/tickets": {200, `{"tickets":[{"id":"t1","profile_id":"p","status":"open","unread":false,"preview":"\u001b[2Jgone\nnext","message_count":1},` +
			`{"id":"t2","profile_id":"p","status":"open","unread":false,"preview":"` + long + `","message_count":1}],"next_cursor":null}`},
		"GET /v1/tickets/t1": {200, `{"id":"t1","profile_id":"p","status":"open","unread":false,"message_count":1,"messages":[{"id":"m","direction":"inbound","body":"a\u001b]0;x\u0007b\r\nc","at":"2026-01-01T00:00:00Z","author_id":null}]}`},
	})
	out, _, err := runAt(f, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(out, 0x1b) || len(lines(out)) != 3 {
		t.Errorf("inbox not sanitized:\n%q", out)
	}
	if !strings.Contains(out, strings.Repeat("é", previewRunes-1)+"…") || strings.Contains(out, strings.Repeat("é", previewRunes)) {
		t.Errorf("preview not cut at %d characters:\n%s", previewRunes, out)
	}
	out, _, err = runAt(f, "show", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out, "\x1b\x07\r") || !strings.Contains(out, "inbound (p): a\ufffd]0;x\ufffdb\n    c\n") {
		t.Errorf("thread not sanitized:\n%q", out)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}} {
		out, _, err := run(nil, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, s := range subcommands() {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(s.name) + `\s+\S`).MatchString(out) {
				t.Errorf("%v: no line for %s:\n%s", args, s.name, out)
			}
		}
		for _, flag := range []string{"-server", "-token", "-json", "TICKETCTL_SERVER", "TICKETCTL_TOKEN", "-min-position"} {
			if !strings.Contains(out, flag) {
				t.Errorf("%v: usage does not mention %s", args, flag)
			}
		}
	}
	// Help never shows a secret taken from the environment.
	secrets := map[string]string{"TICKETCTL_TOKEN": "tbk_secret-token-in-env", "TICKETCTL_NATS_PASSWORD": "nats-secret-in-env"}
	for _, args := range [][]string{{"help"}, {"-h"}, {"load", "-h"}, {"inbound", "-h"}} {
		out, errOut, _ := run(secrets, args...)
		for _, v := range secrets {
			if strings.Contains(out+errOut, v) {
				t.Errorf("%v prints the secret %q:\n%s%s", args, v, out, errOut)
			}
		}
	}
	// A subcommand's -h lists its flags and succeeds without a token.
	out, _, err := run(nil, "snooze", "-h")
	if err != nil || !strings.Contains(out, "-until") || !strings.Contains(out, "-for") || !strings.Contains(out, "-command-id") {
		t.Errorf("snooze -h: %v\n%s", err, out)
	}
}
