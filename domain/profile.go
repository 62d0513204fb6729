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
	// BlockedVia is the phone whose block blocked this profile; empty for
	// a block by profile id.
	BlockedVia string
	Phones     []string
	Tickets    map[string]*Ticket
	// TicketIDs lists the tickets oldest first.
	TicketIDs []string
	// ActiveID is the ticket that is open or snoozed, if any (R1).
	ActiveID string
	// LastClosedID is the ticket closed most recently (R2.3).
	LastClosedID string
	// ExternalIDs maps a gateway's message_id to the command that first
	// carried it (R9).
	ExternalIDs map[string]string
	// LastAt is the time of the latest event: new events never go below
	// it, so time never runs backwards within a ticket (R8).
	LastAt time.Time
	// Version counts the events applied.
	Version int
}

// NewProfile returns the empty state of a profile that has no events yet.
func NewProfile(id string) *Profile {
	return &Profile{ID: id, Tickets: map[string]*Ticket{}, ExternalIDs: map[string]string{}}
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
		p.Blocked = true
		p.BlockedVia = payload[ProfileBlockedData](e).Phone
		return
	case ProfileUnblocked:
		p.Blocked = false
		p.BlockedVia = ""
		return
	case TicketOpened:
		t := &Ticket{ID: e.TicketID, ProfileID: p.ID}
		p.Tickets[t.ID] = t
		p.TicketIDs = append(p.TicketIDs, t.ID)
	case MessageReceived:
		d := payload[MessageReceivedData](e)
		if d.ExternalID != "" {
			if _, seen := p.ExternalIDs[d.ExternalID]; !seen {
				p.ExternalIDs[d.ExternalID] = e.CommandID
			}
		}
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
