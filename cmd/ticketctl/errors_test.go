package main

import (
	"errors"
	"strings"
	"testing"
)

// TestUsageErrors checks that a command line that cannot be right sends
// nothing and exits 2 with a message naming the problem.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "no subcommand"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"-nope", "me"}, "flag provided but not defined: -nope"},
		{[]string{"inbound", "-body", "x"}, "-profile is required"},
		{[]string{"inbound", "-profile", "alice"}, "-body is required"},
		{[]string{"reply", "-ticket", ticketA}, "-body is required"},
		{[]string{"reply", "-body", "x"}, "-ticket is required"},
		{[]string{"assign", "-ticket", ticketA}, "-user is required"},
		{[]string{"snooze", "-ticket", ticketA}, "exactly one of -until and -for"},
		{[]string{"snooze", "-ticket", ticketA, "-for", "1h", "-until", "2026-01-01T00:00:00Z"}, "exactly one of -until and -for"},
		{[]string{"snooze", "-ticket", ticketA, "-for", "soon"}, `-for "soon" is not a duration`},
		{[]string{"snooze", "-ticket", ticketA, "-until", "tomorrow"}, `-until "tomorrow" is not an RFC 3339 time`},
		{[]string{"snooze", "-for", "1h"}, "-ticket is required"},
		{[]string{"unsnooze"}, "-ticket is required"},
		{[]string{"mark-unread"}, "-ticket is required"},
		{[]string{"mark-read"}, "-ticket is required"},
		{[]string{"close"}, "-ticket is required"},
		{[]string{"close", "-ticket", ticketA, "extra"}, `unexpected argument "extra"`},
		{[]string{"block"}, "exactly one of -profile and -phone"},
		{[]string{"unblock", "-profile", "a", "-phone", "+33612345678"}, "exactly one of -profile and -phone"},
		{[]string{"inbox", "-view", "everything"}, "-view must be all, mine or unassigned"},
		{[]string{"inbox", "-status", "pending"}, "-status must be open, snoozed or closed"},
		{[]string{"inbox", "-limit", "-1"}, "-limit must not be negative"},
		{[]string{"inbox", "-min-position", "-1"}, "-min-position must not be negative"},
		{[]string{"show"}, "want 1 argument(s), got 0"},
		{[]string{"show", "a", "b"}, "want 1 argument(s), got 2"},
		{[]string{"history"}, "want 1 argument(s), got 0"},
		{[]string{"profile"}, "want 1 argument(s), got 0"},
		{[]string{"users"}, "want add | list"},
		{[]string{"users", "remove"}, `unknown action "remove"`},
		{[]string{"users", "add", "-name", "Ann"}, "-role is required"},
		{[]string{"views", "replay"}, `unknown action "replay"`},
		{[]string{"clock", "advance"}, "want 1 argument(s), got 0"},
		{[]string{"clock", "advance", "0s"}, "is not a positive duration"},
		{[]string{"clock", "advance", "later"}, "is not a positive duration"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := newFakeEngine(t, nil)
			_, _, err := runAt(f, tt.args...)
			var u *UsageError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
			if ExitCode(err) != 2 {
				t.Errorf("exit code %d, want 2", ExitCode(err))
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent for a usage error", n)
			}
		})
	}
}

// TestMissingToken checks that a forgotten token is reported before
// anything is sent, and that health needs none.
func TestMissingToken(t *testing.T) {
	f := newFakeEngine(t, nil)
	env := map[string]string{"TICKETCTL_SERVER": f.URL}
	_, _, err := run(env, "inbox")
	if err == nil || !strings.Contains(err.Error(), "no API token") || ExitCode(err) != 2 {
		t.Fatalf("err = %v, want a usage error about the token", err)
	}
	if _, _, err := run(env, "health"); err != nil {
		t.Fatalf("health without token: %v", err)
	}
	for _, r := range f.requests() {
		if r.Auth != "" {
			t.Errorf("%s sent Authorization %q", r.Path, r.Auth)
		}
	}
}

// TestAPIErrors checks that an error reply becomes an error carrying the
// contract's code and message, and exits 1.
func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		route    string
		rep      reply
		args     []string
		wantCode string
		wantMsg  string
	}{
		{"not found", "GET /v1/tickets/nope", reply{404, `{"ok":false,"error":{"code":"not_found","message":"no such ticket"}}`},
			[]string{"show", "nope"}, "not_found", "not_found: no such ticket (HTTP 404)"},
		{"ticket closed", "POST /v1/commands/reply", reply{409, `{"ok":false,"error":{"code":"ticket_closed","message":"ticket is closed"}}`},
			[]string{"reply", "-ticket", ticketA, "-body", "x"}, "ticket_closed", "ticket_closed: ticket is closed (HTTP 409)"},
		{"forbidden", "GET /v1/tickets", reply{403, `{"ok":false,"error":{"code":"forbidden","message":"role analyst may not read the inbox"}}`},
			[]string{"inbox"}, "forbidden", "forbidden: role analyst may not read the inbox"},
		{"ok false on 200", "POST /v1/commands/close", reply{200, `{"ok":false,"error":{"code":"conflict","message":"try again"}}`},
			[]string{"close", "-ticket", ticketA}, "conflict", "conflict: try again"},
		{"not the envelope", "GET /v1/me", reply{502, "Bad Gateway"},
			[]string{"me"}, "http_502", "http_502: Bad Gateway (HTTP 502)"},
		{"no test clock", "POST /v1/test-clock/advance", reply{404, `{"ok":false,"error":{"code":"not_found","message":"no test clock"}}`},
			[]string{"clock", "advance", "1h"}, "not_found", "no test clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t, map[string]reply{tt.route: tt.rep})
			out, _, err := runAt(f, tt.args...)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			if apiErr.Code != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q (code %s), want code %s and %q", err, apiErr.Code, tt.wantCode, tt.wantMsg)
			}
			if ExitCode(err) != 1 {
				t.Errorf("exit code %d, want 1", ExitCode(err))
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing without -json", out)
			}
		})
	}
}

