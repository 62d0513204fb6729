package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ticketd's login on the test servers.
const (
	natsUser     = "ticketd"
	natsPassword = "pw-9c41e7d2"
	natsToken    = "tok-5b0f83aa"
)

// TestNATSLogin reads the credentials from every form -nats-url and the
// flags take, and refuses what would log in differently to different
// servers, without repeating a password in the error.
func TestNATSLogin(t *testing.T) {
	t.Parallel()
	const a, b = "nats://10.0.0.1:4222", "nats://10.0.0.2:4222"
	cases := []struct {
		name                  string
		args                  []string
		env                   map[string]string
		servers               string
		user, password, token string
		fromFlags             bool
		err                   string
	}{
		{name: "userinfo on the first URL", args: []string{"-nats-url", "nats://u:" + natsPassword + "@10.0.0.1:4222, " + b},
			servers: a + "," + b, user: "u", password: natsPassword},
		{name: "userinfo on the last URL", args: []string{"-nats-url", a + ",nats://u:" + natsPassword + "@10.0.0.2:4222"},
			servers: a + "," + b, user: "u", password: natsPassword},
		{name: "the same userinfo twice", args: []string{"-nats-url", "nats://u:p@10.0.0.1:4222,nats://u:p@10.0.0.2:4222"},
			servers: a + "," + b, user: "u", password: "p"},
		{name: "token", args: []string{"-nats-url", "tls://" + natsToken + "@10.0.0.1:4222,tls://10.0.0.2:4222"},
			servers: "tls://10.0.0.1:4222,tls://10.0.0.2:4222", token: natsToken},
		{name: "no scheme", args: []string{"-nats-url", "u:p@10.0.0.1:4222,10.0.0.2:4222"},
			servers: a + "," + b, user: "u", password: "p"},
		{name: "no credentials", args: []string{"-nats-url", a}, servers: a},
		{name: "flags", args: []string{"-nats-url", a + "," + b, "-nats-user", "u", "-nats-password", natsPassword},
			servers: a + "," + b, user: "u", password: natsPassword},
		{name: "environment", args: []string{"-nats-url", a},
			env:     map[string]string{"TICKETD_NATS_USER": "u", "TICKETD_NATS_PASSWORD": natsPassword},
			servers: a, user: "u", password: natsPassword},
		{name: "URL from the environment", env: map[string]string{"TICKETD_NATS_URL": "nats://u:p@10.0.0.1:4222"},
			servers: a, user: "u", password: "p"},
		{name: "flags win over the URL", args: []string{"-nats-url", "nats://" + natsToken + "@10.0.0.1:4222", "-nats-user", "u"},
			env:     map[string]string{"TICKETD_NATS_PASSWORD": natsPassword},
			servers: a, user: "u", password: natsPassword, fromFlags: true},
		{name: "different passwords", args: []string{"-nats-url", "nats://u:" + natsPassword + "@10.0.0.1:4222,nats://u:other@10.0.0.2:4222"},
			err: "servers 1 and 2 of the list carry different credentials"},
		{name: "a token and a user", args: []string{"-nats-url", "nats://u:" + natsPassword + "@10.0.0.1:4222,nats://" + natsToken + "@10.0.0.2:4222"},
			err: "servers 1 and 2 of the list carry different credentials"},
		{name: "different users", args: []string{"-nats-url", a + ",nats://u:" + natsPassword + "@h2,nats://v:" + natsPassword + "@h3"},
			err: "servers 2 and 3 of the list carry different credentials"},
		{name: "password without user", args: []string{"-nats-url", a, "-nats-password", natsPassword},
			err: "-nats-user and -nats-password go together"},
		{name: "user without password", args: []string{"-nats-url", a}, env: map[string]string{"TICKETD_NATS_USER": "u"},
			err: "-nats-user and -nats-password go together"},
		{name: "credentials without -nats-url", args: []string{"-nats-user", "u", "-nats-password", natsPassword},
			err: "need -nats-url"},
		{name: "not a URL", args: []string{"-nats-url", a + ",nats://u:" + natsPassword + "@bad host"},
			err: "server 2 of the list is not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			if err := m.ParseFlags(tc.args, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			l, err := parseNATSLogin(m.Config)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				if strings.Contains(err.Error(), natsPassword) || strings.Contains(err.Error(), natsToken) {
					t.Fatalf("the error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := natsLogin{servers: tc.servers, user: tc.user, password: tc.password, token: tc.token, fromFlags: tc.fromFlags}
			if l != want {
				t.Fatalf("got %+v, want %+v", l, want)
			}
		})
	}
	// ticketd refuses to start on such a list.
	_, err := runMain(t, slog.New(slog.DiscardHandler), nil, "-data-dir", t.TempDir(),
		"-nats-url", "nats://u:"+natsPassword+"@127.0.0.1:1,nats://u:other@127.0.0.1:2")
	if err == nil || !strings.Contains(err.Error(), "carry different credentials") {
		t.Fatalf("start with different credentials on two URLs: %v", err)
	}
}

