package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestWebhooksOverHTTP: owners and admins manage webhooks, the secret is
// shown once, and the integration role reaches inbound and reply_status
// only: every other command and every query answers 403.
func TestWebhooksOverHTTP(t *testing.T) {
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	users := map[string]*client{}
	for _, role := range []string{"admin", "support", "integration"} {
		var u struct{ Token string }
		if code := owner.do("POST", "/v1/users", map[string]any{"name": role, "role": role}, &u); code != http.StatusCreated {
			t.Fatalf("create %s: %d", role, code)
		}
		users[role] = &client{tb: t, m: m, token: u.Token}
	}
	hook := map[string]any{"url": "https://gw.example/hook", "events": []string{"ReplySent"}, "description": "sms"}
	var created struct{ ID, Secret string }
	if code := users["admin"].do("POST", "/v1/webhooks", hook, &created); code != http.StatusCreated || created.ID == "" || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("admin create: %d %+v", code, created)
	}
	for _, c := range []struct {
		who, method, path string
		body              any
		want              int
	}{
		{"support", "POST", "/v1/webhooks", hook, http.StatusForbidden},
		{"support", "GET", "/v1/webhooks", nil, http.StatusForbidden},
		{"support", "DELETE", "/v1/webhooks/" + created.ID, nil, http.StatusForbidden},
		{"integration", "GET", "/v1/webhooks", nil, http.StatusForbidden},
		{"integration", "GET", "/v1/tickets", nil, http.StatusForbidden},
		{"integration", "POST", "/v1/commands/close", map[string]any{"ticket_id": "00000000-0000-4000-8000-000000000001"}, http.StatusForbidden},
		{"integration", "POST", "/v1/commands/inbound", map[string]any{"profile_id": "gw", "body": "hi"}, http.StatusOK},
		{"integration", "POST", "/v1/commands/reply_status", map[string]any{"reply_id": "00000000-0000-4000-8000-000000000001", "status": "delivered"}, http.StatusNotFound},
		{"admin", "POST", "/v1/webhooks", map[string]any{"url": "file:///etc/passwd", "events": []string{"*"}}, http.StatusBadRequest},
		{"admin", "POST", "/v1/webhooks", map[string]any{"url": "https://x", "events": []string{"*"}, "secret": "mine"}, http.StatusBadRequest},
	} {
		if got := users[c.who].do(c.method, c.path, c.body, nil); got != c.want {
			t.Errorf("%s %s %s: %d, want %d", c.who, c.method, c.path, got, c.want)
		}
	}
	var list []map[string]any
	if code := owner.do("GET", "/v1/webhooks", nil, &list); code != 200 || len(list) != 1 || list[0]["id"] != created.ID {
		t.Fatalf("list: %d %v", code, list)
	}
	if _, has := list[0]["secret"]; has {
		t.Fatal("the list shows the secret")
	}
	if code := owner.do("DELETE", "/v1/webhooks/"+created.ID, nil, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := owner.do("DELETE", "/v1/webhooks/"+created.ID, nil, nil); code != http.StatusNotFound {
		t.Fatalf("delete twice: %d", code)
	}
}
