package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// run is one invocation: its temporary directory, the binary it measures
// and the id that keeps its profiles apart from any other run's.
type run struct {
	m     *Main
	dir   string
	bin   string
	runID string
}

func newRun(ctx context.Context, m *Main) (*run, error) {
	dir, err := os.MkdirTemp("", "ticketbench-")
	if err != nil {
		return nil, err
	}
	r := &run{m: m, dir: dir, bin: m.Config.Ticketd, runID: uuid.NewString()[:8]}
	if r.bin == "" {
		r.bin = filepath.Join(dir, "ticketd")
		r.logf("building ticketd into %s", r.bin)
		if err := buildTicketd(ctx, r.bin); err != nil {
			r.cleanup()
			return nil, err
		}
	} else if r.bin, err = filepath.Abs(r.bin); err != nil {
		r.cleanup()
		return nil, err
	}
	return r, nil
}

// cleanup removes the temporary directory unless -keep.
func (r *run) cleanup() {
	if r.m.Config.Keep {
		r.logf("kept %s", r.dir)
		return
	}
	if err := os.RemoveAll(r.dir); err != nil {
		r.logf("removing %s: %v", r.dir, err)
	}
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.m.Stderr, "ticketbench: "+format+"\n", args...)
}

// buildTicketd builds ./cmd/ticketd of the module around the working
// directory.
func buildTicketd(ctx context.Context, out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/ticketd")
	cmd.Dir = root
	cmd.SysProcAttr = childAttr()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/ticketd in %s: %w\n%s", root, err, b)
	}
	return nil
}

// moduleRoot walks up from the working directory to the first go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: give -ticketd, or run from the Ticketbus module")
		}
		dir = parent
	}
}

// session is one ticketd on a fresh data directory, and the clients that
// drive it.
type session struct {
	r    *run
	dir  string // the session's part of the run's directory
	d    *ticketd
	nc   *nats.Conn
	cmds *client
	http *http.Client
}

// startSession starts ticketd on dir/data with ports of its own, waits
// until it is ready, and connects to it.
func (r *run) startSession(ctx context.Context, name string) (*session, error) {
	dir := filepath.Join(r.dir, name)
	natsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	token := "tbk_bench_" + uuid.NewString()
	s := &session{r: r, dir: dir, http: &http.Client{Timeout: r.m.Config.Timeout},
		d: &ticketd{bin: r.bin, dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "ticketd.log"),
			natsAddr: natsAddr, httpAddr: "127.0.0.1:0", token: token, debugAddr: r.m.Config.DebugAddr}}
	if err := os.MkdirAll(s.d.dataDir, 0o700); err != nil {
		return nil, err
	}
	r.logf("%s: starting ticketd (log in %s)", name, s.d.logPath)
	if _, err := s.d.start(ctx); err != nil {
		s.close()
		return nil, err
	}
	// A producer logs in with its token and receives replies under the
	// inbox prefix of its user.
	var me struct {
		InboxPrefix string `json:"nats_inbox_prefix"`
	}
	if err := s.getJSON(ctx, "/v1/me", &me); err != nil {
		s.close()
		return nil, err
	}
	s.nc, err = nats.Connect("nats://"+natsAddr, nats.Name("ticketbench"), nats.MaxReconnects(-1),
		nats.Token(token), nats.CustomInboxPrefix(me.InboxPrefix))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("connect to ticketd's NATS: %w", err)
	}
	s.cmds = &client{nc: s.nc, token: token, timeout: r.m.Config.Timeout}
	return s, nil
}

// close stops ticketd and, unless -keep, removes the session's files, so
// that the next size of a scale run starts on a free disk.
func (s *session) close() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.d.running() {
		if _, killed, err := s.d.stop(); err != nil || killed {
			s.r.logf("stopping ticketd: killed %v, %v", killed, err)
		}
	}
	if !s.r.m.Config.Keep {
		_ = os.RemoveAll(s.dir)
	}
}

// waitReady waits until ticketd answers /readyz 200: its views have
// applied the whole log. It returns how long that took.
func (s *session) waitReady(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	err := s.d.waitReady(ctx, t0.Add(readyTimeout))
	return time.Since(t0), err
}
