package engine

import (
	"github.com/ticketbus/ticketbus/domain"
)

// pending is what the engine knows beyond its index: events the tail has
// delivered and the index has not written yet, and the engine's own
// writes and refreshes, which may come before the tail. Lookups read it
// over the index; entries go once the index reaches their position, so it
// holds about the tail's lag, never the history. The state's lock guards
// it.
type pending struct {
	seen     map[uint64]bool
	commands map[string][]posEvent // by command id, in position order
	external map[string]seqString  // profile id \x00 message id -> command id
	tickets  map[string]ticketRef  // ticket -> profile and last position
	snoozes  map[string]seqSnooze  // ticket -> snooze, or its end
	blocked  map[string]uint64     // profiles blocked, by position
	profiles map[string]uint64     // profiles with an event, by position
	replies  map[string]seqString  // reply -> ticket
}

type posEvent struct {
	seq uint64
	ev  domain.Event
}

type seqString struct {
	seq uint64
	s   string
}

type seqSnooze struct {
	seq   uint64
	ended bool // woke or closed: no longer due
	due   dueSnooze
}

func newPending() *pending {
	return &pending{seen: map[uint64]bool{}, commands: map[string][]posEvent{}, external: map[string]seqString{},
		tickets: map[string]ticketRef{}, snoozes: map[string]seqSnooze{}, blocked: map[string]uint64{}, profiles: map[string]uint64{},
		replies: map[string]seqString{}}
}

func externalKey(profileID, messageID string) string { return profileID + "\x00" + messageID }

// add records one event at seq; an event seen already is ignored.
func (p *pending) add(seq uint64, e domain.Event) {
	if p.seen[seq] {
		return
	}
	p.seen[seq] = true
	if e.CommandID != "" {
		evs := p.commands[e.CommandID]
		i := len(evs)
		for i > 0 && evs[i-1].seq > seq {
			i--
		}
		p.commands[e.CommandID] = append(evs[:i], append([]posEvent{{seq, e}}, evs[i:]...)...)
	}
	if e.Type == domain.MessageReceived {
		if d := e.Data.(*domain.MessageReceivedData); d.ExternalID != "" {
			k := externalKey(e.ProfileID, d.ExternalID)
			if cur, ok := p.external[k]; !ok || seq < cur.seq {
				p.external[k] = seqString{seq, e.CommandID}
			}
		}
	}
	if e.TicketID != "" {
		if cur, ok := p.tickets[e.TicketID]; !ok || seq > cur.seq {
			p.tickets[e.TicketID] = ticketRef{profileID: e.ProfileID, seq: seq}
		}
		if s, ok := snoozeChange(e); ok {
			if cur, had := p.snoozes[e.TicketID]; !had || seq > cur.seq {
				s.seq = seq
				p.snoozes[e.TicketID] = s
			}
		}
	}
	if e.Type == domain.ProfileBlocked && e.Aggregate.Kind == domain.KindProfile {
		p.blocked[e.ProfileID] = seq
	}
	if e.Type == domain.ReplySent {
		p.replies[e.Data.(*domain.ReplySentData).MessageID] = seqString{seq, e.TicketID}
	}
	if e.Aggregate.Kind == domain.KindProfile {
		p.profiles[e.Aggregate.ID] = max(p.profiles[e.Aggregate.ID], seq)
	}
}

// snoozeChange says what an event does to its ticket's wake-up.
func snoozeChange(e domain.Event) (seqSnooze, bool) {
	switch e.Type {
	case domain.TicketSnoozed:
		until := e.Data.(*domain.TicketSnoozedData).Until
		return seqSnooze{due: dueSnooze{ticketID: e.TicketID, profileID: e.ProfileID, until: until.UnixNano()}}, true
	case domain.TicketWoke, domain.TicketClosed:
		return seqSnooze{ended: true}, true
	}
	return seqSnooze{}, false
}

// prune drops what the index holds now that it has reached pos.
func (p *pending) prune(pos uint64) {
	for seq := range p.seen {
		if seq <= pos {
			delete(p.seen, seq)
		}
	}
	for id, evs := range p.commands {
		i := 0
		for i < len(evs) && evs[i].seq <= pos {
			i++
		}
		if i == len(evs) {
			delete(p.commands, id)
		} else if i > 0 {
			p.commands[id] = evs[i:]
		}
	}
	for k, v := range p.external {
		if v.seq <= pos {
			delete(p.external, k)
		}
	}
	for k, v := range p.tickets {
		if v.seq <= pos {
			delete(p.tickets, k)
		}
	}
	for k, v := range p.snoozes {
		if v.seq <= pos {
			delete(p.snoozes, k)
		}
	}
	for k, v := range p.blocked {
		if v <= pos {
			delete(p.blocked, k)
		}
	}
	for k, v := range p.profiles {
		if v <= pos {
			delete(p.profiles, k)
		}
	}
	for k, v := range p.replies {
		if v.seq <= pos {
			delete(p.replies, k)
		}
	}
}

// foldResult folds one event of a command into its result, so that a
// repeat of the command returns the first result (R9). r is the result so
// far, seen whether there was one.
func foldResult(r Result, seen bool, seq uint64, e domain.Event) Result {
	if seq <= r.Position {
		return r // folded already
	}
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
	r.Position = seq
	return r
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
