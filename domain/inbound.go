package domain

import "slices"

// DecideInbound routes a customer's message (R2). ph is the state of the
// message's phone, nil when it has none.
func DecideInbound(p *Profile, ph *Phone, cmd Inbound, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	if cmd.MessageID != "" && c.Delivered != nil {
		if first, ok := c.Delivered(p.ID, cmd.MessageID); ok {
			return Decision{RepeatOf: first, ProfileID: p.ID}, nil
		}
	}
	if p.Blocked || (ph != nil && ph.Blocked) {
		return Decision{Outcome: OutcomeDroppedBlocked, ProfileID: p.ID}, nil
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	if ph != nil {
		b.at = eventTime(b.at, ph.LastAt)
	}
	msg := &MessageReceivedData{MessageID: c.NewID(), ExternalID: cmd.MessageID,
		Channel: cmd.Channel, Phone: cmd.Phone, Body: cmd.Body}

	var t *Ticket
	outcome := OutcomeAppended
	switch {
	case p.Active() != nil:
		t = p.Active()
		if t.Status == StatusSnoozed {
			b.ticket(TicketWoke, t, &TicketWokeData{Reason: WakeInbound})
		}
	case reopenable(p, b):
		t = p.Tickets[p.LastClosedID]
		outcome = OutcomeReopened
		b.ticket(TicketReopened, t, nil)
	default:
		t = &Ticket{ID: c.NewID(), ProfileID: p.ID}
		outcome = OutcomeOpened
		b.ticket(TicketOpened, t, &TicketOpenedData{Channel: cmd.Channel})
	}
	b.ticket(MessageReceived, t, msg)
	if ph != nil && !slices.Contains(ph.Profiles, p.ID) {
		b.add(PhoneLinked, PhoneKey(ph.Number), p.ID, "", &PhoneLinkedData{ProfileID: p.ID})
	}
	return Decision{Events: b.events, Outcome: outcome, ProfileID: p.ID, TicketID: t.ID}, nil
}

// reopenable reports whether the profile's last closed ticket is reopened
// by a message at b.at: closed by an agent, at most ReopenWindow ago (R2.3).
// A ticket closed by a block is never reopened (R6).
func reopenable(p *Profile, b *builder) bool {
	t := p.Tickets[p.LastClosedID]
	if t == nil || t.Status != StatusClosed || t.CloseReason == CloseProfileBlocked {
		return false
	}
	return b.at.Sub(t.ClosedAt) <= ReopenWindow
}
