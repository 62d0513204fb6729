package engine

import (
	"context"
	"fmt"
	"maps"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Execute runs a decoded command for an authenticated user. The user's
// role is checked here, before anything is read or written (R10).
func (e *Engine) Execute(ctx context.Context, user domain.User, cmd domain.Command) (Result, error) {
	spec, ok := domain.Spec(cmd.Name())
	if !ok {
		return Result{}, domain.Errorf(domain.EInvalid, "unknown command %T", cmd)
	}
	if err := user.Role.Authorize(spec.Permission, "send "+spec.Name); err != nil {
		e.cfg.Metrics.observeCommand(spec.Name, Result{}, err, 0)
		return Result{}, err
	}
	return e.run(ctx, domain.Actor{UserID: user.ID, Role: user.Role}, spec, cmd)
}

// run decides and appends an authorized command: it loads what the
// command's targets name, then decides with the registered function.
func (e *Engine) run(ctx context.Context, actor domain.Actor, spec *domain.CommandSpec, cmd domain.Command) (Result, error) {
	t := cmd.Targets()
	var user *domain.User
	if t.UserID != "" {
		u, err := e.User(ctx, t.UserID)
		if err != nil {
			return Result{}, err
		}
		user = &u
	}
	return e.execute(ctx, spec.Name, actor, cmd.ID(), func(ctx context.Context) (plan, error) {
		p, err := e.load(ctx, t)
		if err != nil {
			return plan{}, err
		}
		p.plan.decide = func(c domain.Context) (domain.Decision, error) {
			if p.delivered != nil {
				c.Delivered = p.delivered
			}
			st, err := p.decide(c)
			if err != nil {
				return domain.Decision{}, err
			}
			st.User = user
			return spec.Decide(st, cmd, c)
		}
		return p.plan, nil
	})
}

// loaded is a plan whose decision is still to be made: decide returns the
// state the targets named, read under the state's lock.
type loaded struct {
	plan
	decide func(c domain.Context) (domain.State, error)
	// delivered, when set, answers Context.Delivered from what the plan's
	// before found.
	delivered func(profileID, messageID string) (string, bool)
}

// load reads the aggregates a command's targets name.
func (e *Engine) load(ctx context.Context, t domain.Targets) (loaded, error) {
	if t.ReplyID != "" {
		ticketID, err := e.replyTicket(ctx, t.ReplyID)
		if err != nil {
			return loaded{}, err
		}
		t.TicketID = ticketID
	}
	switch {
	case t.TicketID != "":
		ref, err := e.ticketRef(ctx, t.TicketID)
		if err != nil {
			return loaded{}, err
		}
		return e.profilePlan(ctx, ref.profileID)
	case t.Linked:
		return e.linkedPlan(ctx, t.Phone)
	}
	l, err := e.profilePlan(ctx, t.ProfileID)
	if err != nil {
		return loaded{}, err
	}
	if t.Phone != "" {
		ph, err := e.phone(ctx, t.Phone)
		if err != nil {
			return loaded{}, unavailable(err)
		}
		l.aggs[eventstore.AggregateSubject(domain.PhoneKey(t.Phone))] = ph
		profile := l.decide
		l.decide = func(c domain.Context) (domain.State, error) {
			st, err := profile(c)
			st.Phone = ph.ph
			return st, err
		}
	}
	if t.MessageID != "" {
		l.before = e.deliveredLookup(t.ProfileID, t.MessageID, &l)
	}
	return l, nil
}

func (e *Engine) profilePlan(ctx context.Context, id string) (loaded, error) {
	a, err := e.profile(ctx, id)
	if err != nil {
		return loaded{}, unavailable(err)
	}
	return loaded{plan: plan{aggs: map[string]aggregate{eventstore.AggregateSubject(domain.ProfileKey(id)): a}},
		decide: func(domain.Context) (domain.State, error) { return domain.State{Profile: a.p}, nil }}, nil
}

// deliveredLookup finds the command that first carried a gateway's
// message id, under the plan's locks, so that a command of this instance
// carrying it, which held them before, has written it: memory first, then
// the index, since it leaves memory only once the index has it.
func (e *Engine) deliveredLookup(profileID, messageID string, l *loaded) func(ctx context.Context) error {
	var delivered string
	l.delivered = func(string, string) (string, bool) { return delivered, delivered != "" }
	return func(ctx context.Context) error {
		e.st.mu.Lock()
		v, ok := e.st.pend.external[externalKey(profileID, messageID)]
		e.st.mu.Unlock()
		if ok {
			delivered = v.s
			return nil
		}
		var err error
		delivered, _, err = e.ix.externalCommand(ctx, profileID, messageID)
		return err
	}
}

// linkedPlan reads a phone and every profile that ever wrote from it.
func (e *Engine) linkedPlan(ctx context.Context, number string) (loaded, error) {
	ph, err := e.phone(ctx, number)
	if err != nil {
		return loaded{}, unavailable(err)
	}
	aggs := map[string]aggregate{eventstore.AggregateSubject(domain.PhoneKey(number)): ph}
	e.st.mu.Lock()
	ids := append([]string(nil), ph.ph.Profiles...)
	e.st.mu.Unlock()
	profiles := map[string]*profileAgg{}
	for _, id := range ids {
		a, err := e.profile(ctx, id)
		if err != nil {
			return loaded{}, unavailable(err)
		}
		profiles[id] = a
		aggs[eventstore.AggregateSubject(domain.ProfileKey(id))] = a
	}
	return loaded{plan: plan{aggs: aggs}, decide: func(domain.Context) (domain.State, error) {
		linked := make([]*domain.Profile, 0, len(ph.ph.Profiles))
		for _, id := range ph.ph.Profiles {
			a, ok := profiles[id]
			if !ok {
				return domain.State{}, errStale // a profile linked since the plan was made
			}
			linked = append(linked, a.p)
		}
		return domain.State{Phone: ph.ph, Linked: linked}, nil
	}}, nil
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
	subj := eventstore.AggregateSubject(domain.ProfileKey(ref.profileID))
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
	c.ReplyStatus = maps.Clone(t.ReplyStatus)
	return c, nil
}
