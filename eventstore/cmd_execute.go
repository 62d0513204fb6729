package eventstore

import (
	"context"
	"fmt"

	"github.com/ticketbus/ticketbus/domain"
)

// Execute runs a decoded command for an authenticated user. The user's
// role is checked here, before anything is read or written (R10).
func (e *Engine) Execute(ctx context.Context, user domain.User, cmd domain.Command) (Result, error) {
	if err := user.Role.Authorize(cmd.Permission(), "send "+cmd.Name()); err != nil {
		e.cfg.Metrics.observeCommand(cmd.Name(), Result{}, err, 0)
		return Result{}, err
	}
	actor := domain.Actor{UserID: user.ID, Role: user.Role}
	switch c := cmd.(type) {
	case domain.Inbound:
		return e.inbound(ctx, actor, c)
	case domain.Reply:
		return onTicketCmd(ctx, e, actor, c, c.TicketID, domain.DecideReply)
	case domain.Assign:
		return e.assign(ctx, actor, c)
	case domain.Snooze:
		return onTicketCmd(ctx, e, actor, c, c.TicketID, domain.DecideSnooze)
	case domain.Unsnooze:
		return onTicketCmd(ctx, e, actor, c, c.TicketID, domain.DecideUnsnooze)
	case domain.MarkUnread:
		return onTicketCmd(ctx, e, actor, c, c.TicketID, domain.DecideMarkUnread)
	case domain.MarkRead:
		return onTicketCmd(ctx, e, actor, c, c.TicketID, domain.DecideMarkRead)
	case domain.Close:
		return onTicketCmd(ctx, e, actor, c, c.TicketID, domain.DecideClose)
	case domain.Block:
		return e.block(ctx, actor, c)
	case domain.Unblock:
		return e.unblock(ctx, actor, c)
	}
	return Result{}, domain.Errorf(domain.EInvalid, "unknown command %T", cmd)
}

// onTicketCmd runs a command whose decision needs only the ticket's
// profile.
func onTicketCmd[C domain.Command](ctx context.Context, e *Engine, actor domain.Actor, cmd C, ticketID string,
	decide func(*domain.Profile, C, domain.Context) (domain.Decision, error)) (Result, error) {
	return e.onTicket(ctx, cmd, actor, ticketID, func(p *domain.Profile, c domain.Context) (domain.Decision, error) {
		return decide(p, cmd, c)
	})
}

// onTicket runs a command on one ticket, deciding it against the state of
// the ticket's profile.
func (e *Engine) onTicket(ctx context.Context, cmd domain.Command, actor domain.Actor, ticketID string,
	decide func(p *domain.Profile, c domain.Context) (domain.Decision, error)) (Result, error) {
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(ctx context.Context) (plan, error) {
		ref, err := e.ticketRef(ctx, ticketID)
		if err != nil {
			return plan{}, err
		}
		a, err := e.profile(ctx, ref.profileID)
		if err != nil {
			return plan{}, unavailable(err)
		}
		return plan{
			aggs: map[string]aggregate{AggregateSubject(domain.ProfileKey(ref.profileID)): a},
			decide: func(c domain.Context) (domain.Decision, error) {
				return decide(a.p, c)
			},
		}, nil
	})
}

// ticketRef finds a ticket's profile. A ticket unknown here may have just
// been opened by another instance, so a miss waits for the tail to reach
// the end of the log before it becomes not_found.
func (e *Engine) ticketRef(ctx context.Context, ticketID string) (ticketRef, error) {
	for i := 0; i < 2; i++ {
		e.st.mu.Lock()
		ref, ok := e.st.pend.tickets[ticketID]
		e.st.mu.Unlock()
		if ok {
			return ref, nil
		}
		ref, ok, err := e.ix.ticket(ctx, ticketID)
		if err != nil {
			return ticketRef{}, unavailable(err)
		}
		if ok {
			return ref, nil
		}
		if i == 0 {
			if err := e.CatchUp(ctx); err != nil {
				return ticketRef{}, err
			}
		}
	}
	return ticketRef{}, domain.Errorf(domain.ENotFound, "ticket %s not found", ticketID)
}

// lookupCatchingUp reads something from the state; on a miss it waits for
// the tail to reach the end of the log (another instance may have just
// written it) and reads again before answering notFound.
func lookupCatchingUp[T any](ctx context.Context, e *Engine, get func() (T, bool), notFound func() error) (T, error) {
	for i := 0; i < 2; i++ {
		e.st.mu.Lock()
		v, ok := get()
		e.st.mu.Unlock()
		if ok {
			return v, nil
		}
		if i == 0 {
			if err := e.CatchUp(ctx); err != nil {
				var zero T
				return zero, err
			}
		}
	}
	var zero T
	return zero, notFound()
}

