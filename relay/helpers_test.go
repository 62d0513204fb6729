package relay_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
	"github.com/ticketbus/ticketbus/relay"
)

// fakeEngine is a small engine of webhooks and replies kept in memory,
// reading message texts from the real log as the engine does.
type fakeEngine struct {
	log *eventstore.Log

	mu      sync.Mutex
	hooks   []domain.Webhook
	secrets map[string]string
	routes  map[string][2]string // ticket id: channel, phone
	handed  map[string][]string  // reply id: "status" or "status: reason", in order
	polls   int                  // calls of Webhooks
}

func newFakeEngine(l *eventstore.Log) *fakeEngine {
	return &fakeEngine{log: l, secrets: map[string]string{}, routes: map[string][2]string{}, handed: map[string][]string{}}
}

func (f *fakeEngine) Webhooks(ctx context.Context) ([]domain.Webhook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	return append([]domain.Webhook(nil), f.hooks...), ctx.Err()
}

func (f *fakeEngine) WebhookSecret(ctx context.Context, id string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.secrets[id]; ok {
		return s, nil
	}
	return "", domain.Errorf(domain.ENotFound, "webhook %s not found", id)
}

func (f *fakeEngine) OpenBody(ctx context.Context, profileID string, d *domain.MessageReceivedData, seq uint64) (string, error) {
	return eventstore.OpenBody(ctx, f.log, profileID, d, seq)
}

func (f *fakeEngine) ReplyRoute(ctx context.Context, ticketID string) (string, string, error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.routes[ticketID]
	if !ok {
		return "", "", domain.Errorf(domain.ENotFound, "ticket %s not found", ticketID)
	}
	return r[0], r[1], nil
}

func (f *fakeEngine) ReplyHandedOver(ctx context.Context, replyID, status, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if reason != "" {
		status += ": " + reason
	}
	f.handed[replyID] = append(f.handed[replyID], status)
	return nil
}

func (f *fakeEngine) handedOver(replyID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.handed[replyID]...)
}

// addWebhook appends its WebhookCreated to the log, on the webhook's own
// subject, and lists it: it receives what comes after.
func (f *fakeEngine) addWebhook(t testing.TB, url string, events ...string) domain.Webhook {
	t.Helper()
	id := uuid.NewString()
	seq := appendEvent(t, f.log, domain.Event{ID: uuid.NewString(), Type: domain.WebhookCreated, At: time.Now().UTC(),
		Aggregate: domain.WebhookKey(id), Data: &domain.WebhookCreatedData{WebhookID: id, URL: url, Events: events}})
	w := domain.Webhook{ID: id, URL: url, Events: events, Position: seq}
	f.mu.Lock()
	f.hooks = append(f.hooks, w)
	f.secrets[id] = "whsec_" + uuid.NewString()
	f.mu.Unlock()
	return w
}

func (f *fakeEngine) removeWebhook(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, w := range f.hooks {
		if w.ID == id {
			f.hooks = append(f.hooks[:i], f.hooks[i+1:]...)
		}
	}
	delete(f.secrets, id)
}

func (f *fakeEngine) pollCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

func (f *fakeEngine) secret(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[id]
}

func appendEvent(t testing.TB, l *eventstore.Log, e domain.Event) uint64 {
	t.Helper()
	data, err := domain.MarshalEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := l.Append(testContext(t), []eventstore.Record{{Subject: eventstore.AggregateSubject(e.Aggregate), Data: data}})
	if err != nil {
		t.Fatalf("append %s: %v", e.Type, err)
	}
	return seqs[0]
}

// ticket writes events of one ticket of one profile.
type ticket struct {
	t       testing.TB
	l       *eventstore.Log
	profile string
	id      string
}

