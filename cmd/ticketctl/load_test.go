package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
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
	bin := buildTicketd(ctx, t)
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
	if s.Acked == 0 || s.Lost != 0 || s.Unconfirmed != 0 || s.Duplicated != 0 || s.Unexpected != 0 || s.ViewsMismatch != 0 {
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
	server, _ := startTicketdIn(ctx, t, bin, token, t.TempDir(), "-nats-listen", natsAddr)
	return server, "nats://" + natsAddr
}
