package domain

import "time"

// Outcomes of a command, as the API reports them.
const (
	OutcomeOpened         = "opened"
	OutcomeAppended       = "appended"
	OutcomeReopened       = "reopened"
	OutcomeDroppedBlocked = "dropped_blocked"
	OutcomeDone           = "done"
)

// Context is what a decision needs besides state and command: the clock's
// reading, who asks, and a source of new ids. It is passed in so that the
// rules never read a clock or a random source themselves.
type Context struct {
	Now       time.Time
	Actor     Actor
	CommandID string
	NewID     func() string
	// Delivered returns the command that first carried a gateway's
	// message_id for a profile (R9), from the engine's index of the whole
	// history, which no aggregate holds; nil when none was ever delivered.
	Delivered func(profileID, messageID string) (commandID string, ok bool)
}

// Decision is the result of deciding a command: the events to append
// (none when the command changes nothing) and what to tell the caller.
type Decision struct {
	Events    []Event
	Outcome   string
	ProfileID string
	TicketID  string
	// RepeatOf is set when the command repeats an earlier one (an inbound
	// message_id seen before): the caller returns that command's result.
	RepeatOf string
}

// eventTime returns the time of the events of one decision: the clock's
// reading, raised to the latest event of every aggregate involved, so that
// time never runs backwards within a ticket even if the clock does (R8).
func eventTime(now time.Time, lasts ...time.Time) time.Time {
	at := now.UTC()
	for _, l := range lasts {
		at = timeMax(at, l)
	}
	return at
}

// builder makes the events of one decision, all at the same time and
// carrying the same actor and command_id.
type builder struct {
	c      Context
	at     time.Time
	events []Event
}

func (b *builder) add(typ string, agg AggregateKey, profileID, ticketID string, data any) {
	b.events = append(b.events, Event{
		ID: b.c.NewID(), Type: typ, At: b.at, Actor: b.c.Actor, CommandID: b.c.CommandID,
		Aggregate: agg, ProfileID: profileID, TicketID: ticketID, Data: data,
	})
}

func (b *builder) ticket(typ string, t *Ticket, data any) {
	b.add(typ, ProfileKey(t.ProfileID), t.ProfileID, t.ID, data)
}

// ProfileKey names a profile's aggregate.
func ProfileKey(id string) AggregateKey { return AggregateKey{Kind: KindProfile, ID: id} }

// PhoneKey names a phone's aggregate.
func PhoneKey(number string) AggregateKey { return AggregateKey{Kind: KindPhone, ID: number} }

// UserKey names a user's aggregate.
func UserKey(id string) AggregateKey { return AggregateKey{Kind: KindUser, ID: id} }

// openTicket returns the ticket a ticket command works on, refusing closed
// tickets (R3).
func openTicket(p *Profile, id, what string) (*Ticket, error) {
	t, err := p.Ticket(id)
	if err != nil {
		return nil, err
	}
	if t.Status == StatusClosed {
		return nil, Errorf(ETicketClosed, "ticket %s is closed and cannot be %s; only a new message from the customer within %d days of the close reopens it", id, what, int(ReopenWindow.Hours()/24))
	}
	return t, nil
}

func done(t *Ticket, b *builder) Decision {
	return Decision{Events: b.events, Outcome: OutcomeDone, ProfileID: t.ProfileID, TicketID: t.ID}
}
