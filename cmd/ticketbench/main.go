// Command ticketbench measures a real ticketd process from outside, as a
// user would: it starts the binary on a fresh data directory, drives it
// over NATS and HTTP, and compares its rate with a raw JetStream publish
// baseline measured in the same run, since only ratios survive a noisy
// machine.
//
//	ticketbench scale -tickets 100000[,1000000] [-producers 256] [-ticketd PATH] [-out FILE]
//	ticketbench storm [-producers 256] [-duration 60s] [-mix first|mixed|warm] [-out FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ticketbench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ticketbench:", err)
		os.Exit(1)
	}
}

// Mixes are the storm's command mixes.
var Mixes = []string{"first", "mixed", "warm"}

// Config is what the flags set.
type Config struct {
	Command   string // "scale" or "storm"
	Args      []string
	Tickets   []int // scale: one run per size
	Producers int
	Ticketd   string // the binary; built from the module when empty
	Out       string
	Keep      bool
	Baseline  time.Duration // how long each raw baseline publishes
	Timeout   time.Duration // one command's or query's reply
	Queries   int           // scale: requests per inbox query
	Cold      int           // scale: commands on cold tickets
	Repeats   int           // scale: first contacts sent again with their command_id after the restart
	IdleWait  time.Duration // scale: from ready after the restart to the idle RSS
	Duration  time.Duration // storm
	Mix       string        // storm
	// DebugAddr is passed to ticketd as -debug-addr, to profile it
	// during a run (go tool pprof http://ADDR/debug/pprof/profile).
	DebugAddr string
}

// Main is the program, built so that tests run it in-process.
type Main struct {
	Config Config
	Stdout io.Writer // the report
	Stderr io.Writer // progress
	// Report is what the last Run measured.
	Report *Report
}

// NewMain returns a Main with the defaults.
func NewMain() *Main {
	return &Main{
		Config: Config{Producers: 256, Baseline: 10 * time.Second, Timeout: 10 * time.Second,
			Queries: 2000, Cold: 1500, Repeats: 2000, IdleWait: 10 * time.Second, Duration: 60 * time.Second, Mix: "first"},
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}
}

const usage = `usage:
  ticketbench scale -tickets N[,N...] [flags]   the engine at scale
  ticketbench storm [flags]                     the campaign reply storm
'ticketbench scale -h' and 'ticketbench storm -h' list the flags`

// ParseFlags reads the subcommand and its flags.
func (m *Main) ParseFlags(args []string) error {
	if len(args) == 0 || (args[0] != "scale" && args[0] != "storm") {
		fmt.Fprintln(m.Stderr, usage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return errors.New("want a subcommand: scale or storm")
	}
	c := &m.Config
	c.Command, c.Args = args[0], slices.Clone(args)
	fs := flag.NewFlagSet("ticketbench "+c.Command, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.IntVar(&c.Producers, "producers", c.Producers, "closed-loop producers: each sends its next command when the previous one is answered")
	fs.StringVar(&c.Ticketd, "ticketd", c.Ticketd, "the ticketd binary to measure (default: go build ./cmd/ticketd from the module around the working directory)")
	fs.StringVar(&c.Out, "out", c.Out, "also write the report to this markdown file, and its JSON form beside it (FILE with the extension .json)")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "keep the temporary directory (data directories, ticketd's log, the built binary)")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "start ticketd with -debug-addr here, to profile it during the run")
	fs.DurationVar(&c.Baseline, "baseline", c.Baseline, "how long each raw JetStream baseline publishes, before and after the load")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "how long to wait for one reply; a command not answered in time counts as the error timeout")
	var tickets string
	if c.Command == "scale" {
		fs.StringVar(&tickets, "tickets", "", "first contacts to write; a comma-separated list runs each size on its own fresh data directory")
		fs.IntVar(&c.Queries, "queries", c.Queries, "requests of each GET /v1/tickets query")
		fs.IntVar(&c.Cold, "cold", c.Cold, "commands (mark_unread, mark_read, reply in turn) on tickets among the oldest 10%")
		fs.IntVar(&c.Repeats, "repeats", c.Repeats, "first contacts, spread over the whole run, sent again with their command_id after the restart (R9)")
		fs.DurationVar(&c.IdleWait, "idle-wait", c.IdleWait, "how long after the restart's ready to read the idle RSS")
	} else {
		fs.DurationVar(&c.Duration, "duration", c.Duration, "how long the producers send")
		fs.StringVar(&c.Mix, "mix", c.Mix, "first (every inbound a new profile), mixed (half first contacts, half ticket commands) or warm (inbound to 256 profiles)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Producers < 1 || c.Baseline <= 0 || c.Timeout <= 0 {
		return errors.New("-producers, -baseline and -timeout must be positive")
	}
	if strings.EqualFold(outExt(c.Out), ".json") {
		return errors.New("-out names the markdown file; the JSON goes beside it, with the extension .json")
	}
	if c.Command == "storm" {
		if c.Duration <= 0 {
			return errors.New("-duration must be positive")
		}
		if !slices.Contains(Mixes, c.Mix) {
			return fmt.Errorf("-mix must be one of %s, got %q", strings.Join(Mixes, ", "), c.Mix)
		}
		return nil
	}
	var err error
	if c.Tickets, err = parseSizes(tickets); err != nil {
		return fmt.Errorf("-tickets: %w", err)
	}
	if c.Queries < 1 || c.Cold < 1 || c.Repeats < 1 || c.IdleWait < 0 {
		return errors.New("-queries, -cold and -repeats must be positive, -idle-wait not negative")
	}
	return nil
}

// parseSizes reads "100000,1000000". Ten is the least, so that each tenth
// of the run holds a ticket.
func parseSizes(s string) ([]int, error) {
	if s == "" {
		return nil, errors.New("required, such as -tickets 100000 or -tickets 100000,1000000")
	}
	var sizes []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 10 {
			return nil, fmt.Errorf("want whole numbers of at least 10, got %q", part)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// Run measures, prints the report and writes -out.
func (m *Main) Run(ctx context.Context) error {
	// The load average is read before building ticketd, which would
	// raise it.
	rep := &Report{Command: "ticketbench " + strings.Join(m.Config.Args, " "), Date: time.Now().UTC().Format(time.RFC3339),
		Machine: readMachine(), LoadAvg: loadAvg()}
	r, err := newRun(ctx, m)
	if err != nil {
		return err
	}
	defer r.cleanup()
	start := time.Now()
	if m.Config.Command == "scale" {
		for _, n := range m.Config.Tickets {
			s, err := r.scale(ctx, n)
			if err != nil {
				return fmt.Errorf("scale -tickets %d: %w", n, err)
			}
			rep.Scale = append(rep.Scale, s)
		}
	} else {
		s, err := r.storm(ctx)
		if err != nil {
			return fmt.Errorf("storm: %w", err)
		}
		rep.Storm = &s
	}
	rep.Seconds = time.Since(start).Seconds()
	m.Report = rep
	md := rep.Markdown()
	if _, err := io.WriteString(m.Stdout, md); err != nil {
		return err
	}
	if m.Config.Out != "" {
		return rep.WriteFiles(m.Config.Out)
	}
	return nil
}
