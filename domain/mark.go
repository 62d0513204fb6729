package domain

// DecideMarkUnread sets the blue dot (R5); allowed on closed tickets.
func DecideMarkUnread(p *Profile, cmd MarkUnread, c Context) (Decision, error) {
	return decideMark(p, cmd.TicketCommand, true, c)
}

// DecideMarkRead clears the blue dot (R5); allowed on closed tickets.
func DecideMarkRead(p *Profile, cmd MarkRead, c Context) (Decision, error) {
	return decideMark(p, cmd.TicketCommand, false, c)
}

func decideMark(p *Profile, cmd TicketCommand, unread bool, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := p.Ticket(cmd.TicketID)
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	switch {
	case unread && !t.Unread:
		b.ticket(TicketMarkedUnread, t, nil)
	case !unread && t.Unread:
		b.ticket(TicketMarkedRead, t, nil)
	}
	return done(t, b), nil
}
