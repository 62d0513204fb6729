// Command ticketd runs the whole Ticketbus engine in one process: an
// embedded NATS server with JetStream (unless -nats-url names one), the
// event log, the command handlers on tickets.cmd.<name>, and the snooze
// scheduler.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/natsapi"
	"github.com/ticketbus/ticketbus/natsauth"
	"github.com/ticketbus/ticketbus/projections"
	"github.com/ticketbus/ticketbus/relay"
)

// defaultGCPercent is the Go collector's target unless GOGC says otherwise:
// most of a large deployment's heap is long-lived (nats-server's index of
// a subject per profile), and the default of 100 lets the heap grow to
// twice it (docs/performance.md, "The engine at scale").
const defaultGCPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "ticketd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ticketd:", err)
		_ = m.Close()
		os.Exit(1)
	}
	<-ctx.Done()
	fmt.Fprintln(m.Stdout, "ticketd: shutting down")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "ticketd:", err)
		os.Exit(1)
	}
}

// Config is what the flags and their TICKETD_ twins set.
type Config struct {
	DataDir      string
	HTTPAddr     string
	NATSURL      string
	NATSUser     string // for every server of NATSURL
	NATSPassword string
	NATSListen   string
	// NATSCalloutSeed is the account seed that signs producers' logins on
	// a NATS cluster of one's own (-nats-url) whose auth_callout names
	// its public key; without it ticketd answers no login there.
	NATSCalloutSeed string
	TestClock       bool
	Replicas        int
	// ErasureInterval is how often the erasure loop looks for rotations
	// to run and erasures to confirm (docs/erasure.md).
	ErasureInterval time.Duration
	// CacheProfiles bounds the profiles the engine keeps in memory.
	CacheProfiles int
	// DebugAddr, when set, serves Go's profiler there (debug.go).
	DebugAddr      string
	BootstrapToken string
}

// Main is the program, built so that tests run it in-process.
type Main struct {
	Config Config
	Stdout io.Writer
	Logger *slog.Logger

	Server *eventstore.Server
	NC     *nats.Conn
	// CmdNC carries the command requests and replies, apart from NC's
	// batches, acks and tail, so that neither waits behind the other on
	// one connection's reader and writer.
	CmdNC    *nats.Conn
	Log      *eventstore.Log
	Engine   *engine.Engine
	Commands *natsapi.CommandServer
	Logins   *natsauth.Responder // nil on a cluster without auth callout
	Relay    *relay.Relay        // delivers events to webhooks
	Views    *projections.Views
	Registry *prometheus.Registry
	Clock    *engine.ManualClock // only with -test-clock

	nats      *natsWatch
	issuer    nkeys.KeyPair // signs producers' logins; nil: none answered
	http      *http.Server
	debug     *http.Server
	httpAddr  string
	stopViews context.CancelFunc
	viewsDone chan struct{}
}

// now is the engine's clock: the test clock when it is on.
func (m *Main) now() time.Time {
	if m.Clock != nil {
		return m.Clock.Now()
	}
	return time.Now().UTC()
}

