package engine

import (
	"bytes"
	"sync"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/internal/lru"
)

// Result is what a command returns: the ticket and profile it touched,
// its outcome, and the log position of its last event.
type Result struct {
	TicketID  string `json:"ticket_id,omitempty"`
	ProfileID string `json:"profile_id,omitempty"`
	Outcome   string `json:"outcome"`
	Position  uint64 `json:"position"`
	// profileLevel marks a block or unblock, whose answer names no ticket.
	profileLevel bool
}

// state is what the engine holds in memory: the aggregates it used lately
// (engine_cache.go), the users, and what it knows beyond its index
// (engine_pending.go). None of it grows with the history. Decisions are
// made against the cached aggregates; the per-subject sequence check at
// append time catches any staleness.
type state struct {
	mu       sync.Mutex
	profiles *lru.LRU[*profileAgg]
	phones   *lru.LRU[*phoneAgg]
	users    map[string]domain.User // by id: a team's users, not its history
	tokens   map[string]string      // token hash -> user id
	// webhooks are the active webhooks, secrets their opened secrets,
	// removedWebhooks those removed (so that a late read of a creation
	// does not bring one back).
	webhooks        map[string]webhookRecord
	secrets         map[string]string
	removedWebhooks map[string]bool
	pend            *pending
	// evicted holds the snapshots of profiles the cache dropped, for the
	// index writer (index_snapshots.go).
	evicted []evictedSnapshot
	// inflight holds, by subject, the events this instance is appending,
	// with their encoded form: the tail often delivers them before the
	// append is acknowledged, and finding them here spares decoding again
	// what was encoded a moment ago.
	inflight map[string][]inflightEvent
	// applied is the highest position the tail has applied.
	applied uint64
	// lastAt is the latest event time seen, for a clock that must never
	// run backwards across restarts.
	lastAt time.Time
	cond   *sync.Cond
}

// inflightEvent is one event being appended by this instance.
type inflightEvent struct {
	data []byte
	ev   domain.Event
}

// inflightLocked returns the event this instance is appending whose
// encoded form is data, if there is one.
func (s *state) inflightLocked(subject string, data []byte) (domain.Event, bool) {
	for _, in := range s.inflight[subject] {
		if bytes.Equal(in.data, data) {
			return in.ev, true
		}
	}
	return domain.Event{}, false
}

func newState(cacheProfiles int) *state {
	s := &state{
		profiles: lru.New[*profileAgg](cacheProfiles), phones: lru.New[*phoneAgg](max(cacheProfiles/8, 64)),
		users: map[string]domain.User{}, tokens: map[string]string{},
		webhooks: map[string]webhookRecord{}, secrets: map[string]string{}, removedWebhooks: map[string]bool{},
		pend: newPending(), inflight: map[string][]inflightEvent{},
	}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// applyLocked records one event read from or written to the log at seq in
// the users and in what the engine knows beyond its index. It leaves the
// cached aggregates alone: an aggregate moves only by a read of its own
// subject after its sequence, or by its own append, which followed it
// with the server's check; either way nothing in between is skipped. The
// tail, which sees the whole stream, could deliver a later event of an
// aggregate cached after an earlier one went by, and move it past that.
// Applying is idempotent per position.
func (s *state) applyLocked(seq uint64, e domain.Event) {
	if e.At.After(s.lastAt) {
		s.lastAt = e.At
	}
	if e.Aggregate.Kind == domain.KindUser && e.Type == domain.UserCreated {
		u := domain.UserFromEvent(e)
		s.users[u.ID] = u
		s.tokens[u.TokenHash] = u.ID
	}
	if e.Aggregate.Kind == domain.KindWebhook {
		s.applyWebhookLocked(seq, e)
	}
	s.pend.add(seq, e)
}
