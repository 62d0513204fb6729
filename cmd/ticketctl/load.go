package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// defaultMix is the command mix of ticketctl load, in percent-like weights.
const defaultMix = "inbound=60,reply=10,snooze=5,mark_unread=10,close=10,assign=4,block=1"

// loadCommands are the commands the load generator knows how to fill in.
var loadCommands = []string{"inbound", "reply", "snooze", "unsnooze", "mark_unread", "mark_read", "close", "assign", "block", "unblock"}

// loadReply is a command's reply over NATS.
type loadReply struct {
	OK        bool   `json:"ok"`
	TicketID  string `json:"ticket_id,omitempty"`
	ProfileID string `json:"profile_id,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	Position  uint64 `json:"position,omitempty"`
	Error     *struct {
		Code string `json:"code"`
	} `json:"error,omitempty"`
}

// loadAck is one acknowledged command, kept for the bookkeeping.
type loadAck struct {
	name    string
	id      string
	body    []byte
	reply   loadReply
	latency time.Duration
}

// LoadSummary is what ticketctl load prints at the end (-json: as is).
type LoadSummary struct {
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
	fs := r.newFlags("[-nats-url U] [-producers N] [-duration D] [-profiles N] [-mix name=w,...]")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "the engine's NATS URL, where commands are sent")
	producers := fs.Int("producers", 16, "concurrent producers")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	profiles := fs.Int("profiles", 100, "distinct customer profiles")
	mixFlag := fs.String("mix", defaultMix, "command mix as name=weight pairs")
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if *producers < 1 || *profiles < 1 || *duration <= 0 {
		return usagef(r.name, "-producers, -profiles and -duration must be positive")
	}
	mix, total, err := parseMix(*mixFlag)
	if err != nil {
		return usagef(r.name, "-mix: %v", err)
	}
	if r.client.token == "" {
		return usagef("", "no API token: give -token or set TICKETCTL_TOKEN")
	}
	var me struct {
		ID string `json:"id"`
	}
	if _, err := r.call("GET", "/v1/me", nil, nil, &me); err != nil {
		return err
	}
	var first logPage
	if _, err := r.call("GET", "/v1/log", url.Values{"limit": {"1"}}, nil, &first); err != nil {
		return err
	}
	startPos := first.LastPosition
	nc, err := nats.Connect(*natsURL, nats.Name("ticketctl load"))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *natsURL, err)
	}
	defer nc.Close()

	lg := &loadGen{r: r, nc: nc, mix: mix, total: total, profiles: *profiles, userID: me.ID,
		attemptedIDs: map[string]bool{}, failedBy: map[string]int64{}, byPos: map[uint64]logEventKey{}}
	ctx, cancel := context.WithTimeout(r.ctx, *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range *producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lg.produce(ctx, p)
		}()
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

	s := LoadSummary{Duration: elapsed.Seconds(), Attempted: lg.attempted.Load(), Acked: lg.acked.Load(),
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

	if err := lg.check(&s); err != nil {
		return err
	}
	if r.json {
		b, _ := json.MarshalIndent(s, "", "  ")
		r.printRaw(b)
	} else {
		printLoadSummary(r, s)
	}
	if s.Lost+s.Duplicated+s.Unexpected+s.ViewsMismatch > 0 {
		return fmt.Errorf("load: lost %d, duplicated %d, unexpected %d, views mismatched %d",
			s.Lost, s.Duplicated, s.Unexpected, s.ViewsMismatch)
	}
	return nil
}

func printLoadSummary(r *runner, s LoadSummary) {
	w := r.stdout
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
	fmt.Fprintf(w, "lost         %d\nduplicated   %d\nunexpected   %d\nviews mismatched %d\n", s.Lost, s.Duplicated, s.Unexpected, s.ViewsMismatch)
	for _, p := range s.FirstProblems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// loadGen is the shared state of one load run.
type loadGen struct {
	r        *runner
	nc       *nats.Conn
	mix      []mixEntry
	total    int
	profiles int
	userID   string

	attempted, acked, failed atomic.Int64

	mu           sync.Mutex
	attemptedIDs map[string]bool
	failedBy     map[string]int64
	acks         []loadAck
	byPos        map[uint64]logEventKey // the events read back, by position
}

func (lg *loadGen) pick(rng *rand.Rand) string {
	n := rng.IntN(lg.total)
	for _, m := range lg.mix {
		if n < m.weight {
			return m.name
		}
		n -= m.weight
	}
	return lg.mix[len(lg.mix)-1].name
}

// produce sends commands until ctx ends.
func (lg *loadGen) produce(ctx context.Context, p int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(p)))
	var tickets []string
	for i := 0; ctx.Err() == nil; i++ {
		name := lg.pick(rng)
		body := map[string]any{}
		profile := fmt.Sprintf("load-%d", rng.IntN(lg.profiles))
		switch name {
		case "inbound":
			body["profile_id"] = profile
			body["body"] = fmt.Sprintf("load message %d/%d", p, i)
		case "block", "unblock":
			body["profile_id"] = profile
		default:
			if len(tickets) == 0 {
				name = "inbound"
				body["profile_id"] = profile
				body["body"] = fmt.Sprintf("load message %d/%d", p, i)
				break
			}
			body["ticket_id"] = tickets[rng.IntN(len(tickets))]
			switch name {
			case "reply":
				body["body"] = fmt.Sprintf("load reply %d/%d", p, i)
			case "snooze":
				body["duration"] = "1h"
			case "assign":
				body["assignee_id"] = lg.userID
			}
		}
		id := newUUID()
		body["command_id"] = id
		raw, _ := json.Marshal(body)
		lg.mu.Lock()
		lg.attemptedIDs[id] = true
		lg.mu.Unlock()
		lg.attempted.Add(1)
		t0 := time.Now()
		rep, code := lg.send(ctx, name, raw)
		lat := time.Since(t0)
		if code != "" {
			if ctx.Err() != nil && (code == "timeout" || code == "transport") {
				// Cut off by the end of the run, not by the engine.
				code = "cut_off"
			}
			lg.failed.Add(1)
			lg.mu.Lock()
			lg.failedBy[code]++
			lg.mu.Unlock()
			continue
		}
		lg.acked.Add(1)
		if name == "inbound" && rep.TicketID != "" && !slices.Contains(tickets, rep.TicketID) {
			tickets = append(tickets, rep.TicketID)
		}
		lg.mu.Lock()
		lg.acks = append(lg.acks, loadAck{name: name, id: id, body: raw, reply: rep, latency: lat})
		lg.mu.Unlock()
	}
}

// send makes one NATS request and returns the reply, or an error code.
func (lg *loadGen) send(ctx context.Context, name string, body []byte) (loadReply, string) {
	msg := nats.NewMsg("tickets.cmd." + name)
	msg.Data = body
	msg.Header.Set("Authorization", "Bearer "+lg.r.client.token)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	res, err := lg.nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return loadReply{}, "timeout"
		}
		return loadReply{}, "transport"
	}
	var rep loadReply
	if err := json.Unmarshal(res.Data, &rep); err != nil {
		return loadReply{}, "bad_reply"
	}
	if !rep.OK {
		if rep.Error != nil && rep.Error.Code != "" {
			return rep, rep.Error.Code
		}
		return rep, "unknown"
	}
	return rep, ""
}

// logPage is one page of GET /v1/log.
type logPage struct {
	Events []struct {
		Position  uint64 `json:"position"`
		Type      string `json:"type"`
		CommandID string `json:"command_id"`
		Actor     struct {
			System string `json:"system"`
		} `json:"actor"`
		Aggregate struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		} `json:"aggregate"`
		TicketID string `json:"ticket_id"`
	} `json:"events"`
	LastPosition uint64 `json:"last_position"`
	NextAfter    uint64 `json:"next_after"`
}

type logEventKey struct{ typ, agg, ticket string }

// readLog reads the log after position after, up to its end, into byCmd
// (event keys by command_id), calling other for each event of no command
// this run attempted. It returns the last position read.
func (lg *loadGen) readLog(after uint64, byCmd map[string][]logEventKey, s *LoadSummary, other func(string)) (uint64, error) {
	for {
		var p logPage
		q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {"10000"}}
		if _, err := lg.r.call("GET", "/v1/log", q, nil, &p); err != nil {
			return after, err
		}
		for _, e := range p.Events {
			s.EventsInLog++
			after = e.Position
			lg.byPos[e.Position] = logEventKey{e.Type, e.Aggregate.Kind + ":" + e.Aggregate.ID, e.TicketID}
			byCmd[e.CommandID] = append(byCmd[e.CommandID], logEventKey{e.Type, e.Aggregate.Kind + ":" + e.Aggregate.ID, e.TicketID})
			if e.Actor.System != "" || e.Type == "UserCreated" || lg.attemptedIDs[e.CommandID] {
				continue
			}
			other(fmt.Sprintf("event %d (%s) of command %q not sent by this run", e.Position, e.Type, e.CommandID))
		}
		// A page can hold no event at all (void positions), so paging goes
		// by next_after rather than by the last event seen.
		after = max(after, p.NextAfter)
		if after >= p.LastPosition || p.NextAfter == 0 && len(p.Events) == 0 {
			return after, nil
		}
	}
}

// check does the bookkeeping: lost, duplicated, unexpected, views.
func (lg *loadGen) check(s *LoadSummary) error {
	problem := func(counter *int, msg string) {
		*counter++
		if len(s.FirstProblems) < 20 {
			s.FirstProblems = append(s.FirstProblems, msg)
		}
	}
	byCmd := map[string][]logEventKey{}
	_, err := lg.readLog(s.StartPosition, byCmd, s, func(m string) { problem(&s.Unexpected, m) })
	if err != nil {
		return fmt.Errorf("reading the log back: %w", err)
	}
	for id, evs := range byCmd {
		seen := map[logEventKey]bool{}
		for _, k := range evs {
			if seen[k] {
				problem(&s.Duplicated, fmt.Sprintf("command %s wrote %s on %s twice", id, k.typ, k.agg))
				break
			}
			seen[k] = true
		}
	}
	// Resend every acknowledged command that wrote events with its
	// command_id: it must get its first result back (R9). One that wrote
	// nothing changed nothing, and its reply's position is then the
	// ticket's last event at the time: that event must be in the log and
	// belong to the same ticket, or the write it acknowledged is lost.
	// (Resending such a command would not tell: the state may have moved
	// since, and the resend would act.)
	for _, a := range lg.acks {
		if a.name == "inbound" && (a.reply.Outcome == "opened" || a.reply.Outcome == "appended" || a.reply.Outcome == "reopened") &&
			!slices.ContainsFunc(byCmd[a.id], func(k logEventKey) bool { return k.typ == "MessageReceived" }) {
			problem(&s.Lost, fmt.Sprintf("inbound %s (%s) has no MessageReceived in the log", a.id, a.reply.Outcome))
			continue
		}
		if len(byCmd[a.id]) == 0 {
			at, ok := lg.byPos[a.reply.Position]
			if a.reply.Position > s.StartPosition && (!ok || (a.reply.TicketID != "" && at.ticket != a.reply.TicketID)) {
				problem(&s.Lost, fmt.Sprintf("%s %s: acknowledged at %d, which holds no event of its ticket and no event of the command", a.name, a.id, a.reply.Position))
			}
			continue
		}
		rep, code := lg.send(lg.r.ctx, a.name, a.body)
		if code != "" || !rep.OK || rep != a.reply {
			problem(&s.Lost, fmt.Sprintf("%s %s: resend answered %+v (%s), first answer %+v", a.name, a.id, rep, code, a.reply))
			continue
		}
	}
	var v struct {
		Differences []string `json:"differences"`
	}
	if _, err := lg.r.call("POST", "/v1/views/verify", nil, nil, &v); err != nil {
		return fmt.Errorf("views verify: %w", err)
	}
	for _, d := range v.Differences {
		problem(&s.ViewsMismatch, "views: "+d)
	}
	return nil
}
