package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// plan is one command made ready to decide: the aggregates it reads and
// may write, by subject, and the decision itself, run under the state lock
// so it sees one consistent picture.
type plan struct {
	aggs map[string]aggregate
	// before, when set, runs under the plan's locks before the decision,
	// outside the state's lock: for lookups that must see what a command
	// holding the locks before wrote.
	before func(ctx context.Context) error
	decide func(c domain.Context) (domain.Decision, error)
}

// subjects lists the plan's subjects, for the stripe locks.
func (p plan) subjects() []string {
	out := make([]string, 0, len(p.aggs))
	for s := range p.aggs {
		out = append(out, s)
	}
	return out
}

// errStale says an optimistic check failed: the state the command was
// decided on is out of date and the command must be decided again.
var errStale = errors.New("eventstore: state was stale")

// execute runs a command to completion: it returns the first result of a
// repeated command_id, decides, appends, and decides again on a conflict.
func (e *Engine) execute(ctx context.Context, name string, actor domain.Actor, cmdID string,
	prepare func(ctx context.Context) (plan, error)) (res Result, err error) {
	start := time.Now()
	defer func() { e.cfg.Metrics.observeCommand(name, res, err, time.Since(start)) }()

	given := cmdID != ""
	if !given {
		cmdID = e.cfg.NewID()
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if given {
			if r, ok, err := e.result(ctx, cmdID); err != nil || ok {
				return r, err
			}
		}
		p, err := prepare(ctx)
		if err != nil {
			return Result{}, err
		}
		unlock := e.locks.lock(p.subjects())
		res, err := e.attempt(ctx, p, actor, cmdID, given)
		unlock()
		if errors.Is(err, errStale) {
			if err := e.refresh(ctx, p.aggs); err != nil {
				return Result{}, unavailable(err)
			}
			continue
		}
		return res, err
	}
	return Result{}, domain.Errorf(domain.EConflict, "%s: concurrent changes kept winning after %d attempts; try again", name, maxAttempts)
}

// result returns a command's first result (R9): the index, folded with
// what the engine knows beyond it. What is in memory is read first: it
// leaves memory only once the index has it, so nothing falls between.
func (e *Engine) result(ctx context.Context, cmdID string) (Result, bool, error) {
	e.st.mu.Lock()
	evs := slices.Clone(e.st.pend.commands[cmdID])
	e.st.mu.Unlock()
	r, ok, err := e.ix.result(ctx, cmdID)
	if err != nil {
		return Result{}, false, unavailable(err)
	}
	for _, pe := range evs {
		r = foldResult(r, ok, pe.seq, pe.ev)
		ok = true
	}
	return r, ok, nil
}

// attempt decides and appends once.
func (e *Engine) attempt(ctx context.Context, p plan, actor domain.Actor, cmdID string, given bool) (Result, error) {
	if given {
		// Answered since the check in execute: by a command of this
		// instance with the same id, which held these locks before.
		if r, ok, err := e.result(ctx, cmdID); err != nil || ok {
			return r, err
		}
	}
	if p.before != nil {
		if err := p.before(ctx); err != nil {
			return Result{}, unavailable(err)
		}
	}
	e.st.mu.Lock()
	dec, err := p.decide(domain.Context{Now: e.cfg.Now(), Actor: actor, CommandID: cmdID, NewID: e.cfg.NewID})
	if err != nil {
		e.st.mu.Unlock()
		if !errors.Is(err, errStale) {
			if cerr := e.checkCurrent(ctx, p); cerr != nil {
				return Result{}, cerr
			}
		}
		return Result{}, err
	}
	if dec.RepeatOf != "" {
		e.st.mu.Unlock()
		r, ok, err := e.result(ctx, dec.RepeatOf)
		if err == nil && !ok {
			err = fmt.Errorf("repeat of unknown command %s", dec.RepeatOf)
		}
		return r, err
	}
	if len(dec.Events) == 0 {
		e.st.mu.Unlock()
		if err := e.checkCurrent(ctx, p); err != nil {
			return Result{}, err
		}
		e.st.mu.Lock()
		pos := uint64(0)
		if a, ok := p.aggs[eventstore.AggregateSubject(domain.ProfileKey(dec.ProfileID))].(*profileAgg); ok {
			pos = a.seq
			if dec.TicketID != "" {
				pos = a.ticketSeq[dec.TicketID]
			}
		}
		e.st.mu.Unlock()
		if dec.Outcome == domain.OutcomeDroppedBlocked {
			e.cfg.Metrics.inboundDropped()
		}
		return Result{TicketID: dec.TicketID, ProfileID: dec.ProfileID, Outcome: dec.Outcome, Position: pos}, nil
	}
	recs := make([]eventstore.Record, len(dec.Events))
	var subjects []string
	firsts := map[string]bool{}
	for i, ev := range dec.Events {
		subj := eventstore.AggregateSubject(ev.Aggregate)
		recs[i].Subject = subj
		if !slices.Contains(subjects, subj) {
			a, ok := p.aggs[subj]
			if !ok {
				e.st.mu.Unlock()
				return Result{}, fmt.Errorf("%s writes %s, which it did not read", ev.Type, subj)
			}
			subjects = append(subjects, subj)
			expect := a.at()
			recs[i].ExpectSubjectSeq = &expect
			if expect == 0 && ev.Aggregate.Kind == domain.KindProfile {
				firsts[ev.ProfileID] = true
			}
		}
	}
	e.st.mu.Unlock()

	if err := e.seal(ctx, dec.Events, firsts); err != nil {
		return Result{}, err
	}
	for i, ev := range dec.Events {
		data, err := domain.MarshalEvent(ev)
		if err != nil {
			return Result{}, fmt.Errorf("encode %s: %w", ev.Type, err)
		}
		recs[i].Data = data
	}
	e.st.mu.Lock()
	for i, ev := range dec.Events {
		e.st.inflight[recs[i].Subject] = append(e.st.inflight[recs[i].Subject], inflightEvent{data: recs[i].Data, ev: ev})
	}
	e.st.mu.Unlock()
	seqs, err := e.log.Append(ctx, recs)
	e.st.mu.Lock()
	for _, subj := range subjects {
		// The subject locks make this attempt the only writer of its
		// subjects, so their in-flight entries are all its own.
		delete(e.st.inflight, subj)
	}
	e.st.mu.Unlock()
	if errors.Is(err, eventstore.ErrUnknownOutcome) {
		seqs, err = e.confirm(ctx, recs, dec.Events, err)
	}
	switch {
	case errors.Is(err, eventstore.ErrConflict):
		return Result{}, errStale
	case err != nil:
		return Result{}, unavailable(err)
	}
	e.st.mu.Lock()
	for i, ev := range dec.Events {
		p.aggs[recs[i].Subject].apply(seqs[i], ev)
		e.st.applyLocked(seqs[i], ev)
	}
	e.st.mu.Unlock()
	e.cfg.Metrics.eventsAppended(len(recs))
	e.afterCommit(ctx, dec.Events)
	return Result{TicketID: dec.TicketID, ProfileID: dec.ProfileID, Outcome: dec.Outcome, Position: seqs[len(seqs)-1]}, nil
}

