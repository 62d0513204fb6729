package eventstore

import (
	"bytes"
	"sync"
	"time"

	"github.com/ticketbus/ticketbus/domain"
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

// state is the engine's in-memory picture of every aggregate, built from
// the log and kept current by the engine's own writes and by a tail of the
// stream (for what other engine instances write). Decisions are made
// against it; the per-subject sequence check at append time catches any
// staleness, so it never needs to be perfectly up to date.
type state struct {
	mu       sync.Mutex
	profiles map[string]*domain.Profile
	phones   map[string]*domain.Phone
	users    map[string]domain.User // by id
	tokens   map[string]string      // token hash -> user id
	// seqs holds the last applied sequence of each aggregate subject.
	seqs map[string]uint64
	// ticketProfile maps a ticket to its profile.
	ticketProfile map[string]string
	ticketSeq     map[string]uint64
	// results holds the first result of every command, by command_id (R9).
	results map[string]Result
	// snoozes holds the tickets waiting for a wake-up.
	snoozes map[string]snooze
	// inflight holds, by subject, the events this instance is appending,
	// with their encoded form: the tail often delivers them before the
	// append is acknowledged, and finding them here spares decoding again
	// what was encoded a moment ago.
	inflight map[string][]inflightEvent
	// applied is the highest sequence the tail has applied.
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

func newState() *state {
	s := &state{
		profiles: map[string]*domain.Profile{}, phones: map[string]*domain.Phone{},
		users: map[string]domain.User{}, tokens: map[string]string{}, seqs: map[string]uint64{},
		ticketProfile: map[string]string{}, ticketSeq: map[string]uint64{},
		results: map[string]Result{}, snoozes: map[string]snooze{},
		inflight: map[string][]inflightEvent{},
	}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *state) profileLocked(id string) *domain.Profile {
	p := s.profiles[id]
	if p == nil {
		p = domain.NewProfile(id)
		s.profiles[id] = p
	}
	return p
}

func (s *state) phoneLocked(number string) *domain.Phone {
	ph := s.phones[number]
	if ph == nil {
		ph = domain.NewPhone(number)
		s.phones[number] = ph
	}
	return ph
}

// passLocked moves a subject's known sequence past a position that holds
// no event this engine can apply, a void one or an unreadable one: the
// server's per-subject check counts it, so the next append must expect it.
func (s *state) passLocked(subject string, seq uint64) {
	if seq > s.seqs[subject] {
		s.seqs[subject] = seq
	}
}

// applyLocked applies one event read from or written to the log at seq.
// An event at or below its aggregate's known sequence was applied already
// (the tail and the writer both deliver the engine's own events), so it is
// skipped: that makes applying idempotent.
func (s *state) applyLocked(seq uint64, e domain.Event) {
	subj := AggregateSubject(e.Aggregate)
	if seq <= s.seqs[subj] {
		return
	}
	s.seqs[subj] = seq
	if e.At.After(s.lastAt) {
		s.lastAt = e.At
	}
	switch e.Aggregate.Kind {
	case domain.KindProfile:
		s.profileLocked(e.Aggregate.ID).Apply(e)
	case domain.KindPhone:
		s.phoneLocked(e.Aggregate.ID).Apply(e)
	case domain.KindUser:
		if e.Type == domain.UserCreated {
			u := domain.UserFromEvent(e)
			s.users[u.ID] = u
			s.tokens[u.TokenHash] = u.ID
		}
	}
	if e.TicketID != "" {
		s.ticketProfile[e.TicketID] = e.ProfileID
		s.ticketSeq[e.TicketID] = seq
		s.trackSnoozeLocked(e)
	}
	s.recordResultLocked(seq, e)
}

// recordResultLocked folds an event into its command's result, so that a
// repeat of the command returns the first result (R9).
func (s *state) recordResultLocked(seq uint64, e domain.Event) {
	if e.CommandID == "" {
		return
	}
	r, seen := s.results[e.CommandID]
	if !seen && (e.Type == domain.ProfileBlocked || e.Type == domain.ProfileUnblocked) {
		// A block or unblock answers with the profile it named (none for a
		// phone) and no ticket, however many tickets it closed: the repeat
		// must give the same answer as the first reply.
		r.profileLevel = true
		if e.Aggregate.Kind == domain.KindProfile && blockPhone(e) == "" {
			r.ProfileID = e.ProfileID
		}
	}
	if !r.profileLevel {
		if r.ProfileID == "" {
			r.ProfileID = e.ProfileID
		}
		if r.TicketID == "" {
			r.TicketID = e.TicketID
		}
	}
	switch {
	case e.Type == domain.TicketOpened:
		r.Outcome = domain.OutcomeOpened
	case e.Type == domain.TicketReopened:
		r.Outcome = domain.OutcomeReopened
	case e.Type == domain.MessageReceived && (r.Outcome == "" || r.Outcome == domain.OutcomeDone):
		r.Outcome = domain.OutcomeAppended
	case r.Outcome == "":
		r.Outcome = domain.OutcomeDone
	}
	if seq > r.Position {
		r.Position = seq
	}
	s.results[e.CommandID] = r
}

// blockPhone returns the phone a ProfileBlocked or ProfileUnblocked event
// names, "" for a block by profile id.
func blockPhone(e domain.Event) string {
	switch d := e.Data.(type) {
	case *domain.ProfileBlockedData:
		return d.Phone
	case *domain.ProfileUnblockedData:
		return d.Phone
	}
	return ""
}

// snooze is a pending wake-up.
type snooze struct {
	profileID string
	until     int64 // unix nanoseconds
}

func (s *state) trackSnoozeLocked(e domain.Event) {
	switch e.Type {
	case domain.TicketSnoozed:
		until := e.Data.(*domain.TicketSnoozedData).Until
		s.snoozes[e.TicketID] = snooze{profileID: e.ProfileID, until: until.UnixNano()}
	case domain.TicketWoke, domain.TicketClosed:
		delete(s.snoozes, e.TicketID)
	}
}
