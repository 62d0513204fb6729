package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// ScaleFigures are the figures of one size of a scale run.
type ScaleFigures struct {
	Tickets        int         `json:"tickets"`
	Load           LoadFigures `json:"load"`
	BaselineBefore Baseline    `json:"baseline_before"`
	BaselineAfter  Baseline    `json:"baseline_after"`
	Ratio          float64     `json:"ratio"`
	// ViewsCatchUpSeconds is the time from the last acknowledgement until
	// /readyz answers 200, that is until the views hold the whole log.
	ViewsCatchUpSeconds float64        `json:"views_catch_up_seconds"`
	DataDirBytes        int64          `json:"data_dir_bytes"`
	Queries             []QueryFigures `json:"queries"`
	Cold                ColdFigures    `json:"cold"`
	Restart             RestartFigures `json:"restart"`
	Repeats             RepeatFigures  `json:"repeats"`
}

// RepeatFigures are those of first contacts sent again, with their
// command_id, after the restart: each must get its first answer (R9).
type RepeatFigures struct {
	Sent   int64            `json:"sent"`
	Same   int64            `json:"same"`
	Errors map[string]int64 `json:"errors"`
}

// firstAnswer is a first contact sent with a command_id of its own, and
// what it was answered.
type firstAnswer struct {
	i     int
	id    string
	reply reply
}

// RestartFigures are those of a SIGTERM and a start on the same data.
type RestartFigures struct {
	StopSeconds  float64 `json:"stop_seconds"`
	Killed       bool    `json:"killed"`
	ReadySeconds float64 `json:"ready_seconds"`
	RSSReady     int64   `json:"rss_ready_bytes"`
	IdleSeconds  float64 `json:"idle_seconds"`
	RSSIdle      int64   `json:"rss_idle_bytes"`
}

// scale writes n first contacts into a fresh ticketd, then measures what
// a store of that size costs: queries, commands on cold tickets, a restart.
func (r *run) scale(ctx context.Context, n int) (ScaleFigures, error) {
	cfg := r.m.Config
	name := fmt.Sprintf("scale-%d", n)
	s, err := r.startSession(ctx, name)
	if err != nil {
		return ScaleFigures{}, err
	}
	defer s.close()
	f := ScaleFigures{Tickets: n}
	r.logf("%s: raw JetStream baseline for %s", name, cfg.Baseline)
	if f.BaselineBefore, err = s.baseline(ctx, "baseline-before"); err != nil {
		return f, err
	}
	r.logf("%s: %.0f msgs/s; %d first contacts at %d producers", name, f.BaselineBefore.MsgsPerSec, n, cfg.Producers)
	var oldest []string
	var firsts []firstAnswer
	if f.Load, oldest, firsts, err = s.firstContacts(ctx, name, n); err != nil {
		return f, err
	}
	r.logf("%s: %d acknowledged, %.0f/s; waiting for the views", name, f.Load.Acked, f.Load.AckedPerSec)
	catchUp, err := s.waitReady(ctx)
	if err != nil {
		return f, err
	}
	f.ViewsCatchUpSeconds = catchUp.Seconds()
	f.DataDirBytes = dirSize(s.d.dataDir)
	if f.BaselineAfter, err = s.baseline(ctx, "baseline-after"); err != nil {
		return f, err
	}
	f.Ratio = ratio(f.Load.AckedPerSec, f.BaselineBefore, f.BaselineAfter)
	r.logf("%s: baseline after %.0f msgs/s, ratio %.2f; inbox queries", name, f.BaselineAfter.MsgsPerSec, f.Ratio)
	for _, q := range s.inboxQueries(n, oldest) {
		qf, err := s.query(ctx, q.label, q.q, cfg.Queries)
		if err != nil {
			return f, err
		}
		f.Queries = append(f.Queries, qf)
	}
	r.logf("%s: %d commands on cold tickets", name, cfg.Cold)
	if f.Cold, err = s.cold(ctx, oldest, cfg.Cold); err != nil {
		return f, err
	}
	r.logf("%s: restart", name)
	if f.Restart, err = s.restart(ctx, cfg.IdleWait); err != nil {
		return f, err
	}
	r.logf("%s: %d first contacts again, with their command_id", name, len(firsts))
	f.Repeats = s.repeat(firsts)
	return f, nil
}

