package main

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

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
		if err := lg.readPage(q, &p); err != nil {
			return after, err
		}
		for _, e := range p.Events {
			s.EventsInLog++
			after = e.Position
			lg.byPos[e.Position] = logEventKey{e.Type, e.Aggregate.Kind + ":" + e.Aggregate.ID, e.TicketID}
			byCmd[e.CommandID] = append(byCmd[e.CommandID], logEventKey{e.Type, e.Aggregate.Kind + ":" + e.Aggregate.ID, e.TicketID})
			// Only this run's profiles are its business: other traffic
			// may share the log (a live inbox, a test beside the load).
			if e.Actor.System != "" || e.Type == "UserCreated" || lg.attemptedIDs[e.CommandID] || !lg.ownsAggregate(e.Aggregate.Kind, e.Aggregate.ID) {
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

// check does the bookkeeping: lost, unconfirmed, duplicated, unexpected,
// views. It returns the unconfirmed commands, as "name command_id".
func (lg *loadGen) check(s *LoadSummary) ([]string, error) {
	problem := func(counter *int, msg string) {
		*counter++
		if len(s.FirstProblems) < 20 {
			s.FirstProblems = append(s.FirstProblems, msg)
		}
	}
	byCmd := map[string][]logEventKey{}
	_, err := lg.readLog(s.StartPosition, byCmd, s, func(m string) { problem(&s.Unexpected, m) })
	if err != nil {
		return nil, fmt.Errorf("reading the log back: %w", err)
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
	// An acknowledged command that wrote nothing changed nothing, and its
	// reply's position is then the ticket's last event at the time: that
	// event must be in the log and belong to the same ticket, or the write
	// it acknowledged is lost. (Resending such a command would not tell:
	// the state may have moved since, and the resend would act.) Those
	// that wrote events are resent.
	var resend []loadAck
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
		resend = append(resend, a)
	}
	unconfirmed := lg.confirm(resend, s, problem)
	var v struct {
		Differences []string `json:"differences"`
	}
	if _, err := lg.r.call("POST", "/v1/views/verify", nil, nil, &v); err != nil {
		return nil, fmt.Errorf("views verify: %w", err)
	}
	for _, d := range v.Differences {
		problem(&s.ViewsMismatch, "views: "+d)
	}
	return unconfirmed, nil
}

// unanswered tells the resend results that say nothing of the command:
// the engine could not reach the log (unavailable), kept losing races
// (conflict), or no answer came at all. A degraded cluster gives these.
func unanswered(code string) bool {
	switch code {
	case "unavailable", "conflict", "timeout", "transport":
		return true
	}
	return false
}

// confirm resends each command with its command_id: it must get its first
// answer back (R9), or what it acknowledged is lost. Resends left
// unanswered are tried again with backoff for up to lg.confirmFor after
// the first round, then counted unconfirmed, never lost. It returns the
// unconfirmed commands.
func (lg *loadGen) confirm(acks []loadAck, s *LoadSummary, problem func(*int, string)) []string {
	todo := make([]resendResult, len(acks))
	for i, a := range acks {
		todo[i] = resendResult{a: a}
	}
	var deadline time.Time
	backoff := 100 * time.Millisecond
	for round := 0; len(todo) > 0; round++ {
		if round > 0 {
			if deadline.IsZero() {
				deadline = time.Now().Add(lg.confirmFor)
			}
			wait := min(backoff, time.Until(deadline))
			if wait <= 0 || lg.r.ctx.Err() != nil {
				break
			}
			select {
			case <-lg.r.ctx.Done():
			case <-time.After(wait):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
		lg.resendAll(todo, deadline)
		var again []resendResult
		for _, p := range todo {
			switch {
			case unanswered(p.code):
				again = append(again, p)
			case p.code != "" || p.rep != p.a.reply:
				problem(&s.Lost, fmt.Sprintf("%s %s: resend answered %+v (%s), first answer %+v", p.a.name, p.a.id, p.rep, p.code, p.a.reply))
			}
		}
		todo = again
	}
	var names []string
	for _, p := range todo {
		problem(&s.Unconfirmed, fmt.Sprintf("%s %s: acknowledged at %d, no resend answered within %s (last: %s)",
			p.a.name, p.a.id, p.a.reply.Position, lg.confirmFor, p.code))
		names = append(names, p.a.name+" "+p.a.id)
	}
	return names
}

// resendResult is one command and what its last resend got.
type resendResult struct {
	a    loadAck
	rep  loadReply
	code string
}

// resendAll resends every command of todo once, as many at a time as the
// run had producers, and records each answer in place. A command not sent
// (deadline passed, interrupted) keeps its last answer, "not resent" for
// none.
func (lg *loadGen) resendAll(todo []resendResult, deadline time.Time) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(lg.resenders, len(todo)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(todo) {
					return
				}
				p := &todo[i]
				timeout := lg.timeout
				if !deadline.IsZero() {
					timeout = min(timeout, time.Until(deadline))
				}
				if timeout <= 0 || lg.r.ctx.Err() != nil {
					if p.code == "" {
						p.code = "not resent"
					}
					continue
				}
				p.rep, p.code = lg.send(lg.r.ctx, p.a.name, p.a.body, timeout)
			}
		})
	}
	wg.Wait()
}

// minPageAttempts is how many times a page of the log is asked for at
// least before the read back gives up.
const minPageAttempts = 3

// readPage reads one page of the log. A cluster that is electing a leader
// or catching a replica up may answer unavailable for a while, as with
// resends: the page is asked again until -confirm-for runs out, and at
// least minPageAttempts times, since one answer can itself take as long
// as -confirm-for (a read cut by a node's loss waits out its timeout).
func (lg *loadGen) readPage(q url.Values, p *logPage) error {
	deadline := time.Now().Add(lg.confirmFor)
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := lg.r.call("GET", "/v1/log", q, nil, p)
		var apiErr *APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.Code != "unavailable" ||
			attempt >= minPageAttempts && time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-lg.r.ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
