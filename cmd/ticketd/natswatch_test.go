package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/internal/metrictest"
)

// TestNATSGivesUp takes ticketd's only NATS server away, or has it refuse
// ticketd's login. While the connections try again ticketd is alive;
// once NATS has given up on them it says so, in the log, on /metrics and
// on /healthz.
func TestNATSGivesUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fault   func(t *testing.T, s *server.Server, port int)
		status  nats.Status
		logLine string
		healthz int
	}{
		{name: "server gone", status: nats.RECONNECTING, healthz: http.StatusOK,
			fault:   func(_ *testing.T, s *server.Server, _ int) { s.Shutdown() },
			logLine: `level=WARN msg="NATS disconnected; reconnecting" connection=%s`},
		{name: "login refused", status: nats.CLOSED, healthz: http.StatusServiceUnavailable,
			fault: func(t *testing.T, s *server.Server, port int) {
				// A server back with another password. (A config reload
				// would do too, but nats-server's reload path is not race
				// clean.)
				s.Shutdown()
				rotated := authNATSOptions(t, port, false)
				rotated.Users[0].Password = "rotated"
				startNATS(t, rotated)
			},
			logLine: `level=ERROR msg="NATS gave up on the connection; ticketd must be restarted" connection=%s err="nats: authorization violation"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := freePorts(t, 1)[0]
			s := startNATS(t, authNATSOptions(t, port, false))
			logs := &logBuffer{}
			m, err := runMain(t, logs.logger(), nil, "-data-dir", t.TempDir(),
				"-nats-url", fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", natsUser, natsPassword, port))
			if err != nil {
				t.Fatal(err)
			}
			anyone := &client{tb: t, m: m}
			if code := anyone.do("GET", "/healthz", nil, nil); code != http.StatusOK {
				t.Fatalf("/healthz before: %d", code)
			}
			tc.fault(t, s, port)
			for _, nc := range []*nats.Conn{m.NC, m.CmdNC} {
				name := nc.Opts.Name
				waitFor(t, 30*time.Second, name+" "+tc.status.String(), func() bool { return nc.Status() == tc.status })
				line := fmt.Sprintf(tc.logLine, name)
				waitFor(t, 10*time.Second, "the log line "+line, func() bool {
					return strings.Contains(strings.ToLower(logs.String()), strings.ToLower(line))
				})
				if v := natsMetric(t, m, "ticketbus_nats_connected", name); v != 0 {
					t.Errorf("%s: connected gauge %v", name, v)
				}
			}
			var health cmdReply
			if code := anyone.do("GET", "/healthz", nil, &health); code != tc.healthz {
				t.Errorf("/healthz: %d %+v, want %d", code, health, tc.healthz)
			}
			if tc.status == nats.CLOSED {
				if health.Code() != "unavailable" || !strings.Contains(health.Error.Message, `"ticketd" (`) ||
					!strings.Contains(health.Error.Message, `"ticketd-commands" (`) {
					t.Errorf("/healthz does not name both connections: %+v", health.Error)
				}
				if n := natsMetric(t, m, "ticketbus_nats_errors_total", "ticketd"); n < 1 {
					t.Errorf("the refused login was not counted as an error: %v", n)
				}
			}
		})
	}
}

// TestEmbeddedNATSWatched restarts the embedded server under ticketd: its
// connections are watched like those to a server of one's own.
func TestEmbeddedNATSWatched(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	m, err := runMain(t, logs.logger(), nil, "-data-dir", t.TempDir(), "-nats-listen", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Server.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ticketd", "ticketd-commands"} {
		for _, line := range []string{
			fmt.Sprintf(`level=WARN msg="NATS disconnected; reconnecting" connection=%s`, name),
			fmt.Sprintf(`level=INFO msg="NATS reconnected" connection=%s server=%s`, name, m.Server.ClientURL()),
		} {
			waitFor(t, 30*time.Second, "the log line "+line, func() bool { return strings.Contains(logs.String(), line) })
		}
		if n := natsMetric(t, m, "ticketbus_nats_reconnects_total", name); n != 1 {
			t.Errorf("%s: %v reconnects counted, want 1", name, n)
		}
	}
}

// natsMetric reads a ticketbus_nats_ series of one connection.
func natsMetric(t *testing.T, m *Main, name, connection string) float64 {
	t.Helper()
	return metrictest.Sum(t, m.Registry, name, "connection", connection)
}

// logBuffer collects ticketd's log for a test to read while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
