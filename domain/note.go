package domain

// Note is an agent's internal note on a ticket (spec section 8): the
// team's own words, shown among the ticket's messages, never sent to the
// customer, a gateway or a webhook.
type Note struct {
	Meta
	TicketID string `json:"ticket_id"`
	Body     string `json:"body"`
}

// Name implements Command.
func (Note) Name() string { return CmdNote }

// Targets implements Command.
func (c Note) Targets() Targets { return Targets{TicketID: c.TicketID} }

// Validate implements Command: a note's body is checked as a reply's.
func (c Note) Validate() error {
	if err := checkMeta(c.Meta); err != nil {
		return err
	}
	if err := checkTicketID(c.TicketID); err != nil {
		return err
	}
	return checkBody(c.Body)
}

// DecideNote adds an internal note. Unlike a reply it is allowed on a
// closed ticket, since a team documents a conversation after the fact too,
// and it changes neither status, assignee nor the blue dot.
func DecideNote(p *Profile, cmd Note, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := p.Ticket(cmd.TicketID)
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	b.ticket(NoteAdded, t, &NoteAddedData{NoteID: c.NewID(), Body: cmd.Body})
	return done(t, b), nil
}
