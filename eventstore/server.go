package eventstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// engineUser is the engine's user on the embedded server: the only writer,
// and the one that answers the auth callout. Every other client logs in
// through the callout, with the permissions ticketd gives its token.
const engineUser = "engine"

// EngineInboxPrefix is where the engine receives replies (JetStream acks,
// direct gets of events and keys), outside the _INBOX.> under which each
// client has a prefix of its own. On a NATS server of one's own, give
// ticketd's user this prefix and nobody else.
const EngineInboxPrefix = "_TB_ENGINE"

// ErrServer reports that the embedded server could not be started.
var ErrServer = errors.New("eventstore: server")

const readyTimeout = 10 * time.Second

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	StoreDir string // JetStream file store directory
	Host     string // default "127.0.0.1"
	Port     int    // default 4222; -1 = random (tests)
	// CalloutIssuer is the public account key ("A...") that signs the
	// logins of every client but the engine (NATS auth callout). Empty:
	// no one but the engine may connect.
	CalloutIssuer string

	// enginePassword pins the engine's password; only tests that restart a
	// server under a live connection need it, everything else gets a fresh
	// random one.
	enginePassword string
}

// Server is an embedded NATS server with JetStream, holding the event log.
type Server struct {
	ns       *server.Server
	password string
	cfg      ServerConfig
	void     [2]uint64 // the uncommitted batch found at start, if any
}

// OpenServer starts an embedded server and waits until it accepts clients.
// Every write is fsynced before it is acknowledged: an acknowledged event
// must survive a power loss, and atomic batches share that fsync.
func OpenServer(cfg ServerConfig) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("open server: %w: empty StoreDir", ErrServer)
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 4222
	}
	password := cfg.enginePassword
	if password == "" {
		var err error
		if password, err = randomPassword(); err != nil {
			return nil, fmt.Errorf("open server: %w: %w", ErrServer, err)
		}
	}
	opts := &server.Options{
		ServerName: "ticketbus",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
		Users:      []*server.User{{Username: engineUser, Password: password}},
	}
	if cfg.CalloutIssuer != "" {
		opts.AuthCallout = &server.AuthCallout{Issuer: cfg.CalloutIssuer, AuthUsers: []string{engineUser}}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("open server: %w: %w", ErrServer, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("open server on %s:%d: %w: not ready after %s", cfg.Host, cfg.Port, ErrServer, readyTimeout)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("open server: %w: JetStream not enabled", ErrServer)
	}
	// A restart comes back on the same address and password.
	cfg.enginePassword = password
	if addr, ok := ns.Addr().(*net.TCPAddr); ok {
		cfg.Port = addr.Port
	}
	s := &Server{ns: ns, password: password, cfg: cfg}
	if err := s.afterStart(); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("open server: %w: %w", ErrServer, err)
	}
	return s, nil
}

func randomPassword() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// ClientURL returns the URL clients connect to, with the port actually bound.
func (s *Server) ClientURL() string {
	addr, ok := s.ns.Addr().(*net.TCPAddr)
	if !ok {
		return s.ns.ClientURL()
	}
	return "nats://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))
}

// Port returns the port the server listens on, useful when it was chosen at
// random.
func (s *Server) Port() int {
	if addr, ok := s.ns.Addr().(*net.TCPAddr); ok {
		return addr.Port
	}
	return 0
}

// EngineConnect connects with the engine's credentials. The engine keeps
// reconnecting forever by default, since it lives as long as the server;
// opts are applied last and may override that.
func (s *Server) EngineConnect(name string, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.UserInfo(engineUser, s.password),
		nats.CustomInboxPrefix(EngineInboxPrefix),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
	}
	nc, err := nats.Connect(s.ClientURL(), append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("engine connect %q: %w", name, err)
	}
	return nc, nil
}

// Restart stops the server if it runs and starts it again on the same store, port
// and engine password, so that the engine's connections reconnect by
// themselves: what an operator's restart of the server looks like to a
// running engine.
func (s *Server) Restart() error {
	s.Shutdown()
	ns, err := OpenServer(s.cfg)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	s.ns, s.void = ns.ns, ns.void
	return nil
}

// Shutdown stops the server gracefully and waits until it has stopped.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
