package engine

import (
	"github.com/ticketbus/ticketbus/domain"
)

// The engine keeps only the aggregates it used lately, in a cache bounded
// by count: an aggregate not in it is read from its own subject (and its
// snapshot, snapshot.go) when a command needs it. The log stays the truth:
// a cached aggregate that is stale fails its append's sequence check and is
// read again.

// profileAgg is a profile's decision state and the subject sequence it is
// at, with the position of each ticket's last event (the answer of a
// command that changes nothing).
type profileAgg struct {
	p         *domain.Profile
	seq       uint64
	ticketSeq map[string]uint64
}

func newProfileAgg(id string) *profileAgg {
	return &profileAgg{p: domain.NewProfile(id), ticketSeq: map[string]uint64{}}
}

// apply applies one event of the profile's subject at seq; an event at or
// below the aggregate's sequence was applied already.
func (a *profileAgg) apply(seq uint64, e domain.Event) {
	if seq <= a.seq {
		return
	}
	a.seq = seq
	a.p.Apply(e)
	if e.TicketID != "" {
		a.ticketSeq[e.TicketID] = seq
	}
}

// phoneAgg is a phone's decision state and its subject sequence.
type phoneAgg struct {
	ph  *domain.Phone
	seq uint64
}

func (a *phoneAgg) apply(seq uint64, e domain.Event) {
	if seq <= a.seq {
		return
	}
	a.seq = seq
	a.ph.Apply(e)
}
