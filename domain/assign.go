package domain

// DecideAssign sets the assignee (R7). assignee is the resolved user, nil
// to unassign; the caller reports an unknown user as not_found.
func DecideAssign(p *Profile, cmd Assign, assignee *User, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := openTicket(p, cmd.TicketID, "assigned")
	if err != nil {
		return Decision{}, err
	}
	id := ""
	if assignee != nil {
		if !assignee.Role.Can(PermInboxRead) {
			return Decision{}, Errorf(EInvalid, "user %s has role %s, which has no inbox", assignee.ID, assignee.Role)
		}
		id = assignee.ID
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	if t.AssigneeID != id {
		b.ticket(TicketAssigned, t, &TicketAssignedData{AssigneeID: id})
	}
	return done(t, b), nil
}
