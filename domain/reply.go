package domain

// DecideReply adds an agent's reply. It leaves status and the blue dot
// alone: a reply on a snoozed ticket keeps it snoozed (R5).
func DecideReply(p *Profile, cmd Reply, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := openTicket(p, cmd.TicketID, "replied to")
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	b.ticket(ReplySent, t, &ReplySentData{MessageID: c.NewID(), Body: cmd.Body})
	return done(t, b), nil
}
