// Command ticketctl is the command line of Ticketbus: it sends commands to
// a ticketd engine, lists inbox views, shows tickets and their history,
// manages users, and rebuilds or verifies the views against the log. It
// talks to ticketd over its HTTP API only, so it works against any engine
// the user can reach.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// DefaultServer is the engine address used when neither -server nor
// TICKETCTL_SERVER is given; it is ticketd's own default -http address.
const DefaultServer = "http://127.0.0.1:8080"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, HTTPClient: http.DefaultClient}
	err := m.Run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ticketctl:", err)
		os.Exit(ExitCode(err))
	}
}

// ExitCode maps an error of Run to the process status: 2 for a mistake on
// the command line, as the flag package and most tools do, 1 for anything
// else.
func ExitCode(err error) int {
	var u *UsageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// UsageError reports a command line that cannot be sent: a missing or bad
// flag, an unknown subcommand. Nothing was sent to the engine.
type UsageError struct {
	Command string // the subcommand, or "" for the global flags
	Msg     string
}

// Error points at the help that lists the right flags.
func (e *UsageError) Error() string {
	if e.Command == "" {
		return e.Msg + " (see ticketctl help)"
	}
	return fmt.Sprintf("%s: %s (see ticketctl %s -h)", e.Command, e.Msg, e.Command)
}

func usagef(cmd, format string, args ...any) error {
	return &UsageError{Command: cmd, Msg: fmt.Sprintf(format, args...)}
}

// Main is the program, with its outside world in fields so that tests run
// it in-process.
type Main struct {
	Stdout     io.Writer
	Stderr     io.Writer
	Getenv     func(string) string
	HTTPClient *http.Client
}

// Run parses the global flags, then runs the subcommand named by the
// first remaining argument.
func (m *Main) Run(ctx context.Context, args []string) error {
	getenv := m.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs := flag.NewFlagSet("ticketctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", envOr(getenv, "TICKETCTL_SERVER", DefaultServer), "engine base URL (env TICKETCTL_SERVER)")
	// The token's environment twin is read after parsing, never as the
	// flag's default, so that usage never prints it.
	token := fs.String("token", "", "API token (env TICKETCTL_TOKEN)")
	jsonOut := fs.Bool("json", envBool(getenv, "TICKETCTL_JSON"), "print the engine's raw JSON reply (env TICKETCTL_JSON)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			m.usage(m.Stdout, fs)
			return nil
		}
		return usagef("", "%v", err)
	}
	if *token == "" {
		*token = getenv("TICKETCTL_TOKEN")
	}
	rest := fs.Args()
	if len(rest) == 0 {
		m.usage(m.Stderr, fs)
		return usagef("", "no subcommand")
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		m.usage(m.Stdout, fs)
		return nil
	}
	sub, ok := findSubcommand(name)
	if !ok {
		return usagef("", "unknown subcommand %q", name)
	}
	base, err := parseServer(*server)
	if err != nil {
		return usagef("", "-server: %v", err)
	}
	hc := m.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	r := &runner{
		ctx:    ctx,
		name:   sub.name,
		stdout: m.Stdout,
		stderr: m.Stderr,
		json:   *jsonOut,
		getenv: getenv,
		client: &client{base: base, token: *token, http: hc},
	}
	return sub.run(r, rest)
}

// envOr returns the environment variable, or def when it is unset or empty.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// envBool reads a boolean twin; anything but a clear "yes" is false, so a
// stray value never switches scripts' output format by surprise.
func envBool(getenv func(string) string, name string) bool {
	switch strings.ToLower(getenv(name)) {
	case "1", "t", "true", "yes", "on":
		return true
	}
	return false
}

// parseServer checks the base URL up front, so a typo gives a clear
// message instead of a transport error.
func parseServer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("want an http:// or https:// URL, got %q", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func (m *Main) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "usage: ticketctl [-server URL] [-token T] [-json] <subcommand> [flags]\n\n")
	fmt.Fprint(w, "Global flags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\nSubcommands (ticketctl <subcommand> -h for their flags):\n")
	tw := newTable(w)
	for _, s := range subcommands() {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nQueries accept -min-position N to wait until the views have applied position N.\n")
}
