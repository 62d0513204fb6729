package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
	"github.com/ticketbus/ticketbus/internal/metrictest"
	"github.com/ticketbus/ticketbus/natsapi"
	"github.com/ticketbus/ticketbus/natsauth"
)

// env is one embedded server with its store directory.
type env struct {
	t       testing.TB
	dir     string
	port    int
	srv     *eventstore.Server
	clock   *engine.ManualClock
	logCfg  eventstore.LogConfig
	owner   string // the bootstrap owner's token
	ownerID string
	engines []*engineHandle
	clients map[string]*nats.Conn // producers' connections, by token
	issuer  nkeys.KeyPair         // signs the producers' logins
	// engineCfg, when set, adjusts the configuration of the engines
	// startEngine starts.
	engineCfg func(*engine.Config)
}

// freePort returns a loopback port that was free a moment ago, so a
// restarted server can come back on the same address and clients can
// reconnect to it.
func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), port: freePort(t), clock: engine.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		clients: map[string]*nats.Conn{}}
	var err error
	if e.issuer, err = natsauth.NewIssuer(); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	t.Cleanup(func() {
		for _, h := range e.engines {
			h.stop()
		}
		for _, nc := range e.clients {
			nc.Close()
		}
		if e.srv != nil {
			e.srv.Shutdown()
		}
	})
	return e
}

func (e *env) startServer() {
	e.t.Helper()
	pub, _ := e.issuer.PublicKey()
	srv, err := eventstore.OpenServer(eventstore.ServerConfig{StoreDir: e.dir, Port: e.port, CalloutIssuer: pub})
	if err != nil {
		e.t.Fatalf("open server: %v", err)
	}
	e.srv = srv
}

// client returns the owner's producer connection.
func (e *env) client() *nats.Conn {
	e.t.Helper()
	return e.clientAs(e.owner)
}

// clientAs returns a connection of token's user, as a producer makes it:
// logged in with the token, on the user's inbox prefix.
func (e *env) clientAs(token string) *nats.Conn {
	e.t.Helper()
	if nc := e.clients[token]; nc != nil {
		return nc
	}
	user, err := e.engines[0].engine.Authenticate(context.Background(), token)
	if err != nil {
		e.t.Fatalf("client of an unknown token: %v", err)
	}
	nc, err := nats.Connect(e.srv.ClientURL(), nats.Token(token), nats.CustomInboxPrefix(natsapi.InboxPrefix(user.ID)),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		e.t.Fatalf("client connect: %v", err)
	}
	e.clients[token] = nc
	return nc
}

// engineHandle is one running engine instance with its command server.
type engineHandle struct {
	nc      *nats.Conn
	cmdNC   *nats.Conn
	log     *eventstore.Log
	engine  *engine.Engine
	cmds    *natsapi.CommandServer
	logins  *natsauth.Responder
	reg     *prometheus.Registry
	stopped bool
}

// commandsHandled sums ticketbus_commands_total of this instance.
func (h *engineHandle) commandsHandled(t testing.TB) float64 {
	return h.metric(t, "ticketbus_commands_total")
}

// metric sums the values of one of this instance's metrics.
func (h *engineHandle) metric(t testing.TB, name string) float64 {
	t.Helper()
	return metrictest.Sum(t, h.reg, name)
}

// labelled is the value of one of this instance's metrics with the given
// label.
func (h *engineHandle) labelled(t testing.TB, name, label, value string) float64 {
	t.Helper()
	return metrictest.Sum(t, h.reg, name, label, value)
}

func (h *engineHandle) stop() {
	if h.stopped {
		return
	}
	h.stopped = true
	h.cmds.Drain()
	_ = h.logins.Close()
	h.engine.Close()
	h.log.Close()
	h.cmdNC.Close()
	h.nc.Close()
}

