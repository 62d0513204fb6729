package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/internal/metrictest"
)

// TestNATSLoginIsTheAPIToken: on the embedded server a producer logs in
// with its API token and the prefix GET /v1/me gives; without a valid
// token no connection is made.
func TestNATSLoginIsTheAPIToken(t *testing.T) {
	m := MustRunMain(t, t.TempDir())
	url := m.Server.ClientURL()
	for _, c := range []struct {
		name string
		opts []nats.Option
	}{
		{"no token", nil},
		{"wrong token", []nats.Option{nats.Token("tbk_guess")}},
		{"user and password", []nats.Option{nats.UserInfo("engine", "guess")}},
	} {
		nc, err := nats.Connect(url, c.opts...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", c.name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization error", c.name, err)
		}
	}

	if n := metrictest.Sum(t, m.Registry, "ticketbus_nats_logins_total", "outcome", "refused"); n < 2 {
		t.Errorf("%v refused logins counted, want the two tokens at least", n)
	}
	owner := &client{tb: t, m: m, token: ownerToken}
	var me struct {
		ID     string `json:"id"`
		Prefix string `json:"nats_inbox_prefix"`
	}
	if status := owner.do("GET", "/v1/me", nil, &me); status != 200 || me.Prefix == "" || !strings.Contains(me.Prefix, me.ID) {
		t.Fatalf("GET /v1/me: status %d, %+v", status, me)
	}
	// The README's producer, line for line.
	nc, err := nats.Connect(url, nats.Token(ownerToken), nats.CustomInboxPrefix(me.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := nats.NewMsg("tickets.cmd.inbound")
	msg.Header.Set("Authorization", "Bearer "+ownerToken)
	msg.Data = []byte(`{"profile_id":"readme","body":"hello"}`)
	resp, err := nc.RequestMsg(msg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r cmdReply
	if err := json.Unmarshal(resp.Data, &r); err != nil || !r.OK || r.TicketID == "" {
		t.Fatalf("reply %s: %v", resp.Data, err)
	}
	if n := metrictest.Sum(t, m.Registry, "ticketbus_nats_logins_total", "outcome", "accepted"); n != 1 {
		t.Errorf("%v accepted logins counted, want 1", n)
	}
	// The same login on the default inbox prefix gets no answer: its
	// replies could not reach it.
	other, err := nats.Connect(url, nats.Token(ownerToken))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	msg = nats.NewMsg("tickets.cmd.inbound")
	msg.Header.Set("Authorization", "Bearer "+ownerToken)
	msg.Data = []byte(`{"profile_id":"readme","body":"again"}`)
	if _, err := other.RequestMsg(msg, 500*time.Millisecond); err == nil {
		t.Fatal("a request on the default _INBOX prefix was answered")
	}
}
