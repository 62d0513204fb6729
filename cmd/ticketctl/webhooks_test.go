package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const hookID = "wh1"

// webhookRoutes are the canned answers of the webhook routes; extra
// fields stand for what the engine may add later.
func webhookRoutes() map[string]reply {
	return map[string]reply{
		"POST /v1/webhooks": {201, `{"id":"wh1","url":"https://gw.example/hook","events":["ReplySent","MessageReceived"],` +
			`"description":"SMS","created_at":"2026-03-01T08:00:00Z","secret":"whsec_shown_once"}`},
		"GET /v1/webhooks": {200, `[{"id":"wh1","url":"https://gw.example/hook","events":["*"],"description":"SMS\tgateway",` +
			`"created_at":"2026-03-01T09:00:00+01:00","created_by":"` + userA + `","position":12,"paused":false}]`},
		"DELETE /v1/webhooks/wh1": {200, `{"ok":true}`},
		"GET /v1/webhooks/wh1/failures": {200, `[{"event_id":"ev1","position":12345678901234567,"type":"ReplySent","ticket_id":"` + ticketA +
			`","attempts":9,"last_error":"HTTP 500\nupstream","failed_at":"2026-03-02T09:00:00+01:00","next_try":null}]`},
		"POST /v1/webhooks/wh1/failures/ev1/retry": {200, `{"ok":true}`},
	}
}

func TestWebhooksRequests(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		method, path string
		body         string // JSON; "" for none
	}{
		{"add", []string{"webhooks", "add", "-url", "https://gw.example/hook", "-events", "ReplySent, MessageReceived,", "-description", "SMS"},
			"POST", "/v1/webhooks", `{"url":"https://gw.example/hook","events":["ReplySent","MessageReceived"],"description":"SMS"}`},
		{"add all events", []string{"webhooks", "add", "-events", "*", "-url", "http://127.0.0.1:9090/"},
			"POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9090/","events":["*"]}`},
		{"list", []string{"webhooks", "list"}, "GET", "/v1/webhooks", ""},
		{"remove", []string{"webhooks", "remove", hookID}, "DELETE", "/v1/webhooks/wh1", ""},
		{"failures", []string{"webhooks", "failures", hookID}, "GET", "/v1/webhooks/wh1/failures", ""},
		{"retry", []string{"webhooks", "retry", hookID, "ev1"}, "POST", "/v1/webhooks/wh1/failures/ev1/retry", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t, webhookRoutes())
			if _, _, err := runAt(f, tt.args...); err != nil {
				t.Fatalf("Run: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
			}
			got := reqs[0]
			if got.Method != tt.method || got.EscapedPath != tt.path || got.Auth != "Bearer tok" {
				t.Errorf("request %s %s (%s), want %s %s", got.Method, got.EscapedPath, got.Auth, tt.method, tt.path)
			}
			if tt.body == "" {
				if got.Body != "" {
					t.Errorf("body %q, want none", got.Body)
				}
				return
			}
			assertJSONEqual(t, got.Body, tt.body)
		})
	}
}

func TestWebhooksOutput(t *testing.T) {
	tests := []struct {
		args []string
		want []string // lines, compared after splitting on column gaps
	}{
		{[]string{"webhooks", "add", "-url", "https://gw.example/hook", "-events", "ReplySent,MessageReceived"}, []string{
			"id|wh1", "url|https://gw.example/hook", "events|ReplySent,MessageReceived", "secret|whsec_shown_once",
			"The secret is shown this once; store it now to check the deliveries' signatures."}},
		{[]string{"webhooks", "list"}, []string{
			"ID|URL|EVENTS|CREATED|DESCRIPTION", "wh1|https://gw.example/hook|*|2026-03-01T08:00:00Z|SMS gateway"}},
		{[]string{"webhooks", "remove", hookID}, []string{"ok|webhook wh1 removed"}},
		{[]string{"webhooks", "failures", hookID}, []string{
			"EVENT_ID|POSITION|TYPE|TICKET|ATTEMPTS|FAILED_AT|LAST_ERROR",
			"ev1|12345678901234567|ReplySent|" + ticketA + "|9|2026-03-02T08:00:00Z|HTTP 500 upstream",
			"send one again: ticketctl webhooks retry wh1 EVENT_ID"}},
		{[]string{"webhooks", "retry", hookID, "ev1"}, []string{"ok|event ev1 queued for delivery to webhook wh1 again"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
			f := newFakeEngine(t, webhookRoutes())
			out, _, err := runAt(f, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			got := lines(out)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(got), len(tt.want), out)
			}
			for i, w := range tt.want {
				if g := strings.Join(fields(got[i]), "|"); g != w {
					t.Errorf("line %d = %q, want %q", i, g, w)
				}
			}

			// -json prints the engine's reply as it came.
			route := f.requests()[0].Method + " " + f.requests()[0].Path
			out, _, err = runAt(f, append([]string{"-json"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if want := webhookRoutes()[route].Body + "\n"; out != want {
				t.Errorf("-json printed %q, want %q", out, want)
			}
		})
	}
}

func TestWebhooksFailuresShapes(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"wrapped", `{"failures":[{"event_id":"ev2","position":"7","type":"ReplySent","attempts":3}]}`, "ev2|7|ReplySent|-|3|-|-"},
		{"empty", `[]`, "no failed deliveries for webhook wh1"},
		{"null", `null`, "no failed deliveries for webhook wh1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t, map[string]reply{"GET /v1/webhooks/wh1/failures": {200, tt.body}})
			out, _, err := runAt(f, "webhooks", "failures", hookID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(lineFields(out), tt.want) {
				t.Errorf("output does not show %q:\n%s", tt.want, out)
			}
		})
	}
}

// lineFields is fields for each line, joined by |.
func lineFields(out string) []string {
	var rows []string
	for _, l := range lines(out) {
		rows = append(rows, strings.Join(fields(l), "|"))
	}
	return rows
}

func TestWebhooksErrors(t *testing.T) {
	tests := []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"webhooks"}, "want add | list | remove | failures | retry", true},
		{[]string{"webhooks", "pause"}, `unknown action "pause"`, true},
		{[]string{"webhooks", "add", "-events", "ReplySent"}, "-url is required", true},
		{[]string{"webhooks", "add", "-url", "https://x"}, "-events is required", true},
		{[]string{"webhooks", "add", "-url", "https://x", "-events", " , "}, "-events lists no event type", true},
		{[]string{"webhooks", "list", "extra"}, `unexpected argument "extra"`, true},
		{[]string{"webhooks", "remove"}, "want 1 argument(s), got 0", true},
		{[]string{"webhooks", "failures"}, "want 1 argument(s), got 0", true},
		{[]string{"webhooks", "retry", hookID}, "want 2 argument(s), got 1", true},
		{[]string{"webhooks", "remove", "gone"}, "not_found", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := newFakeEngine(t, webhookRoutes())
			_, _, err := runAt(f, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			var u *UsageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error %v, want %v", errors.As(err, &u), tt.usage)
			}
			if n := len(f.requests()); tt.usage && n != 0 {
				t.Errorf("%d requests sent for a usage error", n)
			}
		})
	}
}