// startEngine starts one more engine instance on the env's server; the
// first one bootstraps the owner.
func (e *env) startEngine() *engineHandle {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := e.srv.EngineConnect("engine", nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		e.t.Fatalf("engine connect: %v", err)
	}
	l, err := eventstore.OpenLog(ctx, nc, e.logCfg)
	if err != nil {
		e.t.Fatalf("open log: %v", err)
	}
	reg := prometheus.NewRegistry()
	cfg := engine.Config{
		Now: e.clock.Now, Metrics: engine.NewMetrics(reg), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), WakeInterval: time.Hour}
	if e.engineCfg != nil {
		e.engineCfg(&cfg)
	}
	eng, err := engine.Open(ctx, l, cfg)
	if err != nil {
		e.t.Fatalf("open engine: %v", err)
	}
	if e.owner == "" {
		u, tok, created, err := eng.Bootstrap(ctx, "")
		if err != nil || !created {
			e.t.Fatalf("bootstrap: created=%v err=%v", created, err)
		}
		e.owner, e.ownerID = tok, u.ID
	}
	// Commands arrive on a connection of their own, so that requests and
	// replies never queue behind the log's batches and tail.
	cmdNC, err := e.srv.EngineConnect("engine-commands", nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		e.t.Fatalf("engine connect: %v", err)
	}
	cmds, err := natsapi.ServeCommands(eng, cmdNC, 0)
	if err != nil {
		e.t.Fatalf("serve commands: %v", err)
	}
	logins, err := natsapi.ServeLogins(eng, cmdNC, e.issuer)
	if err != nil {
		e.t.Fatalf("serve logins: %v", err)
	}
	// A flush makes sure the server has the subscription before any
	// request is sent.
	if err := cmdNC.Flush(); err != nil {
		e.t.Fatal(err)
	}
	h := &engineHandle{nc: nc, cmdNC: cmdNC, log: l, engine: eng, cmds: cmds, logins: logins, reg: reg}
	e.engines = append(e.engines, h)
	return h
}

// reply is a command's JSON answer, decoded apart from the production type.
type reply = eventstoretest.Reply

// sendRaw sends a command body as a producer would, over NATS.
func sendRaw(t testing.TB, nc *nats.Conn, token, name string, body []byte) reply {
	t.Helper()
	m := nats.NewMsg(natsapi.CommandSubjectPrefix + name)
	m.Data = body
	if token != "" {
		m.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := nc.RequestMsg(m, 15*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", name, err)
	}
	var r reply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		t.Fatalf("decode reply %q: %v", resp.Data, err)
	}
	return r
}

// send sends a command built from a map.
func send(t testing.TB, nc *nats.Conn, token, name string, body map[string]any) reply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return sendRaw(t, nc, token, name, b)
}

// mustOK fails the test unless the reply is a success.
func mustOK(t testing.TB, r reply) reply {
	t.Helper()
	if !r.OK {
		t.Fatalf("command failed: %+v", r.Error)
	}
	return r
}

// createUser adds a user of the given role and returns their token and id.
func (e *env) createUser(role domain.Role) (token, id string) {
	e.t.Helper()
	h := e.engines[0]
	owner, err := h.engine.Authenticate(context.Background(), e.owner)
	if err != nil {
		e.t.Fatal(err)
	}
	u, tok, err := h.engine.CreateUser(context.Background(), owner, fmt.Sprintf("%s user", role), role)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, u.ID
}

// events reads the whole log, decoded.
func (e *env) events(l *eventstore.Log) []positioned {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []positioned
	last, err := l.LastSeq(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if last == 0 {
		return nil
	}
	err = l.ReadRange(ctx, 1, last, func(en eventstore.Entry) error {
		ev, err := domain.UnmarshalEvent(en.Data)
		if err != nil {
			return err
		}
		out = append(out, positioned{Seq: en.Seq, Event: ev})
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

type positioned struct {
	Seq uint64
	domain.Event
}

// waitFor polls a condition until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newCommandID() string { return uuid.NewString() }
