package eventstore

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
	now := e.cfg.Now().UnixNano()
	type due struct {
		ticket string
		until  int64
	}
	var dues []due
	e.st.mu.Lock()
	for id, s := range e.st.snoozes {
		if s.until <= now {
			dues = append(dues, due{id, s.until})
		}
	}
	e.st.mu.Unlock()
	sort.Slice(dues, func(i, j int) bool { return dues[i].until < dues[j].until })
	woke := 0
	for _, d := range dues {
		if ctx.Err() != nil {
			return woke, ctx.Err()
		}
		res, err := e.onTicket(ctx, wakeCommand{}, domain.SystemTimer, d.ticket, func(p *domain.Profile, c domain.Context) (domain.Decision, error) {
			return domain.DecideWake(p, d.ticket, c)
		})
		if err != nil {
			return woke, err
		}
		if res.Outcome == domain.OutcomeDone && e.wokeBy(d.ticket) {
			woke++
			e.cfg.Metrics.wakeupFired()
		}
	}
	return woke, nil
}

// wokeBy reports whether the ticket is no longer snoozed.
func (e *Engine) wokeBy(ticketID string) bool {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	_, pending := e.st.snoozes[ticketID]
	return !pending
}

// wakeCommand names the timer's internal command for execute's metrics.
type wakeCommand struct{ domain.Meta }

func (wakeCommand) Name() string                  { return "wake" }
func (wakeCommand) Permission() domain.Permission { return domain.PermTicketCommands }
func (wakeCommand) Validate() error               { return nil }