// NewMain returns a Main with the defaults.
func NewMain() *Main {
	return &Main{
		Config: Config{DataDir: "./data", HTTPAddr: "127.0.0.1:8080", NATSListen: "127.0.0.1:4222", Replicas: 1},
		Stdout: os.Stdout,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// ParseFlags reads the command line; each flag's TICKETD_ environment
// twin gives its default.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("ticketd", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv("TICKETD_" + name); v != "" {
			return v
		}
		return def
	}
	c := &m.Config
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", c.DataDir), "data directory (embedded NATS store, views)")
	fs.StringVar(&c.HTTPAddr, "http", env("HTTP", c.HTTPAddr), "HTTP listen address (API, health, metrics)")
	// The URL and the password take their environment twins after
	// parsing, so that -h never prints a password as a default.
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "use this NATS server or cluster instead of the embedded one")
	fs.StringVar(&c.NATSUser, "nats-user", env("NATS_USER", c.NATSUser), "user on every server of -nats-url")
	fs.StringVar(&c.NATSPassword, "nats-password", c.NATSPassword, "password of -nats-user; prefer TICKETD_NATS_PASSWORD, since flags show in ps")
	fs.StringVar(&c.NATSListen, "nats-listen", env("NATS_LISTEN", c.NATSListen), "embedded NATS server's listen address")
	testClock, _ := strconv.ParseBool(env("TEST_CLOCK", "false"))
	fs.BoolVar(&c.TestClock, "test-clock", testClock, "run on a manual clock moved by POST /v1/test-clock/advance")
	replicas, _ := strconv.Atoi(env("REPLICAS", strconv.Itoa(c.Replicas)))
	fs.IntVar(&c.Replicas, "replicas", replicas, "stream replicas (on a NATS cluster)")
	erasureInterval, err := time.ParseDuration(env("ERASURE_INTERVAL", "10s"))
	if err != nil {
		return fmt.Errorf("TICKETD_ERASURE_INTERVAL: %w", err)
	}
	fs.StringVar(&c.DebugAddr, "debug-addr", env("DEBUG_ADDR", c.DebugAddr), "serve Go's profiler (/debug/pprof/) on this address; off when empty")
	cacheProfiles, _ := strconv.Atoi(env("CACHE_PROFILES", strconv.Itoa(engine.DefaultCacheProfiles)))
	fs.IntVar(&c.CacheProfiles, "cache-profiles", cacheProfiles,
		"profiles the engine keeps in memory; others are read from the log when a command needs them")
	fs.DurationVar(&c.ErasureInterval, "erasure-interval", erasureInterval,
		"how often to look for keyrings to rotate and erasures to confirm; a block starts it at once")
	c.BootstrapToken = getenv("TICKETD_BOOTSTRAP_TOKEN")
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["nats-url"] {
		c.NATSURL = env("NATS_URL", c.NATSURL)
	}
	if !set["nats-password"] {
		c.NATSPassword = env("NATS_PASSWORD", c.NATSPassword)
	}
	// Only from the environment: a flag would show the seed in ps.
	c.NATSCalloutSeed = getenv("TICKETD_NATS_CALLOUT_SEED")
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// Run starts everything and returns once the engine answers commands.
func (m *Main) Run(ctx context.Context) error {
	m.Registry = prometheus.NewRegistry()
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.nats = newNATSWatch(m.Registry, m.Logger)
	if err := m.connect(); err != nil {
		return err
	}
	metrics := engine.NewMetrics(m.Registry)
	var err error
	logCfg := eventstore.LogConfig{Replicas: m.Config.Replicas, OnBatch: metrics.OnBatch}
	m.Log, err = eventstore.OpenLog(ctx, m.NC, logCfg)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	if m.Server != nil {
		if v := m.Server.UncommittedBatch(); v[0] != 0 {
			m.Logger.Warn("voided a batch whose commit never came (power loss during a commit); it was never acknowledged",
				"first_position", v[0], "last_position", v[1])
		}
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	cfg := engine.Config{Metrics: metrics, Logger: m.Logger, ErasureInterval: m.Config.ErasureInterval,
		IndexPath: filepath.Join(m.Config.DataDir, "engine.db"), CacheProfiles: m.Config.CacheProfiles}
	if m.Config.TestClock {
		// A test clock is created after the replay would be ideal, but the
		// engine needs its clock first; it starts at the current time and
		// is raised to the latest event time just below.
		m.Clock = engine.NewManualClock(time.Now())
		cfg.Now = m.Clock.Now
	}
	m.Engine, err = engine.Open(ctx, m.Log, cfg)
	if err != nil {
		return err
	}
	if m.Clock != nil {
		if last := m.Engine.LastEventTime(); last.After(m.Clock.Now()) {
			m.Clock.Advance(last.Sub(m.Clock.Now()))
		}
	}
	if err := m.bootstrap(ctx); err != nil {
		return err
	}
	if err := m.openViews(ctx); err != nil {
		return err
	}
	m.Commands, err = natsapi.ServeCommands(m.Engine, m.CmdNC, 0)
	if err != nil {
		return err
	}
	if m.issuer != nil {
		if m.Logins, err = natsapi.ServeLogins(m.Engine, m.CmdNC, m.issuer); err != nil {
			return err
		}
	}
	m.Relay, err = relay.Start(ctx, relay.Config{Log: m.Log, Engine: m.Engine, Registerer: m.Registry,
		Logger: m.Logger.With("component", "webhooks")})
	if err != nil {
		return fmt.Errorf("start the webhook relay: %w", err)
	}
	if err := m.serveDebug(); err != nil {
		return err
	}
	return m.serveHTTP()
}

// openViews opens the SQLite views and starts their projector.
func (m *Main) openViews(ctx context.Context) error {
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	var err error
	m.Views, err = projections.OpenViews(ctx, filepath.Join(m.Config.DataDir, "views.db"), m.Log,
		projections.ProjectorConfig{Metrics: projections.NewMetrics(m.Registry), Logger: m.Logger})
	if err != nil {
		return fmt.Errorf("open views: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m.stopViews, m.viewsDone = cancel, make(chan struct{})
	go func() {
		defer close(m.viewsDone)
		if err := m.Views.Run(runCtx); err != nil && runCtx.Err() == nil {
			m.Logger.Error("projector stopped", "err", err)
		}
	}()
	return nil
}

func (m *Main) bootstrap(ctx context.Context) error {
	u, token, created, err := m.Engine.Bootstrap(ctx, m.Config.BootstrapToken)
	if err != nil {
		return fmt.Errorf("bootstrap owner: %w", err)
	}
	if created {
		if m.Config.BootstrapToken != "" {
			token = "(from TICKETD_BOOTSTRAP_TOKEN)"
		}
		fmt.Fprintf(m.Stdout, "ticketd: created owner %s; API token (shown once): %s\n", u.ID, token)
	}
	return nil
}

func (m *Main) serveHTTP() error {
	ln, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.HTTPAddr, err)
	}
	m.httpAddr = ln.Addr().String()
	// Every phase of a request is bounded: a client cannot hold a
	// connection by sending slowly, nor keep an idle one forever.
	m.http = &http.Server{Handler: newAPI(m).routes(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = m.http.Serve(ln) }()
	if m.Server != nil {
		fmt.Fprintf(m.Stdout, "ticketd: embedded NATS at %s; commands on %s<name>\n", m.Server.ClientURL(), natsapi.CommandSubjectPrefix)
	}
	fmt.Fprintf(m.Stdout, "ticketd: HTTP on http://%s\n", m.httpAddr)
	return nil
}

// HTTPAddr returns the address HTTP listens on, once Run has returned.
func (m *Main) HTTPAddr() string { return m.httpAddr }

// Close shuts down in order: stop taking commands and finish those in
// flight, stop the engine, close NATS, then the embedded server.
func (m *Main) Close() error {
	if m.nats != nil {
		m.nats.closing.Store(true)
	}
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = m.http.Shutdown(ctx)
		cancel()
	}
	if m.debug != nil {
		_ = m.debug.Close()
	}
	if m.Relay != nil {
		m.Relay.Close()
	}
	if m.Logins != nil {
		_ = m.Logins.Close()
	}
	if m.Commands != nil {
		m.Commands.Drain()
	}
	if m.Engine != nil {
		m.Engine.Close()
	}
	if m.stopViews != nil {
		// The projector stops between batches: what it applied is
		// committed with its position, so the next start resumes there.
		m.stopViews()
		<-m.viewsDone
	}
	if m.Views != nil {
		_ = m.Views.Close()
	}
	if m.Log != nil {
		m.Log.Close()
	}
	if m.CmdNC != nil {
		m.CmdNC.Close()
	}
	if m.NC != nil {
		m.NC.Close()
	}
	if m.Server != nil {
		m.Server.Shutdown()
	}
	return nil
}