// TestNATSCredentialsOnEveryServer runs ticketd against three servers
// that each admit only ticketd's login, while only the first is up, then
// shuts down the first and the second: both engine connections must end
// up on the third, whichever form gave the credentials.
func TestNATSCredentialsOnEveryServer(t *testing.T) {
	t.Parallel()
	withInfo := func(url, info string) string { return strings.Replace(url, "nats://", "nats://"+info+"@", 1) }
	cases := []struct {
		name  string
		token bool // the servers want a token rather than a user
		url   func(urls []string) string
		args  []string
		env   map[string]string
	}{
		{name: "user:password on the first URL", url: func(u []string) string {
			return strings.Join([]string{withInfo(u[0], natsUser+":"+natsPassword), u[1], u[2]}, ",")
		}},
		{name: "user:password on the last URL", url: func(u []string) string {
			return strings.Join([]string{u[0], u[1], withInfo(u[2], natsUser+":"+natsPassword)}, ",")
		}},
		{name: "token on the first URL", token: true, url: func(u []string) string {
			return strings.Join([]string{withInfo(u[0], natsToken), u[1], u[2]}, ",")
		}},
		{name: "flags", args: []string{"-nats-user", natsUser, "-nats-password", natsPassword}},
		{name: "environment", env: map[string]string{"TICKETD_NATS_USER": natsUser, "TICKETD_NATS_PASSWORD": natsPassword}},
		{name: "flags win over the URL", args: []string{"-nats-user", natsUser, "-nats-password", natsPassword},
			url: func(u []string) string {
				return strings.Join([]string{withInfo(u[0], natsUser+":wrong"), u[1], u[2]}, ",")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := make([]*server.Options, 3)
			urls := make([]string, 3)
			for i, port := range freePorts(t, 3) {
				opts[i] = authNATSOptions(t, port, tc.token)
				urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", port)
			}
			url := strings.Join(urls, ",")
			if tc.url != nil {
				url = tc.url(urls)
			}
			// Only the first server runs when ticketd starts, so that it
			// starts on the one whose URL carries the credentials.
			servers := []*server.Server{startNATS(t, opts[0])}
			logs := &logBuffer{}
			m, err := runMain(t, logs.logger(), tc.env, append([]string{"-data-dir", t.TempDir(), "-nats-url", url}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			servers = append(servers, startNATS(t, opts[1]), startNATS(t, opts[2]))
			conns := []*nats.Conn{m.NC, m.CmdNC}
			for _, nc := range conns {
				if got := nc.ConnectedServerId(); got != servers[0].ID() {
					t.Fatalf("%s started on %s, want the first server", nc.Opts.Name, got)
				}
			}
			servers[0].Shutdown()
			waitFor(t, 30*time.Second, "both connections on the second or third server", func() bool {
				return onServer(t, conns, servers[1], servers[2])
			})
			servers[1].Shutdown()
			waitFor(t, 30*time.Second, "both connections on the third server", func() bool {
				return onServer(t, conns, servers[2])
			})
			for _, nc := range conns {
				// The handler runs after the connection is back.
				line := fmt.Sprintf(`level=INFO msg="NATS reconnected" connection=%s server=%s`, nc.Opts.Name, urls[2])
				waitFor(t, 10*time.Second, "the log line "+line, func() bool { return strings.Contains(logs.String(), line) })
				if n := natsMetric(t, m, "ticketbus_nats_reconnects_total", nc.Opts.Name); n < 1 {
					t.Errorf("%s: %v reconnects counted", nc.Opts.Name, n)
				}
				if v := natsMetric(t, m, "ticketbus_nats_connected", nc.Opts.Name); v != 1 {
					t.Errorf("%s: connected gauge %v", nc.Opts.Name, v)
				}
			}
			if !strings.Contains(logs.String(), `level=WARN msg="NATS disconnected; reconnecting" connection=ticketd err=EOF`) {
				t.Errorf("no disconnect in the log:\n%s", logs)
			}
			if strings.Contains(logs.String(), natsPassword) || strings.Contains(logs.String(), natsToken) {
				t.Fatalf("the log shows a secret:\n%s", logs)
			}
		})
	}
}

// onServer says whether every connection is connected to one of servers,
// and fails the test at once when one has given up.
func onServer(t *testing.T, conns []*nats.Conn, servers ...*server.Server) bool {
	for _, nc := range conns {
		if nc.IsClosed() {
			t.Fatalf("connection %s closed for good: %v", nc.Opts.Name, nc.LastError())
		}
		id, ok := nc.ConnectedServerId(), false
		for _, s := range servers {
			ok = ok || (id != "" && id == s.ID())
		}
		if !ok {
			return false
		}
	}
	return true
}

// authNATSOptions configures a NATS server with JetStream on port that
// admits only ticketd's login: its user and password, or its token.
func authNATSOptions(t *testing.T, port int, token bool) *server.Options {
	o := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	if token {
		o.Authorization = natsToken
	} else {
		o.Users = []*server.User{{Username: natsUser, Password: natsPassword}}
	}
	return o
}

// startNATS starts a NATS server and stops it when the test ends.
func startNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("NATS server on port %d not ready", opts.Port)
	}
	return s
}
