package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

// TestRoles checks every role of R10's table against each column: inbox
// commands, inbound messages and user management.
func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	ticket := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "gina", "body": "hi"})).TicketID

	for _, role := range domain.Roles {
		token, _ := e.createUser(role)
		user, err := h.engine.Authenticate(context.Background(), token)
		if err != nil || user.Role != role {
			t.Fatalf("%s: authenticate: %+v, %v", role, user, err)
		}
		check := func(what string, allowed bool, code string) {
			t.Helper()
			if allowed && code == domain.EForbidden || !allowed && code != domain.EForbidden {
				t.Errorf("%s: %s gave code %q, allowed=%v", role, what, code, allowed)
			}
		}
		rnc := e.clientAs(token)
		check("inbound", role.Can(domain.PermInbound),
			send(t, rnc, token, "inbound", map[string]any{"profile_id": "gina", "body": "from " + string(role)}).Code())
		for _, c := range []struct {
			name string
			body map[string]any
		}{
			{"mark_unread", map[string]any{"ticket_id": ticket}},
			{"mark_read", map[string]any{"ticket_id": ticket}},
			{"reply", map[string]any{"ticket_id": ticket, "body": "ok"}},
			{"assign", map[string]any{"ticket_id": ticket, "assignee_id": nil}},
			{"snooze", map[string]any{"ticket_id": ticket, "duration": "1h"}},
			{"unsnooze", map[string]any{"ticket_id": ticket}},
			{"block", map[string]any{"phone": "+4915100000001"}},
			{"unblock", map[string]any{"phone": "+4915100000001"}},
		} {
			check(c.name, role.Can(domain.PermTicketCommands), send(t, rnc, token, c.name, c.body).Code())
		}
		_, _, err = h.engine.CreateUser(context.Background(), user, "new", domain.RoleSupport)
		check("create user", role.Can(domain.PermManageUsers), domain.ErrorCode(err))
	}
	// The table itself, as the contract states it.
	want := map[domain.Role][4]bool{ // inbox read, ticket commands, inbound, manage users
		domain.RoleOwner: {true, true, true, true}, domain.RoleAdmin: {true, true, true, true},
		domain.RoleManager: {true, true, true, false}, domain.RoleSupport: {true, true, true, false},
		domain.RoleAnalyst: {}, domain.RoleCampaignCoordinator: {}, domain.RoleContentCreator: {},
		domain.RoleIntegration: {false, false, true, false},
	}
	for role, w := range want {
		got := [4]bool{role.Can(domain.PermInboxRead), role.Can(domain.PermTicketCommands), role.Can(domain.PermInbound), role.Can(domain.PermManageUsers)}
		if got != w {
			t.Errorf("%s: permissions %v, want %v", role, got, w)
		}
	}
}

// TestBadInput sends every malformed shape a producer can get wrong: each
// gets invalid_argument, and nothing reaches the log.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	nc := e.client()
	ticket := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "hank", "body": "hi"})).TicketID
	before, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	huge := `{"profile_id":"hank","body":"` + strings.Repeat("a", 1000000) + `"}`
	for _, c := range []struct{ name, cmd, body string }{
		{"malformed JSON", "inbound", `{"profile_id": "hank", "body": `},
		{"not an object", "inbound", `["hank"]`},
		{"null", "inbound", `null`},
		{"empty", "inbound", ``},
		{"unknown field", "inbound", `{"profile_id":"hank","body":"x","priority":1}`},
		{"wrong type", "inbound", `{"profile_id":42,"body":"x"}`},
		{"wrong type bool", "reply", `{"ticket_id":"` + ticket + `","body":true}`},
		{"1 MB body", "inbound", huge},
		{"invalid UTF-8", "inbound", "{\"profile_id\":\"hank\",\"body\":\"\xff\xfe\"}"},
		{"control character", "inbound", `{"profile_id":"hank","body":"a\u0000b"}`},
		{"bad profile id", "inbound", `{"profile_id":"drop table;","body":"x"}`},
		{"bad phone", "inbound", `{"profile_id":"hank","body":"x","phone":"0612"}`},
		{"bad channel", "inbound", `{"profile_id":"hank","body":"x","channel":"fax"}`},
		{"too long", "inbound", `{"profile_id":"hank","body":"` + strings.Repeat("é", 10001) + `"}`},
		{"trailing data", "inbound", `{"profile_id":"hank","body":"x"} {}`},
		{"bad command_id", "close", `{"ticket_id":"` + ticket + `","command_id":"abc"}`},
		{"missing ticket", "close", `{}`},
		{"snooze without time", "snooze", `{"ticket_id":"` + ticket + `"}`},
		{"snooze in the past", "snooze", `{"ticket_id":"` + ticket + `","until":"2001-01-01T00:00:00Z"}`},
		{"snooze bad duration", "snooze", `{"ticket_id":"` + ticket + `","duration":"soon"}`},
		{"snooze too far", "snooze", `{"ticket_id":"` + ticket + `","duration":"9000h"}`},
		{"assign without assignee", "assign", `{"ticket_id":"` + ticket + `"}`},
		{"block both", "block", `{"profile_id":"hank","phone":"+33612345678"}`},
		{"unknown command", "explode", `{}`},
		{"nested subject", "close.extra", `{}`},
	} {
		r := sendRaw(t, nc, e.owner, c.cmd, []byte(c.body))
		if r.Code() != domain.EInvalid || r.Error.Message == "" {
			t.Errorf("%s: got %+v, want invalid_argument with a message", c.name, r)
		}
	}
	after, err := h.log.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("bad input wrote %d events", after-before)
	}
}
