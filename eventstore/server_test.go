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
	"github.com/ticketbus/ticketbus/natsauth"
)

// producerToken is the one token the tests' login callout accepts; it
// gets what ticketd gives a producer: commands, and its own inbox prefix.
const (
	producerToken  = "producer-token"
	producerPrefix = "_INBOX.producer"
)

// openServerWithLogins starts a server whose callout admits producerToken.
func openServerWithLogins(t *testing.T) *eventstore.Server {
	t.Helper()
	issuer, err := natsauth.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := issuer.PublicKey()
	srv, err := eventstore.OpenServer(eventstore.ServerConfig{StoreDir: t.TempDir(), Port: -1, CalloutIssuer: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.EngineConnect("logins")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	authorize := func(_ context.Context, token string) (natsauth.Permissions, error) {
		if token != producerToken {
			return natsauth.Permissions{}, errors.New("unknown token")
		}
		return natsauth.Permissions{Publish: []string{"tickets.cmd.>"}, Subscribe: []string{producerPrefix + ".>"}}, nil
	}
	if _, err := natsauth.Serve(nc, issuer, authorize, func(error) {}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func producerConnect(t *testing.T, srv *eventstore.Server) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := nats.Connect(srv.ClientURL(), nats.Token(producerToken), nats.CustomInboxPrefix(producerPrefix),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("producer connect: %v", err)
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

// TestWithoutATokenNoOneConnects: the engine is the only user the server
// knows; everyone else logs in through the callout, and without a token
// the callout refuses.
func TestWithoutATokenNoOneConnects(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		srv  func(*testing.T) *eventstore.Server
		opts []nats.Option
	}{
		{"no callout, no token", withoutLogins, nil},
		{"no callout, a token", withoutLogins, []nats.Option{nats.Token(producerToken)}},
		{"callout, no token", openServerWithLogins, nil},
		{"callout, wrong token", openServerWithLogins, []nats.Option{nats.Token("guess")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := c.srv(t)
			nc, err := nats.Connect(srv.ClientURL(), c.opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("connect: %v, want an authorization error", err)
			}
		})
	}
}

func withoutLogins(t *testing.T) *eventstore.Server { return eventstoretest.MustOpenServer(t) }

func TestProducerCannotTouchStreams(t *testing.T) {
	t.Parallel()
	srv := openServerWithLogins(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	nc, errs := producerConnect(t, srv)
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
		t.Fatalf("last seq %d (%v): a producer's publish landed", last, err)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := js.Stream(short, eventstore.EventsStream); err == nil {
		t.Fatal("a producer read stream info")
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

func TestProducerCommandRoundTrip(t *testing.T) {
	t.Parallel()
	srv := openServerWithLogins(t)
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
	producer, errs := producerConnect(t, srv)
	// A producer may watch every reply under its own prefix; the engine's
	// own replies (acks, reads) are not among them, and it may not watch
	// beyond its prefix.
	if _, err := producer.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	if err := producer.Flush(); err != nil {
		t.Fatal(err)
	}
	expectViolation(t, errs, `Subscription to "_INBOX.>"`)
	snoop, err := producer.SubscribeSync(producerPrefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Append(ctx, []eventstore.Record{{Subject: "tb.ev.secret", Data: []byte("private")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LastOnSubject(ctx, "tb.ev.secret"); err != nil {
		t.Fatal(err)
	}
	reply, err := producer.Request("tickets.cmd.ping", []byte("ping"), 5*time.Second)
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
		t.Fatalf("a producer saw an engine reply on %s: %q", m.Subject, m.Data)
	}
}
