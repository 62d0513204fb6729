package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRawLog reads the raw log in pages: owners and admins only, every
// envelope field, never a message text.
func TestRawLog(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, t.TempDir())
	owner := &client{tb: t, m: m, token: ownerToken}
	var agent struct{ ID, Token string }
	if code := owner.do("POST", "/v1/users", map[string]any{"name": "Ada", "role": "support"}, &agent); code != http.StatusCreated {
		t.Fatalf("create user: %d", code)
	}
	r := owner.cmd("inbound", map[string]any{"profile_id": "alice", "body": "secret-text-42", "command_id": "6f1c2a9e-0d1b-4c3a-9e8f-000000000001"})
	owner.cmd("close", map[string]any{"ticket_id": r.TicketID})

	type page struct {
		Events []struct {
			Position  uint64          `json:"position"`
			Type      string          `json:"type"`
			CommandID string          `json:"command_id"`
			TicketID  string          `json:"ticket_id"`
			ProfileID string          `json:"profile_id"`
			Actor     json.RawMessage `json:"actor"`
			Data      json.RawMessage `json:"data"`
		} `json:"events"`
		LastPosition uint64 `json:"last_position"`
	}
	var all page
	after := uint64(0)
	for {
		var p page
		if code := owner.do("GET", "/v1/log?limit=1&after="+itoa(after), nil, &p); code != 200 {
			t.Fatalf("GET /v1/log: %d", code)
		}
		all.LastPosition = p.LastPosition
		if len(p.Events) == 0 {
			break
		}
		if len(p.Events) != 1 || p.Events[0].Position != after+1 {
			t.Fatalf("page after %d: %+v", after, p.Events)
		}
		all.Events = append(all.Events, p.Events...)
		after = p.Events[0].Position
	}
	if uint64(len(all.Events)) != all.LastPosition || all.LastPosition < 4 {
		t.Fatalf("read %d events, last position %d", len(all.Events), all.LastPosition)
	}
	var sawMsg bool
	for _, e := range all.Events {
		if e.Data != nil {
			t.Fatalf("event %d has data: %s", e.Position, e.Data)
		}
		if e.Type == "MessageReceived" {
			sawMsg = e.CommandID == "6f1c2a9e-0d1b-4c3a-9e8f-000000000001" && e.TicketID == r.TicketID && e.ProfileID == "alice"
		}
	}
	if !sawMsg {
		t.Fatalf("no MessageReceived with the inbound's ids in %+v", all.Events)
	}

	var raw json.RawMessage
	if code := owner.do("GET", "/v1/log", nil, &raw); code != 200 || strings.Contains(string(raw), "secret-text-42") {
		t.Fatalf("GET /v1/log: %d %s", code, raw)
	}
	if code := owner.do("GET", "/v1/log?limit=10001", nil, nil); code != http.StatusBadRequest {
		t.Fatalf("limit over the max: %d", code)
	}
	if code := owner.do("GET", "/v1/log?after=-1", nil, nil); code != http.StatusBadRequest {
		t.Fatalf("negative after: %d", code)
	}
	ada := &client{tb: t, m: m, token: agent.Token}
	if code := ada.do("GET", "/v1/log", nil, nil); code != http.StatusForbidden {
		t.Fatalf("support reads the log: %d", code)
	}
	if code := (&client{tb: t, m: m}).do("GET", "/v1/log", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
}
