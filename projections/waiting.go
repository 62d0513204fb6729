package projections

import (
	"database/sql"
	"time"
)

// A ticket waits from the first message its customer sent after the
// team's last answer: a reply, or closing it. Only those two answer a
// customer. A note is the team talking to itself; a snooze puts the
// ticket out of sight, not the customer's question out of mind; an
// erasure takes the customer's text, not the time they wrote (the event
// keeps it, so a replay made after a block agrees). A block closes the
// ticket, which answers it like any close.

// customerWrote starts the wait at an inbound message's time, unless one
// is already running. A message reopening a closed ticket follows its
// TicketReopened, so it starts a new wait there.
func (t *ticketRow) customerWrote(at time.Time) {
	if !t.waitingSince.Valid && t.status != StatusClosed {
		t.waitingSince = sql.NullInt64{Int64: nanos(at), Valid: true}
	}
}

// answered ends the wait: the team replied or closed the ticket.
func (t *ticketRow) answered() { t.waitingSince = sql.NullInt64{} }
