package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/eventstore"
)

// TestWebhookLifecycle: owners and admins create and remove webhooks, the
// secret is shown once and opened only by the engine, the list survives a
// restart (from the index, not a replay), and a removal destroys the
// secret's key.
func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.engineCfg = func(c *engine.Config) { c.IndexPath = filepath.Join(e.dir+"-index", "engine.db") }
	if err := os.MkdirAll(e.dir+"-index", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(e.dir + "-index") })
	h := e.startEngine()
	ctx := context.Background()
	owner, err := h.engine.Authenticate(ctx, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	supportTok, _ := e.createUser(domain.RoleSupport)
	support, _ := h.engine.Authenticate(ctx, supportTok)
	hook := domain.NewWebhook{URL: "https://gw.example/hook", Events: []string{domain.ReplySent}, Description: "sms gateway"}
	if _, _, err := h.engine.CreateWebhook(ctx, support, hook); domain.ErrorCode(err) != domain.EForbidden {
		t.Fatalf("support created a webhook: %v", err)
	}
	if _, _, err := h.engine.CreateWebhook(ctx, owner, domain.NewWebhook{URL: "ftp://x", Events: []string{"*"}}); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("ftp webhook: %v", err)
	}
	w, secret, err := h.engine.CreateWebhook(ctx, owner, hook)
	if err != nil || !strings.HasPrefix(secret, "whsec_") || w.Position == 0 {
		t.Fatalf("create: %+v %q %v", w, secret, err)
	}
	// The log holds the secret sealed only.
	en, err := h.log.Get(ctx, w.Position)
	if err != nil || strings.Contains(string(en.Data), secret) || strings.Contains(string(en.Data), strings.TrimPrefix(secret, "whsec_")) {
		t.Fatalf("the log holds the secret in clear (%v): %s", err, en.Data)
	}
	list, err := h.engine.Webhooks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].URL != hook.URL || list[0].CreatedBy != owner.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	if got, err := h.engine.WebhookSecret(ctx, w.ID); err != nil || got != secret {
		t.Fatalf("secret: %q %v", got, err)
	}
	h.stop()
	h = e.startEngine()
	list, err = h.engine.Webhooks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != w.ID {
		t.Fatalf("after a restart: %+v %v", list, err)
	}
	if got, err := h.engine.WebhookSecret(ctx, w.ID); err != nil || got != secret {
		t.Fatalf("secret after a restart: %q %v", got, err)
	}
	if err := h.engine.RemoveWebhook(ctx, support, w.ID); domain.ErrorCode(err) != domain.EForbidden {
		t.Fatalf("support removed a webhook: %v", err)
	}
	if err := h.engine.RemoveWebhook(ctx, owner, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.engine.RemoveWebhook(ctx, owner, w.ID); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("removed twice: %v", err)
	}
	if list, _ := h.engine.Webhooks(ctx); len(list) != 0 {
		t.Fatalf("still listed: %+v", list)
	}
	if _, err := h.log.OpenSecret(ctx, eventstore.WebhookKeyToken(w.ID), mustSealed(t, h, w.Position)); !errors.Is(err, eventstore.ErrErased) {
		t.Fatalf("the secret still opens after the removal: %v", err)
	}
	h.stop()
	h = e.startEngine()
	if list, _ := h.engine.Webhooks(ctx); len(list) != 0 {
		t.Fatalf("back after a restart: %+v", list)
	}
}

func mustSealed(t *testing.T, h *engineHandle, seq uint64) *domain.SealedBody {
	t.Helper()
	en, err := h.log.Get(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := domain.UnmarshalEvent(en.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ev.Data.(*domain.WebhookCreatedData).Secret
}

// TestReplyStatus: a reply is pending, the relay's report makes it sent,
// a gateway's delivered; an integration may report but do nothing else,
// and reports on unknown replies are not_found.
func TestReplyStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startEngine()
	ctx := context.Background()
	nc := e.client()
	ticket := mustOK(t, send(t, nc, e.owner, "inbound", map[string]any{"profile_id": "rita", "body": "hi", "phone": "+33612345678", "channel": "sms"})).TicketID
	mustOK(t, send(t, nc, e.owner, "reply", map[string]any{"ticket_id": ticket, "body": "hello"}))
	tk, err := h.engine.Ticket(ctx, ticket)
	if err != nil || len(tk.ReplyStatus) != 1 {
		t.Fatalf("ticket %+v %v", tk, err)
	}
	var reply string
	for id, st := range tk.ReplyStatus {
		if st != domain.ReplyPending {
			t.Fatalf("new reply is %s", st)
		}
		reply = id
	}
	if ch, ph, err := h.engine.ReplyRoute(ctx, ticket); err != nil || ch != "sms" || ph != "+33612345678" {
		t.Fatalf("route %q %q %v", ch, ph, err)
	}
	if err := h.engine.ReplyHandedOver(ctx, reply, domain.ReplySentOut, ""); err != nil {
		t.Fatal(err)
	}
	gwTok, _ := e.createUser(domain.RoleIntegration)
	gw := e.clientAs(gwTok)
	for _, c := range []struct {
		name string
		cmd  string
		body map[string]any
		code string
	}{
		{"delivered", "reply_status", map[string]any{"reply_id": reply, "status": "delivered"}, ""},
		{"delivered again", "reply_status", map[string]any{"reply_id": reply, "status": "delivered"}, ""},
		{"unknown reply", "reply_status", map[string]any{"reply_id": "00000000-0000-4000-8000-000000000001", "status": "delivered"}, domain.ENotFound},
		{"sent is the relay's", "reply_status", map[string]any{"reply_id": reply, "status": "sent"}, domain.EInvalid},
		{"an integration may not close", "close", map[string]any{"ticket_id": ticket}, domain.EForbidden},
		{"nor reply", "reply", map[string]any{"ticket_id": ticket, "body": "x"}, domain.EForbidden},
		{"the relay's command is no API command", "reply_handed_over", map[string]any{"reply_id": reply, "status": "sent"}, domain.EInvalid},
	} {
		if got := send(t, gw, gwTok, c.cmd, c.body).Code(); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
	}
	tk, _ = h.engine.Ticket(ctx, ticket)
	if tk.ReplyStatus[reply] != domain.ReplyDelivered {
		t.Fatalf("status %s, want delivered", tk.ReplyStatus[reply])
	}
	n := 0
	for _, pe := range e.events(h.log) {
		if pe.Type == domain.ReplyStatusChanged {
			n++
		}
	}
	if n != 2 { // sent, delivered; the repeat wrote nothing
		t.Fatalf("%d ReplyStatusChanged events, want 2", n)
	}
}
