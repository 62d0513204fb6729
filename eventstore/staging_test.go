package eventstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestStagingInMemory checks the link to the staging directory: made once
// the stream exists, made again after a restart (the server removes it),
// used by batches, and the directory removed at a clean shutdown.
func TestStagingInMemory(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	staging := filepath.Join(t.TempDir(), "staging")
	srv, err := OpenServer(ServerConfig{StoreDir: store, Port: -1, StagingDir: staging})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(store, stagingLink)
	l := openTestLog(t, srv, LogConfig{})
	if err := srv.StageBatches(); err != nil {
		t.Fatal(err)
	}
	checkLink := func(when string) {
		t.Helper()
		if target, err := os.Readlink(link); err != nil || target != staging {
			t.Fatalf("%s: %s links to %q (%v), want %s", when, link, target, err, staging)
		}
	}
	checkLink("after the log opened")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stagedIn(ctx, t, l.nc, staging, "b1")
	reconnected := l.nc.StatusChanged(nats.CONNECTED)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	checkLink("after a restart")
	// The log's connection comes back by itself.
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("the log did not reconnect after the restart")
	}
	stagedIn(ctx, t, l.nc, staging, "b2")
	l.Close()
	srv.Shutdown()
	if _, err := os.Stat(staging); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging directory after shutdown: %v", err)
	}
}

// stagedIn sends a batch of two messages and checks that the server
// staged the first one in dir, and emptied dir at the commit.
func stagedIn(ctx context.Context, t *testing.T, nc *nats.Conn, dir, id string) {
	t.Helper()
	for i, last := range []bool{false, true} {
		m := nats.NewMsg("tb.ev.staged." + id)
		m.Data = []byte(id)
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if last {
			m.Header.Set(hdrBatchCommit, "1")
		}
		// The server answers the first message once it is staged.
		ack, err := nc.RequestMsgWithContext(ctx, m)
		if err != nil {
			t.Fatalf("batch %s message %d: %v", id, i+1, err)
		}
		if _, err := parseAck(ack); err != nil {
			t.Fatalf("batch %s message %d: %v", id, i+1, err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if staged := len(entries) > 0; staged == last {
			t.Fatalf("batch %s after message %d: %d entries in the staging directory", id, i+1, len(entries))
		}
	}
}

// TestStagingRefused keeps staging on disk, and the server working, when
// the staging directory cannot be made this process's own.
func TestStagingRefused(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := OpenServer(ServerConfig{StoreDir: store, Port: -1, StagingDir: filepath.Join(blocker, "staging")})
	if err != nil {
		t.Fatalf("a refused staging directory must not stop the server: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	l := openTestLog(t, srv, LogConfig{})
	if err := srv.StageBatches(); !errors.Is(err, ErrStagingRefused) {
		t.Fatalf("StageBatches: %v, want ErrStagingRefused", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.Append(ctx, []Record{{Subject: "tb.ev.r.1", Data: []byte("a")}, {Subject: "tb.ev.r.2", Data: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(store, stagingLink)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		t.Fatal("staging was linked anyway")
	}
}

func TestOwnPrivateDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	private, open, file := filepath.Join(base, "private"), filepath.Join(base, "open"), filepath.Join(base, "file")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want bool
	}{{private, true}, {open, false}, {file, false}, {link, false}, {filepath.Join(base, "missing"), false}} {
		if got := ownPrivateDir(c.path); got != c.want {
			t.Errorf("ownPrivateDir(%s) = %v, want %v", filepath.Base(c.path), got, c.want)
		}
	}
}
