package eventstore

import (
	"context"
	"testing"
	"time"
)

// openTestServer starts a server on dir; a fixed port and password let a
// test restart it under a live connection.
func openTestServer(t testing.TB, dir string, port int, password string) *Server {
	t.Helper()
	srv, err := OpenServer(ServerConfig{StoreDir: dir, Port: port, enginePassword: password})
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	return srv
}

func openTestLog(t testing.TB, srv *Server, cfg LogConfig) *Log {
	t.Helper()
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 30 * time.Second // see eventstoretest.MustOpenLog
	}
	nc, err := srv.EngineConnect(t.Name())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := OpenLog(ctx, nc, cfg)
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *Log) queued() int {
	l.commit.mu.Lock()
	defer l.commit.mu.Unlock()
	return len(l.commit.queue)
}

func u64(v uint64) *uint64 { return &v }
