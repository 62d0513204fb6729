package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoad runs ticketctl load against a real ticketd and checks that its
// bookkeeping finds nothing lost, duplicated, unexpected or mismatched.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts ticketd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "ticketd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../ticketd").CombinedOutput(); err != nil {
		t.Fatalf("go build ../ticketd: %v\n%s", err, out)
	}
	token := randomToken()
	server, natsURL := startTicketdNATS(ctx, t, bin, token)

	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		return map[string]string{"TICKETCTL_SERVER": server, "TICKETCTL_TOKEN": token}[k]
	}}
	err := m.Run(ctx, []string{"-json", "load", "-nats-url", natsURL, "-producers", "8", "-duration", "3s", "-profiles", "20"})
	if err != nil {
		t.Fatalf("load: %v\n%s%s", err, out.String(), errb.String())
	}
	var s LoadSummary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("load -json: %v: %q", err, out.String())
	}
	if s.Acked == 0 || s.Lost != 0 || s.Duplicated != 0 || s.Unexpected != 0 || s.ViewsMismatch != 0 {
		t.Fatalf("load summary: %+v", s)
	}
	if s.Attempted != s.Acked+s.Failed || s.EventsInLog == 0 {
		t.Fatalf("load counts do not add up: %+v", s)
	}
	if !strings.Contains(errb.String(), "acked") {
		t.Errorf("no progress line on stderr: %q", errb.String())
	}
}

// startTicketdNATS is startTicketdIn with a NATS port picked here, so
// that the test knows where to send commands. It returns the HTTP base URL
// and the NATS URL.
func startTicketdNATS(ctx context.Context, t *testing.T, bin, token string) (string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := l.Addr().String()
	_ = l.Close()
	cmd := exec.CommandContext(ctx, bin, "-data-dir", t.TempDir(), "-http", "127.0.0.1:0", "-nats-listen", natsAddr, "-test-clock")
	cmd.Env = append(os.Environ(), "TICKETD_BOOTSTRAP_TOKEN="+token)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("ticketd stderr:\n%s", stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		const marker = "HTTP on http://"
		for sc.Scan() {
			if i := strings.Index(sc.Text(), marker); i >= 0 {
				select {
				case addr <- "http://" + strings.TrimSpace(sc.Text()[i+len(marker):]):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a, "nats://" + natsAddr
	case <-exited:
		t.Fatalf("ticketd exited before serving HTTP:\n%s", stderr.String())
	case <-time.After(startupDeadline):
		t.Fatalf("ticketd printed no HTTP address within %s", startupDeadline)
	}
	return "", ""
}
