package domain

import (
	"slices"
	"time"
)

// Profile is a customer and every ticket they ever had: the aggregate that
// R1 and R2 are decided on, so one optimistic check covers them all.
type Profile struct {
	ID      string
	Blocked bool
	// BlockedVia is "" when the profile is blocked by id, else the first
	// phone whose block blocked it.
	BlockedVia string
	// BlockedBy holds every cause of the block, in the order they came: ""
	// for a block by id, and each blocked phone that blocked it. The
	// profile stays blocked while any cause remains, whatever order the
	// phones are unblocked in.
	BlockedBy []string
	Phones    []string
	Tickets   map[string]*Ticket
	// TicketIDs lists the tickets oldest first.
	TicketIDs []string
	// ActiveID is the ticket that is open or snoozed, if any (R1).
	ActiveID string
	// LastClosedID is the ticket closed most recently (R2.3).
	LastClosedID string
	// LastAt is the time of the latest event: new events never go below
	// it, so time never runs backwards within a ticket (R8).
	LastAt time.Time
	// Version counts the events applied.
	Version int
}

// NewProfile returns the empty state of a profile that has no events yet.
func NewProfile(id string) *Profile {
	return &Profile{ID: id, Tickets: map[string]*Ticket{}}
}

// Active returns the profile's open or snoozed ticket, or nil.
func (p *Profile) Active() *Ticket {
	if p.ActiveID == "" {
		return nil
	}
	return p.Tickets[p.ActiveID]
}

// Ticket returns a ticket of the profile, or a not_found error.
func (p *Profile) Ticket(id string) (*Ticket, error) {
	t, ok := p.Tickets[id]
	if !ok {
		return nil, Errorf(ENotFound, "ticket %s not found", id)
	}
	return t, nil
}

// Apply changes the state by one event of this profile. It never fails:
// events are facts, and an event it does not know changes nothing.
func (p *Profile) Apply(e Event) {
	p.Version++
	p.LastAt = timeMax(p.LastAt, e.At)
	switch e.Type {
	case ProfileBlocked:
		if cause := payload[ProfileBlockedData](e).Phone; !slices.Contains(p.BlockedBy, cause) {
			p.BlockedBy = append(p.BlockedBy, cause)
		}
		// A blocked profile's closed tickets are never reopened (R6).
		p.LastClosedID = ""
		p.setBlocked()
		return
	case ProfileUnblocked:
		if cause := payload[ProfileUnblockedData](e).Phone; cause == "" {
			p.BlockedBy = nil
		} else {
			p.BlockedBy = slices.DeleteFunc(p.BlockedBy, func(c string) bool { return c == cause })
		}
		p.setBlocked()
		return
	case TicketOpened:
		t := &Ticket{ID: e.TicketID, ProfileID: p.ID}
		p.Tickets[t.ID] = t
		p.TicketIDs = append(p.TicketIDs, t.ID)
	case MessageReceived:
		d := payload[MessageReceivedData](e)
		if d.Phone != "" && !slices.Contains(p.Phones, d.Phone) {
			p.Phones = append(p.Phones, d.Phone)
		}
	}
	t := p.Tickets[e.TicketID]
	if t == nil {
		return
	}
	t.apply(e)
	switch e.Type {
	case TicketOpened, TicketReopened:
		p.ActiveID = t.ID
	case TicketClosed:
		if p.ActiveID == t.ID {
			p.ActiveID = ""
		}
		p.LastClosedID = t.ID
	}
}

// BlockedByCause reports whether the block has the given cause ("" for a
// block by id, else a phone).
func (p *Profile) BlockedByCause(cause string) bool { return slices.Contains(p.BlockedBy, cause) }

// setBlocked derives Blocked and BlockedVia from the causes. The causes
// keep their order of arrival, not a sorted one, so that BlockedVia is the
// phone whose block came first, as documented, rather than the smallest
// number.
func (p *Profile) setBlocked() {
	if len(p.BlockedBy) == 0 {
		p.BlockedBy = nil
	}
	p.Blocked = len(p.BlockedBy) > 0
	p.BlockedVia = ""
	if p.Blocked && !p.BlockedByCause("") {
		p.BlockedVia = p.BlockedBy[0]
	}
}

// Phone is a phone number as a blockable sender, with the profiles that
// ever wrote from it.
type Phone struct {
	Number   string
	Blocked  bool
	Profiles []string
	LastAt   time.Time
	Version  int
}

// NewPhone returns the empty state of a phone that has no events yet.
func NewPhone(number string) *Phone { return &Phone{Number: number} }

// Apply changes the state by one event of this phone.
func (ph *Phone) Apply(e Event) {
	ph.Version++
	ph.LastAt = timeMax(ph.LastAt, e.At)
	switch e.Type {
	case ProfileBlocked:
		ph.Blocked = true
	case ProfileUnblocked:
		ph.Blocked = false
	case PhoneLinked:
		id := payload[PhoneLinkedData](e).ProfileID
		if !slices.Contains(ph.Profiles, id) {
			ph.Profiles = append(ph.Profiles, id)
		}
	}
}

// User is a person or integration allowed to call the engine.
type User struct {
	ID        string
	Name      string
	Role      Role
	TokenHash string
}

// UserFromEvent returns the user a UserCreated event adds.
func UserFromEvent(e Event) User {
	d := payload[UserCreatedData](e)
	return User{ID: d.UserID, Name: d.Name, Role: d.Role, TokenHash: d.TokenHash}
}