func (e *Engine) inbound(ctx context.Context, actor domain.Actor, cmd domain.Inbound) (Result, error) {
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(ctx context.Context) (plan, error) {
		a, err := e.profile(ctx, cmd.ProfileID)
		if err != nil {
			return plan{}, unavailable(err)
		}
		aggs := map[string]aggregate{AggregateSubject(domain.ProfileKey(cmd.ProfileID)): a}
		var ph *phoneAgg
		if cmd.Phone != "" {
			if ph, err = e.phone(ctx, cmd.Phone); err != nil {
				return plan{}, unavailable(err)
			}
			aggs[AggregateSubject(domain.PhoneKey(cmd.Phone))] = ph
		}
		// A gateway's message id is looked up under the plan's locks, so
		// that a command of this instance carrying it, which held them
		// before, has written it: memory first, then the index, since it
		// leaves memory only once the index has it.
		var delivered string
		before := func(ctx context.Context) error {
			if cmd.MessageID == "" {
				return nil
			}
			e.st.mu.Lock()
			v, ok := e.st.pend.external[externalKey(cmd.ProfileID, cmd.MessageID)]
			e.st.mu.Unlock()
			if ok {
				delivered = v.s
				return nil
			}
			var err error
			delivered, _, err = e.ix.externalCommand(ctx, cmd.ProfileID, cmd.MessageID)
			return err
		}
		return plan{aggs: aggs, before: before, decide: func(c domain.Context) (domain.Decision, error) {
			c.Delivered = func(string, string) (string, bool) { return delivered, delivered != "" }
			if ph == nil {
				return domain.DecideInbound(a.p, nil, cmd, c)
			}
			return domain.DecideInbound(a.p, ph.ph, cmd, c)
		}}, nil
	})
}

func (e *Engine) assign(ctx context.Context, actor domain.Actor, cmd domain.Assign) (Result, error) {
	var assignee *domain.User
	if cmd.AssigneeID != nil {
		u, err := e.User(ctx, *cmd.AssigneeID)
		if err != nil {
			return Result{}, err
		}
		assignee = &u
	}
	return e.onTicket(ctx, cmd, actor, cmd.TicketID, func(p *domain.Profile, c domain.Context) (domain.Decision, error) {
		return domain.DecideAssign(p, cmd, assignee, c)
	})
}

// blockPlan prepares a block or unblock: by profile it reads one profile;
// by phone it reads the phone and every profile that ever wrote from it.
func (e *Engine) blockPlan(ctx context.Context, t domain.BlockTarget, decide func(p *domain.Profile, ph *domain.Phone, linked []*domain.Profile, c domain.Context) (domain.Decision, error)) (plan, error) {
	if t.ProfileID != "" {
		a, err := e.profile(ctx, t.ProfileID)
		if err != nil {
			return plan{}, unavailable(err)
		}
		return plan{aggs: map[string]aggregate{AggregateSubject(domain.ProfileKey(t.ProfileID)): a},
			decide: func(c domain.Context) (domain.Decision, error) {
				return decide(a.p, nil, nil, c)
			}}, nil
	}
	ph, err := e.phone(ctx, t.Phone)
	if err != nil {
		return plan{}, unavailable(err)
	}
	aggs := map[string]aggregate{AggregateSubject(domain.PhoneKey(t.Phone)): ph}
	e.st.mu.Lock()
	ids := append([]string(nil), ph.ph.Profiles...)
	e.st.mu.Unlock()
	profiles := map[string]*profileAgg{}
	for _, id := range ids {
		a, err := e.profile(ctx, id)
		if err != nil {
			return plan{}, unavailable(err)
		}
		profiles[id] = a
		aggs[AggregateSubject(domain.ProfileKey(id))] = a
	}
	return plan{aggs: aggs, decide: func(c domain.Context) (domain.Decision, error) {
		linked := make([]*domain.Profile, 0, len(ph.ph.Profiles))
		for _, id := range ph.ph.Profiles {
			a, ok := profiles[id]
			if !ok {
				return domain.Decision{}, errStale // a profile linked since the plan was made
			}
			linked = append(linked, a.p)
		}
		return decide(nil, ph.ph, linked, c)
	}}, nil
}

func (e *Engine) block(ctx context.Context, actor domain.Actor, cmd domain.Block) (Result, error) {
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(ctx context.Context) (plan, error) {
		return e.blockPlan(ctx, cmd.BlockTarget, func(p *domain.Profile, ph *domain.Phone, linked []*domain.Profile, c domain.Context) (domain.Decision, error) {
			return domain.DecideBlock(cmd, p, ph, linked, c)
		})
	})
}

func (e *Engine) unblock(ctx context.Context, actor domain.Actor, cmd domain.Unblock) (Result, error) {
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(ctx context.Context) (plan, error) {
		return e.blockPlan(ctx, cmd.BlockTarget, func(p *domain.Profile, ph *domain.Phone, linked []*domain.Profile, c domain.Context) (domain.Decision, error) {
			return domain.DecideUnblock(cmd, p, ph, linked, c)
		})
	})
}

// Ticket returns a copy of a ticket's decision state, for tests and for
// readers that need no message text.
func (e *Engine) Ticket(ctx context.Context, ticketID string) (domain.Ticket, error) {
	ref, err := e.ticketRef(ctx, ticketID)
	if err != nil {
		return domain.Ticket{}, err
	}
	a, err := e.profile(ctx, ref.profileID)
	if err != nil {
		return domain.Ticket{}, unavailable(err)
	}
	// Cached aggregates follow only this instance's writes: read what
	// others wrote since.
	subj := AggregateSubject(domain.ProfileKey(ref.profileID))
	if err := e.refresh(ctx, map[string]aggregate{subj: a}); err != nil {
		return domain.Ticket{}, unavailable(err)
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	t, err := a.p.Ticket(ticketID)
	if err != nil {
		return domain.Ticket{}, fmt.Errorf("ticket %s: %w", ticketID, err)
	}
	c := *t
	c.Inbound = append([]string(nil), t.Inbound...)
	return c, nil
}
