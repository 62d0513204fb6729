// Package eventstoretest starts a real embedded server and event log for
// tests of packages built on eventstore.
package eventstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
)

// MustOpenServer starts an embedded server on a random port with its store
// in a temporary directory, and shuts it down when the test ends.
func MustOpenServer(tb testing.TB) *eventstore.Server {
	tb.Helper()
	dir := tb.TempDir()
	return mustOpen(tb, eventstore.ServerConfig{StoreDir: dir, Port: -1})
}

func mustOpen(tb testing.TB, cfg eventstore.ServerConfig) *eventstore.Server {
	tb.Helper()
	srv, err := eventstore.OpenServer(cfg)
	if err != nil {
		tb.Fatalf("open server: %v", err)
	}
	tb.Cleanup(srv.Shutdown)
	return srv
}

// MustOpenLog connects to srv as the engine and opens the log; both are
// closed when the test ends, before the server stops. Without a
// PublishTimeout in cfg it waits 30s for acks rather than 5s: tests share
// one disk, and an fsync stalled behind another test's writes must not
// read as a lost write.
func MustOpenLog(tb testing.TB, srv *eventstore.Server, cfg eventstore.LogConfig) *eventstore.Log {
	tb.Helper()
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 30 * time.Second
	}
	nc, err := srv.EngineConnect(tb.Name())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := eventstore.OpenLog(ctx, nc, cfg)
	if err != nil {
		tb.Fatalf("open log: %v", err)
	}
	tb.Cleanup(l.Close)
	return l
}

// Reply is a command's JSON answer as a client reads it, over NATS or
// HTTP. It is declared apart from engine.Reply on purpose: decoding
// into the production type would not notice a change of the wire names.
type Reply struct {
	OK        bool   `json:"ok"`
	TicketID  string `json:"ticket_id"`
	ProfileID string `json:"profile_id"`
	Outcome   string `json:"outcome"`
	Position  uint64 `json:"position"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Code returns the error code, "" on success.
func (r Reply) Code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}