// checkCurrent returns errStale when one of the plan's aggregates is
// behind what this engine knows was written on its subject (by another
// instance, seen by the tail). A decision that appends needs no such
// check (the append's sequence check is one); one that writes nothing or
// refuses would otherwise answer from a cached aggregate that no tail
// keeps current. A profile's position comes from memory and the index, so
// that a cold profile costs no read of its subject in the log; a phone's,
// rarer, from the log.
func (e *Engine) checkCurrent(ctx context.Context, p plan) error {
	for subj, a := range p.aggs {
		var last uint64
		if pa, ok := a.(*profileAgg); ok {
			known, _, err := e.knownPosition(ctx, pa.p.ID)
			if err != nil {
				return unavailable(err)
			}
			last = known
		} else {
			en, err := e.log.LastOnSubject(ctx, subj)
			switch {
			case errors.Is(err, eventstore.ErrNotFound):
			case err != nil:
				return unavailable(err)
			default:
				last = en.Seq
			}
		}
		e.st.mu.Lock()
		at := a.at()
		e.st.mu.Unlock()
		if last > at {
			return errStale
		}
	}
	return nil
}

// confirm finds out whether an append whose acknowledgement was lost was
// written after all, by looking for its first event on its subject: an
// atomic batch is all or nothing, so the first event answers for all.
func (e *Engine) confirm(ctx context.Context, recs []eventstore.Record, evs []domain.Event, cause error) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var first uint64
	err := e.log.ReadSubject(ctx, recs[0].Subject, *recs[0].ExpectSubjectSeq, func(en eventstore.Entry) error {
		if en.Void {
			return nil
		}
		if ev, err := domain.UnmarshalEvent(en.Data); err == nil && ev.ID == evs[0].ID {
			first = en.Seq
		}
		return nil
	})
	if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
		return nil, fmt.Errorf("%w (and the log could not be read to confirm: %v)", cause, err)
	}
	if first == 0 {
		// Not in the log now, as the leader reads it; a write the old
		// leader had not committed when its ack was lost can still commit
		// later, so this is no proof that nothing changed.
		return nil, cause
	}
	seqs := make([]uint64, len(recs))
	for i := range seqs {
		seqs[i] = first + uint64(i)
	}
	return seqs, nil
}

// unavailable turns a log failure into the API's unavailable error. An
// outcome that could not be confirmed says so: only a resend with the same
// command_id can tell the caller what happened.
func unavailable(err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, eventstore.ErrUnknownOutcome) {
		return domain.Errorf(domain.EUnavailable, "the log did not confirm the write in time; resend with the same command_id to learn its outcome")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domain.Errorf(domain.EUnavailable, "the command timed out before it was written; nothing was changed")
	}
	return domain.Errorf(domain.EUnavailable, "the log cannot be written right now; nothing was changed")
}
