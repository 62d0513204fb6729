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
		profileID, err := e.ticketProfile(ctx, ticketID)
		if err != nil {
			return plan{}, err
		}
		return plan{
			subjects: []string{AggregateSubject(domain.ProfileKey(profileID))},
			decide: func(c domain.Context) (domain.Decision, error) {
				return decide(e.st.profileLocked(profileID), c)
			},
		}, nil
	})
}

// ticketProfile finds a ticket's profile. A ticket unknown here may have
// just been opened by another instance, so a miss waits for the tail to
// reach the end of the log before it becomes not_found.
func (e *Engine) ticketProfile(ctx context.Context, ticketID string) (string, error) {
	return lookupCatchingUp(ctx, e, func() (string, bool) {
		id, ok := e.st.ticketProfile[ticketID]
		return id, ok
	}, func() error { return domain.Errorf(domain.ENotFound, "ticket %s not found", ticketID) })
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
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(context.Context) (plan, error) {
		subjects := []string{AggregateSubject(domain.ProfileKey(cmd.ProfileID))}
		if cmd.Phone != "" {
			subjects = append(subjects, AggregateSubject(domain.PhoneKey(cmd.Phone)))
		}
		return plan{subjects: subjects, decide: func(c domain.Context) (domain.Decision, error) {
			var ph *domain.Phone
			if cmd.Phone != "" {
				ph = e.st.phoneLocked(cmd.Phone)
			}
			return domain.DecideInbound(e.st.profileLocked(cmd.ProfileID), ph, cmd, c)
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
func (e *Engine) blockPlan(t domain.BlockTarget, decide func(p *domain.Profile, ph *domain.Phone, linked []*domain.Profile, c domain.Context) (domain.Decision, error)) plan {
	if t.ProfileID != "" {
		return plan{subjects: []string{AggregateSubject(domain.ProfileKey(t.ProfileID))},
			decide: func(c domain.Context) (domain.Decision, error) {
				return decide(e.st.profileLocked(t.ProfileID), nil, nil, c)
			}}
	}
	e.st.mu.Lock()
	ph := e.st.phoneLocked(t.Phone)
	subjects := []string{AggregateSubject(domain.PhoneKey(t.Phone))}
	for _, id := range ph.Profiles {
		subjects = append(subjects, AggregateSubject(domain.ProfileKey(id)))
	}
	e.st.mu.Unlock()
	return plan{subjects: subjects, decide: func(c domain.Context) (domain.Decision, error) {
		ph := e.st.phoneLocked(t.Phone)
		linked := make([]*domain.Profile, 0, len(ph.Profiles))
		for _, id := range ph.Profiles {
			linked = append(linked, e.st.profileLocked(id))
		}
		return decide(nil, ph, linked, c)
	}}
}

func (e *Engine) block(ctx context.Context, actor domain.Actor, cmd domain.Block) (Result, error) {
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(context.Context) (plan, error) {
		return e.blockPlan(cmd.BlockTarget, func(p *domain.Profile, ph *domain.Phone, linked []*domain.Profile, c domain.Context) (domain.Decision, error) {
			return domain.DecideBlock(cmd, p, ph, linked, c)
		}), nil
	})
}

func (e *Engine) unblock(ctx context.Context, actor domain.Actor, cmd domain.Unblock) (Result, error) {
	return e.execute(ctx, cmd.Name(), actor, cmd.ID(), func(context.Context) (plan, error) {
		return e.blockPlan(cmd.BlockTarget, func(p *domain.Profile, ph *domain.Phone, linked []*domain.Profile, c domain.Context) (domain.Decision, error) {
			return domain.DecideUnblock(cmd, p, ph, linked, c)
		}), nil
	})
}

// Ticket returns a copy of a ticket's decision state, for tests and for
// readers that need no message text.
func (e *Engine) Ticket(ctx context.Context, ticketID string) (domain.Ticket, error) {
	profileID, err := e.ticketProfile(ctx, ticketID)
	if err != nil {
		return domain.Ticket{}, err
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	t, err := e.st.profileLocked(profileID).Ticket(ticketID)
	if err != nil {
		return domain.Ticket{}, fmt.Errorf("ticket %s: %w", ticketID, err)
	}
	c := *t
	c.Inbound = append([]string(nil), t.Inbound...)
	return c, nil
}
