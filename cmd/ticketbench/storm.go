package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// warmProfiles is how many profiles the warm mix writes to.
const warmProfiles = 256

// ticketCommands are the mixed storm's commands on tickets, drawn evenly.
var ticketCommands = []string{"reply", "mark_read", "mark_unread", "snooze", "close", "assign"}

// StormFigures are the figures of a storm run.
type StormFigures struct {
	Mix                 string      `json:"mix"`
	Load                LoadFigures `json:"load"`
	BaselineBefore      Baseline    `json:"baseline_before"`
	BaselineAfter       Baseline    `json:"baseline_after"`
	Ratio               float64     `json:"ratio"`
	ViewsCatchUpSeconds float64     `json:"views_catch_up_seconds"`
}

// storm runs closed-loop producers for -duration with -mix.
func (r *run) storm(ctx context.Context) (StormFigures, error) {
	cfg := r.m.Config
	name := "storm-" + cfg.Mix
	s, err := r.startSession(ctx, name)
	if err != nil {
		return StormFigures{}, err
	}
	defer s.close()
	f := StormFigures{Mix: cfg.Mix}
	var me struct {
		ID string `json:"id"`
	}
	if err := s.getJSON(ctx, "/v1/me", &me); err != nil {
		return f, err
	}
	r.logf("%s: raw JetStream baseline for %s", name, cfg.Baseline)
	if f.BaselineBefore, err = s.baseline(ctx, "baseline-before"); err != nil {
		return f, err
	}
	ps := make([]*stormProducer, cfg.Producers)
	var next atomic.Int64
	for p := range ps {
		ps[p] = &stormProducer{s: s, mix: cfg.Mix, owner: me.ID, next: &next,
			rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(p))), warm: warmSet(p, cfg.Producers)}
	}
	if cfg.Mix == "warm" {
		r.logf("%s: first contact of the %d warm profiles", name, warmProfiles)
		if err := warmUp(ps); err != nil {
			return f, err
		}
	}
	r.logf("%s: %.0f msgs/s; %s of the %s mix at %d producers", name, f.BaselineBefore.MsgsPerSec, cfg.Duration, cfg.Mix, cfg.Producers)
	var acked atomic.Int64
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	watch := sampleProc(s.d.pid())
	stopProgress := s.progress(name, start, &acked, 0)
	var wg sync.WaitGroup
	recs := make([]*recorder, len(ps))
	for i, p := range ps {
		recs[i] = newRecorder(start)
		p.rec = recs[i]
		wg.Go(func() {
			// Each producer sends its next command once the last one is
			// answered, until the deadline; the last one is waited for.
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if p.step() == "" {
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	watched := watch.finish()
	if err := ctx.Err(); err != nil {
		return f, err
	}
	f.Load = summarize(recs, cfg.Producers, elapsed, false)
	f.Load.ProcFigures = watched
	r.logf("%s: %d acknowledged, %.0f/s; waiting for the views", name, f.Load.Acked, f.Load.AckedPerSec)
	catchUp, err := s.waitReady(ctx)
	if err != nil {
		return f, err
	}
	f.ViewsCatchUpSeconds = catchUp.Seconds()
	if f.BaselineAfter, err = s.baseline(ctx, "baseline-after"); err != nil {
		return f, err
	}
	f.Ratio = ratio(f.Load.AckedPerSec, f.BaselineBefore, f.BaselineAfter)
	return f, nil
}

// stormProducer is one closed-loop producer of a storm.
type stormProducer struct {
	s     *session
	rec   *recorder
	mix   string
	owner string        // the assignee of assign
	next  *atomic.Int64 // the next new profile's number, shared
	rng   *rand.Rand
	warm  []int // the warm profiles this producer writes to
	sent  int
	// tickets are the open or snoozed tickets this producer created: only
	// its own, so that none is closed under it by another producer.
	tickets []string
}

// step sends one command of the mix and returns its error code.
func (p *stormProducer) step() string {
	p.sent++
	switch {
	case p.mix == "warm":
		_, code := p.rec.send(p.s.cmds, "inbound", map[string]any{
			"profile_id": p.warmProfile(p.warm[p.sent%len(p.warm)]), "body": inboundBody(p.sent)})
		return code
	case p.mix == "first" || len(p.tickets) == 0 || p.rng.IntN(2) == 0:
		i := int(p.next.Add(1) - 1)
		rep, code := p.rec.send(p.s.cmds, "inbound", map[string]any{
			"profile_id": fmt.Sprintf("bench-%s-%d", p.s.r.runID, i), "body": inboundBody(i)})
		if code == "" && p.mix == "mixed" {
			p.tickets = append(p.tickets, rep.TicketID)
		}
		return code
	}
	k := p.rng.IntN(len(p.tickets))
	name := ticketCommands[p.rng.IntN(len(ticketCommands))]
	body := map[string]any{"ticket_id": p.tickets[k]}
	switch name {
	case "reply":
		body["body"] = "Thanks! An agent will call you back this afternoon."
	case "snooze":
		body["duration"] = "1h"
	case "assign":
		body["assignee_id"] = p.owner
	}
	_, code := p.rec.send(p.s.cmds, name, body)
	if code == "" && name == "close" {
		p.tickets[k] = p.tickets[len(p.tickets)-1]
		p.tickets = p.tickets[:len(p.tickets)-1]
	}
	return code
}

func (p *stormProducer) warmProfile(k int) string {
	return fmt.Sprintf("bench-%s-warm-%d", p.s.r.runID, k)
}

// warmSet gives producer p of n the warm profiles k with k%n == p, so that
// no two producers write to one profile while there are enough profiles.
func warmSet(p, n int) []int {
	var set []int
	for k := p; k < warmProfiles; k += n {
		set = append(set, k)
	}
	if len(set) == 0 {
		set = []int{p % warmProfiles}
	}
	return set
}

// warmUp sends the first contact of every warm profile before the clock
// starts: the warm mix measures messages on existing conversations.
func warmUp(ps []*stormProducer) error {
	var wg sync.WaitGroup
	errs := make([]string, len(ps))
	for i, p := range ps[:min(len(ps), warmProfiles)] {
		wg.Go(func() {
			for _, k := range p.warm {
				if _, code := p.s.cmds.send("inbound", map[string]any{"profile_id": p.warmProfile(k), "body": inboundBody(k)}); code != "" {
					errs[i] = code
					return
				}
			}
		})
	}
	wg.Wait()
	for _, code := range errs {
		if code != "" {
			return fmt.Errorf("warm-up inbound failed: %s", code)
		}
	}
	return nil
}

// getJSON reads an API route as the bootstrap owner.
func (s *session) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.d.httpAddr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.d.token)
	res, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(out)
}
