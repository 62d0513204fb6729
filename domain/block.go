package domain

import "time"

// DecideBlock blocks a profile or a phone (R6). For a block by profile, p
// is the profile and ph and linked are nil. For a block by phone, ph is the
// phone and linked the profiles that ever wrote from it: each of them is
// blocked too, so that everything the number sent disappears.
func DecideBlock(cmd Block, p *Profile, ph *Phone, linked []*Profile, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, lastTimes(p, ph, linked)...)}
	if cmd.ProfileID != "" {
		// A profile blocked through a phone becomes blocked in its own
		// right, so that unblocking the phone leaves it blocked.
		if !p.BlockedByCause("") {
			blockProfile(b, p, "")
		}
		return Decision{Events: b.events, Outcome: OutcomeDone, ProfileID: p.ID}, nil
	}
	if !ph.Blocked {
		b.add(ProfileBlocked, PhoneKey(ph.Number), "", "", &ProfileBlockedData{Phone: ph.Number})
	}
	for _, lp := range linked {
		if !lp.BlockedByCause(ph.Number) {
			blockProfile(b, lp, ph.Number)
		}
	}
	return Decision{Events: b.events, Outcome: OutcomeDone}, nil
}

// blockProfile closes the profile's active ticket and erases every inbound
// message it ever sent (nothing more for a profile already blocked). The
// texts themselves are destroyed by the store, which throws away the
// profile's key once these events are written.
func blockProfile(b *builder, p *Profile, via string) {
	b.add(ProfileBlocked, ProfileKey(p.ID), p.ID, "", &ProfileBlockedData{Phone: via})
	if t := p.Active(); t != nil {
		b.ticket(TicketClosed, t, &TicketClosedData{Reason: CloseProfileBlocked})
	}
	for _, id := range p.TicketIDs {
		t := p.Tickets[id]
		if len(t.Inbound) > 0 {
			ids := append([]string(nil), t.Inbound...)
			b.ticket(MessagesErased, t, &MessagesErasedData{MessageIDs: ids})
		}
	}
}

// DecideUnblock lets a profile or phone write in again; its next message
// opens a new ticket, and erased messages stay erased. Unblocking a phone
// also unblocks the profiles that its block had blocked.
func DecideUnblock(cmd Unblock, p *Profile, ph *Phone, linked []*Profile, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, lastTimes(p, ph, linked)...)}
	if cmd.ProfileID != "" {
		if p.Blocked {
			b.add(ProfileUnblocked, ProfileKey(p.ID), p.ID, "", &ProfileUnblockedData{})
		}
		return Decision{Events: b.events, Outcome: OutcomeDone, ProfileID: p.ID}, nil
	}
	if ph.Blocked {
		b.add(ProfileUnblocked, PhoneKey(ph.Number), "", "", &ProfileUnblockedData{Phone: ph.Number})
	}
	for _, lp := range linked {
		if lp.BlockedByCause(ph.Number) {
			b.add(ProfileUnblocked, ProfileKey(lp.ID), lp.ID, "", &ProfileUnblockedData{Phone: ph.Number})
		}
	}
	return Decision{Events: b.events, Outcome: OutcomeDone}, nil
}

func lastTimes(p *Profile, ph *Phone, linked []*Profile) []time.Time {
	var out []time.Time
	if p != nil {
		out = append(out, p.LastAt)
	}
	if ph != nil {
		out = append(out, ph.LastAt)
	}
	for _, lp := range linked {
		out = append(out, lp.LastAt)
	}
	return out
}