// TestAPIErrorJSON checks that -json prints an error reply as received, so
// scripts read the code, and still fails.
func TestAPIErrorJSON(t *testing.T) {
	body := `{"ok":false,"error":{"code":"not_found","message":"no such ticket"}}`
	f := newFakeEngine(t, map[string]reply{"POST /v1/commands/close": {404, body}})
	out, _, err := runAt(f, "-json", "close", "-ticket", "x")
	if err == nil {
		t.Fatal("no error")
	}
	if out != body+"\n" {
		t.Errorf("stdout %q, want the raw reply", out)
	}
}

// TestVerifyDifferences checks that verify prints each difference and
// fails, with and without -json.
func TestVerifyDifferences(t *testing.T) {
	body := `{"ok":true,"position":42,"differences":["ticket x: unread true, replay false","counts: all.open 3, replay 2"]}`
	f := newFakeEngine(t, map[string]reply{"POST /v1/views/verify": {200, body}})
	out, _, err := runAt(f, "views", "verify")
	if !errors.Is(err, ErrViewsDiffer) || ExitCode(err) != 1 {
		t.Fatalf("err = %v, want ErrViewsDiffer", err)
	}
	if got := lines(out); len(got) != 2 || got[0] != "ticket x: unread true, replay false" || got[1] != "counts: all.open 3, replay 2" {
		t.Errorf("stdout %q, want one difference per line", out)
	}
	if !strings.Contains(err.Error(), "2 difference(s)") {
		t.Errorf("err = %q", err)
	}
	out, _, err = runAt(f, "-json", "views", "verify")
	if !errors.Is(err, ErrViewsDiffer) || out != body+"\n" {
		t.Errorf("-json: err = %v, stdout %q", err, out)
	}
}

// TestErasureStatus checks that erasure prints where erasures stand and
// fails while one is pending, so that a script can wait on it.
func TestErasureStatus(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		pending    bool
		want       []string
	}{
		{"pending", `{"pending":1,"waiting_for":["n3"],"keyring_generation":4,"last_note_confirmed":7,"confirmed_at":"2026-03-02T08:00:00Z"}`, true,
			[]string{"pending|1", "waiting for|n3", "last confirmed|2026-03-02T08:00:00Z", "keyring|generation 4"}},
		{"complete", `{"pending":0,"waiting_for":[],"keyring_generation":5,"last_note_confirmed":9,"confirmed_at":null}`, false,
			[]string{"pending|0", "waiting for|-", "last confirmed|-", "keyring|generation 5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t, map[string]reply{"GET /v1/erasure": {200, tc.body}})
			out, _, err := runAt(f, "erasure")
			if tc.pending != errors.Is(err, ErrErasurePending) || (tc.pending && ExitCode(err) != 1) || (!tc.pending && err != nil) {
				t.Fatalf("err = %v, pending %v", err, tc.pending)
			}
			got := lines(out)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q", out)
			}
			for i, w := range tc.want {
				if g := strings.Join(fields(got[i]), "|"); g != w {
					t.Errorf("line %d = %q, want %q", i, g, w)
				}
			}
		})
	}
}

// TestHealthFailing checks that a failing probe fails the command and
// that both probes are asked.
func TestHealthFailing(t *testing.T) {
	f := newFakeEngine(t, map[string]reply{"GET /readyz": {503, "views behind\n"}})
	out, _, err := runAt(f, "health")
	if err == nil || !strings.Contains(err.Error(), "readyz failing") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out, "healthz  ok") || !strings.Contains(out, "readyz   failing (HTTP 503)  views behind") {
		t.Errorf("stdout:\n%s", out)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// TestUnreachable checks that a transport error is an ordinary failure
// pointing at -server.
func TestUnreachable(t *testing.T) {
	f := newFakeEngine(t, nil)
	url := f.URL
	f.Close()
	_, _, err := run(map[string]string{"TICKETCTL_SERVER": url, "TICKETCTL_TOKEN": "t"}, "me")
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "-server") {
		t.Fatalf("err = %v", err)
	}
}
