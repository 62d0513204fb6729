package engine

import (
	"context"
	"sort"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// Snooze wake-ups need no timer store of their own: the pending snoozes
// are part of the state rebuilt from the log, so a snooze that fell due
// while every engine was down is found and fired at the next start, however
// long the outage. Several instances may try the same wake-up; the
// per-profile sequence check lets one append it and the others then find
// the ticket awake, so it is written once.

func (e *Engine) schedule(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.WakeInterval)
	defer t.Stop()
	for {
		if _, err := e.Wake(ctx); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("snooze wake-ups failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Wake fires every snooze due at the engine clock's current reading and
// returns how many tickets it woke. The test clock calls it after moving.
func (e *Engine) Wake(ctx context.Context) (int, error) {
	dues, err := e.dueSnoozes(ctx, e.cfg.Now().UnixNano())
	if err != nil {
		return 0, err
	}
	woke := 0
	for _, d := range dues {
		if ctx.Err() != nil {
			return woke, ctx.Err()
		}
		res, err := e.run(ctx, domain.SystemTimer, wakeSpec, domain.Wake{TicketCommand: domain.TicketCommand{TicketID: d.ticketID}})
		if err != nil {
			return woke, err
		}
		if res.Outcome == domain.OutcomeDone && e.wokeBy(d.ticketID) {
			woke++
			e.cfg.Metrics.wakeupFired()
		}
	}
	return woke, nil
}

// dueSnoozeBatch bounds the snoozes one round of the scheduler fires; the
// next round takes the rest.
const dueSnoozeBatch = 1000

// dueSnoozes returns the snoozes due at now, oldest first: the index's,
// with what the engine knows beyond it.
func (e *Engine) dueSnoozes(ctx context.Context, now int64) ([]dueSnooze, error) {
	fromIndex, err := e.ix.dueSnoozes(ctx, now, dueSnoozeBatch)
	if err != nil {
		return nil, err
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	var dues []dueSnooze
	for _, d := range fromIndex {
		if _, changed := e.st.pend.snoozes[d.ticketID]; !changed {
			dues = append(dues, d)
		}
	}
	for _, s := range e.st.pend.snoozes {
		if !s.ended && s.due.until <= now {
			dues = append(dues, s.due)
		}
	}
	sort.Slice(dues, func(i, j int) bool { return dues[i].until < dues[j].until })
	return dues, nil
}

// wokeBy reports whether the ticket is no longer snoozed.
func (e *Engine) wokeBy(ticketID string) bool {
	ref, err := e.ticketRef(context.Background(), ticketID)
	if err != nil {
		return false
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	a, ok := e.st.profiles.Peek(ref.profileID)
	if !ok {
		return true
	}
	t, ok := a.p.Tickets[ticketID]
	return ok && t.Status != domain.StatusSnoozed
}

var wakeSpec, _ = domain.Spec(domain.CmdWake)
