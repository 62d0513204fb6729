package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// runner is what a subcommand gets: the parsed global flags and the
// engine client.
type runner struct {
	ctx    context.Context
	name   string
	stdout io.Writer
	stderr io.Writer
	json   bool
	getenv func(string) string // for a subcommand's own environment twins
	client *client

	synopsis string // set by newFlags, printed by -h
}

// subcommand is one entry of the help listing and the dispatch table.
type subcommand struct {
	name    string
	summary string
	run     func(r *runner, args []string) error
}

// subcommands lists every subcommand in the order help prints them.
func subcommands() []subcommand {
	return []subcommand{
		{"inbound", "record a customer's message (-profile P -body B [-phone] [-message-id] [-channel])", runInbound},
		{"reply", "send an agent's reply (-ticket T -body B)", runReply},
		{"note", "add an internal note, for the team only (-ticket T -body B)", runNote},
		{"assign", "assign a ticket (-ticket T -user U, -user none to unassign)", runAssign},
		{"snooze", "snooze a ticket (-ticket T, -until RFC3339 or -for 90m)", runSnooze},
		{"unsnooze", "wake a snoozed ticket (-ticket T)", runTicketOnly},
		{"mark-unread", "set a ticket's blue dot (-ticket T)", runTicketOnly},
		{"mark-read", "clear a ticket's blue dot (-ticket T)", runTicketOnly},
		{"close", "close (archive) a ticket (-ticket T)", runTicketOnly},
		{"block", "block a sender and erase their messages (-profile P or -phone N)", runBlockTarget},
		{"unblock", "let a sender write in again (-profile P or -phone N)", runBlockTarget},
		{"reply-status", "a gateway's report on a reply (-reply R -status delivered|failed [-reason T])", runReplyStatus},
		{"inbox", "list tickets ([-view all|mine|unassigned] [-status open|snoozed|closed] [-sort newest|waiting] [-limit N] [-cursor C] [-all-pages])", runInbox},
		{"search", "find tickets by profile, phone, ticket id or words of their messages (search TEXT [-view V] [-status S] [-sort S] [-limit N])", runSearch},
		{"counts", "ticket counts per view and status", runCounts},
		{"show", "show a ticket and its thread (show TICKET_ID)", runShow},
		{"history", "a ticket's events, for auditors (history TICKET_ID)", runHistory},
		{"profile", "a customer profile: phones, block, tickets (profile ID)", runProfile},
		{"users", "manage users (users add -name N -role R | users list)", runUsers},
		{"webhooks", "manage webhooks (webhooks add -url U -events E1,E2|* [-description D] | list | remove ID | failures ID | retry ID EVENT_ID)", runWebhooks},
		{"gateway", "a stand-in gateway: takes ReplySent deliveries, prints them, reports them delivered (-listen ADDR [-public-url URL])", runGateway},
		{"me", "the user the token belongs to", runMe},
		{"views", "replay the log into the views, or compare them (views rebuild | views verify)", runViews},
		{"erasure", "whether every block's erasure is complete on every replica; exits 1 while one is pending", runErasure},
		{"clock", "move a -test-clock engine's clock (clock advance DURATION)", runClock},
		{"health", "check the engine's /healthz and /readyz", runHealth},
		{"callout-key", "make the key pair of a NATS cluster's auth callout: the public key for the servers, the seed for ticketd", runCalloutKey},
		{"load", "generate load over NATS, logged in with the token, and check the log after ([-nats-url U] [-nats-user U -nats-password P] [-producers N] [-duration D] [-profiles N] [-run-id ID] [-mix name=w,...])", runLoad},
		{"help", "this listing", nil},
	}
}

// findSubcommand also accepts the API's underscore spelling of command
// names (mark_read), since users copy them from the contract and logs.
func findSubcommand(name string) (subcommand, bool) {
	for _, s := range subcommands() {
		if s.run == nil {
			continue
		}
		if s.name == name || apiName(s.name) == name {
			return s, true
		}
	}
	return subcommand{}, false
}

// newFlags returns a subcommand's flag set; errors and -h are reported by
// parse, not printed by the flag package, so that Run decides where
// output goes.
func (r *runner) newFlags(synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(r.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	r.synopsis = synopsis
	return fs
}

// errHelpShown tells a subcommand that -h was handled and it should stop
// without error.
var errHelpShown = errors.New("help shown")

// parse parses flags and positional arguments in any order (show ID
// -min-position 3 works as well as show -min-position 3 ID), since the
// flag package alone stops at the first positional argument. It returns
// exactly npos positional arguments or a usage error.
func (r *runner) parse(fs *flag.FlagSet, args []string, npos int) ([]string, error) {
	pos, err := r.parseAll(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != npos {
		if npos == 0 {
			return nil, usagef(r.name, "unexpected argument %q", pos[0])
		}
		return nil, usagef(r.name, "want %d argument(s), got %d", npos, len(pos))
	}
	return pos, nil
}

// parseAll parses flags and returns every positional argument.
func (r *runner) parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(r.stdout, "usage: ticketctl %s %s\n", r.name, r.synopsis)
				fs.SetOutput(r.stdout)
				fs.PrintDefaults()
				return nil, errHelpShown
			}
			return nil, usagef(r.name, "%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// done turns errHelpShown into success.
func done(err error) error {
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

// require reports the first of the named flags left empty.
func (r *runner) require(flags map[string]*string, order ...string) error {
	for _, name := range order {
		if *flags[name] == "" {
			return usagef(r.name, "-%s is required", name)
		}
	}
	return nil
}

// minPosition adds the read-your-writes flag every query accepts.
func minPosition(fs *flag.FlagSet) *int64 {
	return fs.Int64("min-position", 0, "wait until the views have applied this log position (read-your-writes)")
}

// minPositionOnly parses the arguments of a command whose only flag is
// -min-position and returns its query.
func (r *runner) minPositionOnly(args []string) (url.Values, error) {
	fs := r.newFlags("[-min-position N]")
	minPos := minPosition(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return nil, err
	}
	q := url.Values{}
	if err := r.addMinPosition(q, *minPos); err != nil {
		return nil, err
	}
	return q, nil
}

// addMinPosition puts min_position in the query when it was asked for.
func (r *runner) addMinPosition(q url.Values, n int64) error {
	if n < 0 {
		return usagef(r.name, "-min-position must not be negative")
	}
	if n > 0 {
		q.Set("min_position", strconv.FormatInt(n, 10))
	}
	return nil
}