func newTicket(t testing.TB, l *eventstore.Log, eng *fakeEngine) *ticket {
	tk := &ticket{t: t, l: l, profile: "p-" + uuid.NewString()[:8], id: uuid.NewString()}
	eng.mu.Lock()
	eng.routes[tk.id] = [2]string{domain.ChannelSMS, "+33600000001"}
	eng.mu.Unlock()
	return tk
}

func (tk *ticket) event(typ string, data any) domain.Event {
	return domain.Event{ID: uuid.NewString(), Type: typ, At: time.Now().UTC(), Actor: domain.Actor{UserID: "u-agent", Role: domain.RoleSupport},
		CommandID: uuid.NewString(), Aggregate: domain.AggregateKey{Kind: domain.KindProfile, ID: tk.profile},
		ProfileID: tk.profile, TicketID: tk.id, Data: data}
}

// inbound appends a MessageReceived with its text sealed, as the engine
// writes it.
func (tk *ticket) inbound(body string) (domain.Event, uint64) {
	tk.t.Helper()
	d := &domain.MessageReceivedData{MessageID: uuid.NewString(), ExternalID: "ext-1", Channel: domain.ChannelSMS, Phone: "+33600000001", Body: body}
	if err := tk.l.SealBody(testContext(tk.t), tk.profile, d, false); err != nil {
		tk.t.Fatal(err)
	}
	e := tk.event(domain.MessageReceived, d)
	return e, appendEvent(tk.t, tk.l, e)
}

func (tk *ticket) reply(body string) (domain.Event, uint64) {
	tk.t.Helper()
	e := tk.event(domain.ReplySent, &domain.ReplySentData{MessageID: uuid.NewString(), Body: body})
	return e, appendEvent(tk.t, tk.l, e)
}

func (tk *ticket) assign(user string) (domain.Event, uint64) {
	tk.t.Helper()
	e := tk.event(domain.TicketAssigned, &domain.TicketAssignedData{AssigneeID: user})
	return e, appendEvent(tk.t, tk.l, e)
}

// erase destroys the profile's key, as a block does.
func (tk *ticket) erase() {
	tk.t.Helper()
	if _, err := tk.l.Keys().Destroy(testContext(tk.t), eventstore.ProfileToken(tk.profile)); err != nil {
		tk.t.Fatal(err)
	}
}

// setup is a server, a log, a fake engine and a registry.
type setup struct {
	srv *eventstore.Server
	log *eventstore.Log
	eng *fakeEngine
	reg *prometheus.Registry
}

func newSetup(t testing.TB) *setup {
	srv := eventstoretest.MustOpenServer(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	return &setup{srv: srv, log: l, eng: newFakeEngine(l), reg: prometheus.NewRegistry()}
}

// config is a relay's configuration with waits in milliseconds.
func (s *setup) config(t testing.TB, l *eventstore.Log) relay.Config {
	if l == nil {
		l = s.log
	}
	return relay.Config{Log: l, Engine: s.eng, Registerer: s.reg, Logger: testLogger(t),
		AttemptTimeout: 2 * time.Second, FirstRetry: 20 * time.Millisecond, MaxRetryWait: 200 * time.Millisecond,
		RetryFor: time.Minute, AckWait: time.Second, PullExpiry: time.Second, PinnedTTL: 3 * time.Second,
		PollInterval: 50 * time.Millisecond}
}

func (s *setup) start(t testing.TB, cfg relay.Config) *relay.Relay {
	t.Helper()
	r, err := relay.Start(testContext(t), cfg)
	if err != nil {
		t.Fatalf("start relay: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// hook adds a webhook for rc, which then checks its signatures.
func (s *setup) hook(t testing.TB, rc *receiver, events ...string) domain.Webhook {
	t.Helper()
	w := s.eng.addWebhook(t, rc.URL, events...)
	rc.mu.Lock()
	rc.secret = s.eng.secret(w.ID)
	rc.mu.Unlock()
	return w
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testWriter sends log lines to the test's log, shown on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor waits for cond, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	eventstoretest.WaitFor(t, 30*time.Second, what, cond)
}
