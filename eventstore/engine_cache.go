package eventstore

import (
	"container/list"

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

// lru is a map bounded by count that drops the least recently used entry.
// It is not safe for concurrent use: the state's lock guards it.
type lru[V any] struct {
	max   int
	order *list.List // front: most recent
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry[V]).val, true
}

// peek returns an entry without making it recent: the tail keeps cached
// aggregates current without keeping them cached.
func (c *lru[V]) peek(key string) (V, bool) {
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	return el.Value.(*lruEntry[V]).val, true
}

// put adds or replaces an entry and drops the oldest past max; it
// returns how many it dropped.
func (c *lru[V]) put(key string, val V) int {
	if el, ok := c.items[key]; ok {
		el.Value.(*lruEntry[V]).val = val
		c.order.MoveToFront(el)
		return 0
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key, val})
	dropped := 0
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry[V]).key)
		dropped++
	}
	return dropped
}

func (c *lru[V]) len() int { return c.order.Len() }

func (c *lru[V]) remove(key string) {
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
}