// firstContacts sends n inbound commands, each from a profile of its own,
// from closed-loop producers. It returns the load's figures, the tickets
// of the first tenth sent, the oldest, and the answers of the first
// contacts sampled evenly over the run, which carried a command_id.
func (s *session) firstContacts(ctx context.Context, name string, n int) (LoadFigures, []string, []firstAnswer, error) {
	producers := s.r.m.Config.Producers
	oldest := make([]string, n/10)
	stride := max(n/s.r.m.Config.Repeats, 1)
	var firstsMu sync.Mutex
	var firsts []firstAnswer
	recs := make([]*recorder, producers)
	var next, acked atomic.Int64
	start := time.Now()
	watch := sampleProc(s.d.pid())
	stopProgress := s.progress(name, start, &acked, int64(n))
	var wg sync.WaitGroup
	for p := range producers {
		recs[p] = newRecorder(start)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				body := map[string]any{"profile_id": fmt.Sprintf("bench-%s-%d", s.r.runID, i), "body": inboundBody(i)}
				sampled := i%stride == 0
				if sampled {
					body["command_id"] = uuid.NewString()
				}
				rep, code := recs[p].send(s.cmds, "inbound", body)
				if code != "" {
					continue
				}
				acked.Add(1)
				if sampled {
					firstsMu.Lock()
					firsts = append(firsts, firstAnswer{i: i, id: body["command_id"].(string), reply: rep})
					firstsMu.Unlock()
				}
				if i < len(oldest) {
					oldest[i] = rep.TicketID
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	watched := watch.finish()
	if err := ctx.Err(); err != nil {
		return LoadFigures{}, nil, nil, err
	}
	f := summarize(recs, producers, elapsed, true)
	f.ProcFigures = watched
	var pool []string
	for _, id := range oldest {
		if id != "" {
			pool = append(pool, id)
		}
	}
	return f, pool, firsts, nil
}

// repeat sends the sampled first contacts again, same command_id and
// profile, another body: each must be answered as it was the first time,
// not appended again (R9).
func (s *session) repeat(firsts []firstAnswer) RepeatFigures {
	f := RepeatFigures{Errors: map[string]int64{}}
	for _, a := range firsts {
		f.Sent++
		rep, code := s.cmds.send("inbound", map[string]any{"command_id": a.id,
			"profile_id": fmt.Sprintf("bench-%s-%d", s.r.runID, a.i), "body": "sent again"})
		switch {
		case code != "":
			f.Errors[code]++
		case rep != a.reply:
			f.Errors["different_answer"]++
		default:
			f.Same++
		}
	}
	return f
}

// inboxQuery is one query of the inbox list that a scale run measures:
// its label, and the query string of its i-th request.
type inboxQuery struct {
	label string
	q     func(i int) string
}

// inboxQueries are the list as agents open it, a long page, and searches
// for what agents look up: a customer's profile id, a ticket id's start
// from the oldest tenth, words of one message, and a word every ticket
// has (the newest 50 of a million).
func (s *session) inboxQueries(n int, oldest []string) []inboxQuery {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	fixed := func(q string) func(int) string { return func(int) string { return q } }
	search := func(q string) string { return "?q=" + url.QueryEscape(q) }
	qs := []inboxQuery{
		{"", fixed("")},
		{"?limit=500", fixed("?limit=500")},
		{"?q=<profile id>", func(int) string { return search(fmt.Sprintf("bench-%s-%d", s.r.runID, r.IntN(n))) }},
		{"?q=customer <number>", func(int) string { return search(fmt.Sprintf("customer %d", r.IntN(n))) }},
		{"?q=interested", fixed(search("interested"))},
	}
	if len(oldest) > 0 {
		qs = append(qs, inboxQuery{"?q=<ticket id start>", func(int) string { return search(oldest[r.IntN(len(oldest))][:8]) }})
	}
	return qs
}

// inboundBody is a campaign reply of about a hundred bytes.
func inboundBody(i int) string {
	return fmt.Sprintf("Yes please, I'm interested in the offer. Can someone call me back this afternoon? (customer %d)", i)
}

// restart stops ticketd with SIGTERM and starts it again on the same data
// and ports; the idle RSS is read idle after ready.
func (s *session) restart(ctx context.Context, idle time.Duration) (RestartFigures, error) {
	var f RestartFigures
	stop, killed, err := s.d.stop()
	if err != nil {
		return f, err
	}
	f.StopSeconds, f.Killed = stop.Seconds(), killed
	ready, err := s.d.start(ctx)
	if err != nil {
		return f, fmt.Errorf("restart: %w", err)
	}
	f.ReadySeconds = ready.Seconds()
	if f.RSSReady, err = readRSS(s.d.pid()); err != nil {
		return f, err
	}
	// Idle means nothing is sent: this wait is the measurement itself.
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(idle):
	}
	f.IdleSeconds = idle.Seconds()
	if f.RSSIdle, err = readRSS(s.d.pid()); err != nil {
		return f, err
	}
	return f, nil
}

// progress logs the load's progress every ten seconds until stopped.
func (s *session) progress(name string, start time.Time, acked *atomic.Int64, total int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				a := acked.Load()
				rss, _ := readRSS(s.d.pid())
				of := ""
				if total > 0 {
					of = fmt.Sprintf("/%d", total)
				}
				s.r.logf("%s: %4.0fs  acked %d%s  %.0f/s  RSS %s", name, time.Since(start).Seconds(), a, of,
					float64(a)/time.Since(start).Seconds(), mib(rss))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
