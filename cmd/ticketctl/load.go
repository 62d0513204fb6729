package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// defaultMix is the command mix of ticketctl load, in percent-like weights.
const defaultMix = "inbound=60,reply=10,snooze=5,mark_unread=10,close=10,assign=4,block=1"

// loadCommands are the commands the load generator knows how to fill in.
var loadCommands = []string{"inbound", "reply", "snooze", "unsnooze", "mark_unread", "mark_read", "close", "assign", "block", "unblock"}

// runIDPattern keeps load-<run id>-<n> a valid profile id (1-128 of
// [A-Za-z0-9._:@+-]) whatever -profiles is.
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:@+-]{1,64}$`)

// LoadSummary is what ticketctl load prints at the end (-json: as is).
type LoadSummary struct {
	RunID        string           `json:"run_id"`
	Duration     float64          `json:"duration_seconds"`
	Attempted    int64            `json:"attempted"`
	Acked        int64            `json:"acked"`
	Failed       int64            `json:"failed"`
	FailedByCode map[string]int64 `json:"failed_by_code"`
	Throughput   float64          `json:"acked_per_second"`
	LatencyMS    struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	StartPosition uint64   `json:"start_position"`
	EventsInLog   int      `json:"events_in_log"`
	Lost          int      `json:"lost"`
	Unconfirmed   int      `json:"unconfirmed"`
	Duplicated    int      `json:"duplicated"`
	Unexpected    int      `json:"unexpected"`
	ViewsMismatch int      `json:"views_mismatched"`
	FirstProblems []string `json:"first_problems,omitempty"`
}

type mixEntry struct {
	name   string
	weight int
}

func parseMix(s string) ([]mixEntry, int, error) {
	var mix []mixEntry
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 {
			return nil, 0, fmt.Errorf("want name=weight, got %q", part)
		}
		name = apiName(name)
		if !slices.Contains(loadCommands, name) {
			return nil, 0, fmt.Errorf("unknown command %q (known: %s)", name, strings.Join(loadCommands, ", "))
		}
		mix = append(mix, mixEntry{name, n})
		total += n
	}
	if total == 0 {
		return nil, 0, errors.New("the weights add up to 0")
	}
	return mix, total, nil
}

func runLoad(r *runner, args []string) error {
	fs := r.newFlags("[-nats-url U] [-nats-user U -nats-password P] [-producers N] [-duration D] [-profiles N] [-run-id ID] [-mix name=w,...] [-confirm-for D]")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "the engine's NATS URL, or a comma-separated list of a cluster's servers, where commands are sent")
	natsUser := fs.String("nats-user", r.getenv("TICKETCTL_NATS_USER"), "NATS user, for every server of -nats-url, on a cluster whose producers have users of their own (env TICKETCTL_NATS_USER); by default the API token is the NATS login")
	natsPassword := fs.String("nats-password", "", "NATS password of -nats-user (env TICKETCTL_NATS_PASSWORD, which keeps it out of the process list)")
	producers := fs.Int("producers", 16, "concurrent producers")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	profiles := fs.Int("profiles", 100, "distinct customer profiles")
	runID := fs.String("run-id", "", "profiles are load-<run-id>-<n>; random by default, so that a run never meets the tickets an earlier run closed or blocked; give an earlier run's id to reuse its profiles")
	mixFlag := fs.String("mix", defaultMix, "command mix as name=weight pairs")
	confirmFor := fs.Duration("confirm-for", 30*time.Second, "how long the bookkeeping keeps resending acknowledged commands whose resend got no answer before counting them unconfirmed")
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if *natsPassword == "" {
		*natsPassword = r.getenv("TICKETCTL_NATS_PASSWORD") // never the flag's default, which -h prints
	}
	if *producers < 1 || *profiles < 1 || *duration <= 0 || *confirmFor <= 0 {
		return usagef(r.name, "-producers, -profiles, -duration and -confirm-for must be positive")
	}
	if *runID == "" {
		*runID = newUUID()[:8]
	} else if !runIDPattern.MatchString(*runID) {
		return usagef(r.name, "-run-id must be 1-64 characters of [A-Za-z0-9._:@+-], got %q", *runID)
	}
	if *natsPassword != "" && *natsUser == "" {
		return usagef(r.name, "-nats-password needs -nats-user")
	}
	mix, total, err := parseMix(*mixFlag)
	if err != nil {
		return usagef(r.name, "-mix: %v", err)
	}
	if r.client.token == "" {
		return usagef("", "no API token: give -token or set TICKETCTL_TOKEN")
	}
	var me struct {
		ID          string `json:"id"`
		InboxPrefix string `json:"nats_inbox_prefix"`
	}
	if _, err := r.call("GET", "/v1/me", nil, nil, &me); err != nil {
		return err
	}
	var first logPage
	if _, err := r.call("GET", "/v1/log", url.Values{"limit": {"1"}}, nil, &first); err != nil {
		return err
	}
	startPos := first.LastPosition
	// A cluster node going down must not end the run: the connection
	// moves to another server of the list, as often as it takes.
	opts := []nats.Option{nats.Name("ticketctl load"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	// Either option applies to every server of the list, including those
	// a cluster announces after the connection. The API token is the NATS
	// login unless the cluster gives producers users of their own.
	if *natsUser != "" {
		opts = append(opts, nats.UserInfo(*natsUser, *natsPassword))
	} else {
		opts = append(opts, nats.Token(r.client.token))
	}
	// The engine answers only under the prefix of the token's user.
	if me.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(me.InboxPrefix))
	}
	nc, err := nats.Connect(*natsURL, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redactURLs(*natsURL), err)
	}
	defer nc.Close()

	lg := newLoadGen(r, nc, *runID, mix, total, *profiles, me.ID)
	// The check resends at the run's own concurrency, which the engine
	// has just shown it takes.
	lg.confirmFor, lg.resenders = *confirmFor, *producers
	ctx, cancel := context.WithTimeout(r.ctx, *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range *producers {
		wg.Go(func() { lg.produce(ctx, p) })
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				acked := lg.acked.Load()
				fmt.Fprintf(r.stderr, "\r%5.1fs  acked %d  failed %d  %.0f cmds/s   ", el, acked, lg.failed.Load(), float64(lg.attempted.Load())/el)
			}
		}
	}()
	wg.Wait()
	cancel()
	<-progressDone
	elapsed := time.Since(start)
	fmt.Fprintln(r.stderr)
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}

	s := LoadSummary{RunID: *runID, Duration: elapsed.Seconds(), Attempted: lg.attempted.Load(), Acked: lg.acked.Load(),
		Failed: lg.failed.Load(), FailedByCode: lg.failedBy, StartPosition: startPos}
	s.Throughput = float64(s.Acked) / elapsed.Seconds()
	lat := make([]time.Duration, 0, len(lg.acks))
	for _, a := range lg.acks {
		lat = append(lat, a.latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	s.LatencyMS.P50, s.LatencyMS.P95, s.LatencyMS.P99, s.LatencyMS.Max = pct(0.50), pct(0.95), pct(0.99), pct(1)

	unconfirmed, err := lg.check(&s)
	if err != nil {
		return err
	}
	if r.json {
		b, _ := json.MarshalIndent(s, "", "  ")
		r.printRaw(b)
	} else {
		printLoadSummary(r, s)
	}
	return loadVerdict(s, unconfirmed, *confirmFor)
}

// loadVerdict is the run's exit status. Unconfirmed commands fail the run
// too, but are named apart: they are not known to be lost, only not
// confirmed, as when the cluster is still degraded.
func loadVerdict(s LoadSummary, unconfirmed []string, confirmFor time.Duration) error {
	if s.Lost+s.Unconfirmed+s.Duplicated+s.Unexpected+s.ViewsMismatch == 0 {
		return nil
	}
	msg := fmt.Sprintf("load: lost %d, unconfirmed %d, duplicated %d, unexpected %d, views mismatched %d",
		s.Lost, s.Unconfirmed, s.Duplicated, s.Unexpected, s.ViewsMismatch)
	if len(unconfirmed) > 0 {
		shown := unconfirmed[:min(3, len(unconfirmed))]
		more := ""
		if len(unconfirmed) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(unconfirmed)-len(shown))
		}
		msg += fmt.Sprintf("; unconfirmed: acknowledged, but no resend was answered within %s (%s%s)",
			confirmFor, strings.Join(shown, ", "), more)
	}
	return errors.New(msg)
}

// redactURLs hides the passwords of a -nats-url list in messages.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

func printLoadSummary(r *runner, s LoadSummary) {
	w := r.stdout
	fmt.Fprintf(w, "run id       %s (profiles load-%s-<n>)\n", s.RunID, s.RunID)
	fmt.Fprintf(w, "duration     %.1fs\n", s.Duration)
	fmt.Fprintf(w, "attempted    %d\nacked        %d (%.1f/s)\nfailed       %d\n", s.Attempted, s.Acked, s.Throughput, s.Failed)
	codes := make([]string, 0, len(s.FailedByCode))
	for c := range s.FailedByCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  %-18s %d\n", c, s.FailedByCode[c])
	}
	fmt.Fprintf(w, "latency ms   p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n", s.LatencyMS.P50, s.LatencyMS.P95, s.LatencyMS.P99, s.LatencyMS.Max)
	fmt.Fprintf(w, "log          %d events after position %d\n", s.EventsInLog, s.StartPosition)
	fmt.Fprintf(w, "lost         %d\nunconfirmed  %d\nduplicated   %d\nunexpected   %d\nviews mismatched %d\n",
		s.Lost, s.Unconfirmed, s.Duplicated, s.Unexpected, s.ViewsMismatch)
	for _, p := range s.FirstProblems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}
