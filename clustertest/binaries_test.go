package clustertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// binaries are the programs the tests run, built once per test binary run.
type binaries struct {
	natsServer, ticketd, ticketctl string
}

var built struct {
	once sync.Once
	dir  string
	bins binaries
	out  []byte
	err  error
}

// TestMain removes the built binaries once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinaries builds nats-server at go.mod's version (the server the
// operators run), ticketd and ticketctl, on the first call.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "ticketbus-clustertest-"); built.err != nil {
			return
		}
		// A cold build of nats-server takes about a minute.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		b := binaries{
			natsServer: filepath.Join(built.dir, "nats-server"),
			ticketd:    filepath.Join(built.dir, "ticketd"),
			ticketctl:  filepath.Join(built.dir, "ticketctl"),
		}
		for bin, pkg := range map[string]string{
			b.natsServer: "github.com/nats-io/nats-server/v2",
			b.ticketd:    "../cmd/ticketd",
			b.ticketctl:  "../cmd/ticketctl",
		} {
			if built.out, built.err = exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput(); built.err != nil {
				built.err = fmt.Errorf("go build %s: %w", pkg, built.err)
				return
			}
		}
		built.bins = b
	})
	if built.err != nil {
		t.Fatalf("building the binaries: %v\n%s", built.err, built.out)
	}
	return built.bins
}
