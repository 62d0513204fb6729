// Package lru is a map bounded by count, for the engine's caches of
// aggregates and keys.
package lru

import "container/list"

// LRU is a map bounded by count that drops the least recently used entry.
// It is not safe for concurrent use: the state's lock guards it.
type LRU[V any] struct {
	// OnEvict, when set, is called with each entry Put drops.
	OnEvict func(key string, val V)
	max     int
	order   *list.List // front: most recent
	items   map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
}

// New returns an LRU holding at most max entries.
func New[V any](max int) *LRU[V] {
	return &LRU[V]{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns an entry and makes it the most recent.
func (c *LRU[V]) Get(key string) (V, bool) {
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry[V]).val, true
}

// Peek returns an entry without making it recent: the tail keeps cached
// aggregates current without keeping them cached.
func (c *LRU[V]) Peek(key string) (V, bool) {
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	return el.Value.(*lruEntry[V]).val, true
}

// Put adds or replaces an entry and drops the oldest past max; it
// returns how many it dropped.
func (c *LRU[V]) Put(key string, val V) int {
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
		ent := last.Value.(*lruEntry[V])
		delete(c.items, ent.key)
		dropped++
		if c.OnEvict != nil {
			c.OnEvict(ent.key, ent.val)
		}
	}
	return dropped
}

// Len returns how many entries it holds.
func (c *LRU[V]) Len() int { return c.order.Len() }

// Remove drops an entry.
func (c *LRU[V]) Remove(key string) {
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
}
