package eventstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

func anonConnect(t *testing.T, srv *eventstore.Server) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := nats.Connect(srv.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatalf("anonymous connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// expectViolation waits for the server to report a permissions violation
// whose text contains what.
func expectViolation(t *testing.T, errs <-chan error, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), what) {
				return
			}
			t.Logf("other async error: %v", err)
		case <-deadline:
			t.Fatalf("no permissions violation reported for %s", what)
		}
	}
}

func TestEngineHasJetStream(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	ctx := context.Background()
	info, err := l.JetStream().AccountInfo(ctx)
	if err != nil {
		t.Fatalf("account info: %v", err)
	}
	if info.Streams != 4 { // events, keys, snapshots, the first keyring
		t.Fatalf("%d streams, want 4", info.Streams)
	}
	cfg := l.Stream().CachedInfo().Config
	if !cfg.AllowAtomicPublish || !cfg.DenyDelete || !cfg.DenyPurge || !cfg.AllowDirect || cfg.Storage != jetstream.FileStorage {
		t.Fatalf("stream config %+v", cfg)
	}
}

func TestAnonCannotTouchStreams(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	nc, errs := anonConnect(t, srv)
	ctx := context.Background()

	if err := nc.Publish("tb.ev.x", []byte("forged")); err != nil {
		t.Fatal(err)
	}
	// The round trip makes sure the server has handled the publish.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	expectViolation(t, errs, `"tb.ev.x"`)
	if last, err := l.LastSeq(ctx); err != nil || last != 0 {
		t.Fatalf("last seq %d (%v): an anonymous publish landed", last, err)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := js.Stream(short, eventstore.EventsStream); err == nil {
		t.Fatal("anonymous client read stream info")
	}
	expectViolation(t, errs, `"$JS.API.STREAM.INFO.`+eventstore.EventsStream+`"`)
	if _, err := nc.SubscribeSync("tb.ev.>"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	expectViolation(t, errs, `Subscription to "tb.ev.>"`)
}

func TestAnonCommandRoundTrip(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	engine, err := srv.EngineConnect("responder")
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	_, err = engine.Subscribe("tickets.cmd.ping", func(m *nats.Msg) { _ = m.Respond([]byte("pong")) })
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Flush(); err != nil {
		t.Fatal(err)
	}
	anon, _ := anonConnect(t, srv)
	// Anonymous clients may watch every _INBOX reply; the engine's own
	// replies (acks, reads) must not be among them.
	snoop, err := anon.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Append(ctx, []eventstore.Record{{Subject: "tb.ev.secret", Data: []byte("private")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LastOnSubject(ctx, "tb.ev.secret"); err != nil {
		t.Fatal(err)
	}
	reply, err := anon.Request("tickets.cmd.ping", []byte("ping"), 5*time.Second)
	if err != nil {
		t.Fatalf("command request: %v", err)
	}
	if string(reply.Data) != "pong" {
		t.Fatalf("reply %q", reply.Data)
	}
	// The snooping subscription sees the pong, and nothing before it.
	m, err := snoop.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "pong" {
		t.Fatalf("anonymous client saw an engine reply on %s: %q", m.Subject, m.Data)
	}
}
