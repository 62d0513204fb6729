package domain

// DecideClose archives an open or snoozed ticket (R3).
func DecideClose(p *Profile, cmd Close, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := openTicket(p, cmd.TicketID, "closed again")
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	b.ticket(TicketClosed, t, &TicketClosedData{Reason: CloseAgent})
	return done(t, b), nil
}
