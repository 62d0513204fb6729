package engine

import (
	"context"
	"fmt"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// aggregate is a cached decision state and the subject sequence it is at.
type aggregate interface {
	at() uint64
	apply(seq uint64, e domain.Event)
	pass(seq uint64)
}

func (a *profileAgg) at() uint64 { return a.seq }
func (a *phoneAgg) at() uint64   { return a.seq }

func (a *profileAgg) pass(seq uint64) { a.seq = max(a.seq, seq) }
func (a *phoneAgg) pass(seq uint64)   { a.seq = max(a.seq, seq) }

// profile returns a profile's aggregate, from the cache or else read from
// its subject in the log (after its snapshot, when it has one).
func (e *Engine) profile(ctx context.Context, id string) (*profileAgg, error) {
	e.st.mu.Lock()
	a, ok := e.st.profiles.Get(id)
	e.st.mu.Unlock()
	if ok {
		return a, nil
	}
	a, read, err := e.loadProfile(ctx, id)
	if err != nil {
		return nil, err
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if cur, ok := e.st.profiles.Get(id); ok {
		return cur, nil // loaded meanwhile by another command
	}
	e.cfg.Metrics.aggregateLoaded(read, e.st.profiles.Put(id, a))
	return a, nil
}

// loadProfile reads a profile: from the snapshot the index took when the
// cache dropped it, or else the log's snapshot, then the events after it
// that the engine knows of. It returns how many events it read. A profile
// the engine has never seen (a first contact) is taken as new without
// reading: if another instance wrote it meanwhile, the append's check
// fails and the aggregate is read then.
func (e *Engine) loadProfile(ctx context.Context, id string) (*profileAgg, int, error) {
	known, ok, err := e.knownPosition(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return newProfileAgg(id), 0, nil
	}
	a, err := e.indexSnapshot(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if a != nil && a.seq >= known {
		return a, 0, nil
	}
	if a == nil {
		a = e.readSnapshot(ctx, id)
	}
	n, err := e.replay(ctx, eventstore.AggregateSubject(domain.ProfileKey(id)), a)
	if err != nil {
		return nil, n, err
	}
	if n >= snapshotAfter {
		// a is not shared yet: encoding it needs no lock.
		e.writeSnapshot(a)
	}
	return a, n, nil
}

// knownPosition returns the position of the profile's last event this
// engine knows of (its own writes, its tail, its index); false when it
// knows none.
func (e *Engine) knownPosition(ctx context.Context, id string) (uint64, bool, error) {
	e.st.mu.Lock()
	pending, inPending := e.st.pend.profiles[id]
	e.st.mu.Unlock()
	pos, inIndex, err := e.ix.profilePosition(ctx, id)
	if err != nil {
		return 0, false, err
	}
	return max(pos, pending), inPending || inIndex, nil
}

// phone returns a phone's aggregate, from the cache or read from the log.
func (e *Engine) phone(ctx context.Context, number string) (*phoneAgg, error) {
	e.st.mu.Lock()
	a, ok := e.st.phones.Get(number)
	e.st.mu.Unlock()
	if ok {
		return a, nil
	}
	a = &phoneAgg{ph: domain.NewPhone(number)}
	read, err := e.replay(ctx, eventstore.AggregateSubject(domain.PhoneKey(number)), a)
	if err != nil {
		return nil, err
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if cur, ok := e.st.phones.Get(number); ok {
		return cur, nil
	}
	e.cfg.Metrics.aggregateLoaded(read, e.st.phones.Put(number, a))
	return a, nil
}

// replay applies to a the events of its subject after a's sequence, and
// returns how many it read. Positions that hold no event it can apply
// still move a's sequence, as the server's check counts them.
func (e *Engine) replay(ctx context.Context, subject string, a aggregate) (int, error) {
	n := 0
	err := e.log.ReadSubject(ctx, subject, a.at(), func(en eventstore.Entry) error {
		n++
		if en.Void {
			a.pass(en.Seq)
			return nil
		}
		ev, err := domain.UnmarshalEvent(en.Data)
		if err != nil {
			e.cfg.Logger.Error("skipping unreadable event", "seq", en.Seq, "err", err)
			a.pass(en.Seq)
			return nil
		}
		a.apply(en.Seq, ev)
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("read %s: %w", subject, err)
	}
	return n, nil
}

// refresh reads what other instances wrote on the plan's aggregates since
// this engine last saw them, after an optimistic check failed.
func (e *Engine) refresh(ctx context.Context, aggs map[string]aggregate) error {
	for subj, a := range aggs {
		e.st.mu.Lock()
		after := a.at()
		e.st.mu.Unlock()
		err := e.log.ReadSubject(ctx, subj, after, func(en eventstore.Entry) error {
			var ev domain.Event
			var err error
			if !en.Void {
				ev, err = domain.UnmarshalEvent(en.Data)
			}
			e.st.mu.Lock()
			defer e.st.mu.Unlock()
			if en.Void || err != nil {
				a.pass(en.Seq)
				return nil
			}
			a.apply(en.Seq, ev)
			e.st.pend.add(en.Seq, ev)
			return nil
		})
		if err != nil {
			return fmt.Errorf("refresh %s: %w", subj, err)
		}
	}
	return nil
}
