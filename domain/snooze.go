package domain

import (
	"time"
)

// DecideSnooze hides a ticket until a time (R4). Snoozing a snoozed ticket
// moves its time; the same time again changes nothing.
func DecideSnooze(p *Profile, cmd Snooze, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := openTicket(p, cmd.TicketID, "snoozed")
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	until, err := snoozeUntil(cmd, b.at)
	if err != nil {
		return Decision{}, err
	}
	if t.Status == StatusSnoozed && !b.at.Before(t.SnoozedUntil) {
		// The old snooze fell due before this one, and its wake-up owes
		// the blue dot (R4) even if the timer's event is not written yet;
		// moving the until now would lose it, so record the wake-up first.
		b.ticket(TicketWoke, t, &TicketWokeData{Reason: WakeTimer})
		b.ticket(TicketSnoozed, t, &TicketSnoozedData{Until: until})
	} else if t.Status != StatusSnoozed || !t.SnoozedUntil.Equal(until) {
		b.ticket(TicketSnoozed, t, &TicketSnoozedData{Until: until})
	}
	return done(t, b), nil
}

func snoozeUntil(cmd Snooze, now time.Time) (time.Time, error) {
	if cmd.Duration != "" {
		d, err := time.ParseDuration(cmd.Duration)
		if err != nil || d <= 0 || d > MaxSnooze {
			return time.Time{}, Errorf(EInvalid, "duration must be above 0 and at most 366 days, got %s", QuoteShort(cmd.Duration))
		}
		return now.Add(d), nil
	}
	until := cmd.Until.UTC()
	if !until.After(now) {
		return time.Time{}, Errorf(EInvalid, "snooze until must be in the future, got %s (now %s)",
			until.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	if until.Sub(now) > MaxSnooze {
		return time.Time{}, Errorf(EInvalid, "snooze until must be at most 366 days ahead, got %s", until.Format(time.RFC3339Nano))
	}
	return until, nil
}

// DecideUnsnooze wakes a snoozed ticket by hand. The agent is looking at
// it, so unlike a timer wake-up it does not set the blue dot, unless the
// snooze was already due.
func DecideUnsnooze(p *Profile, cmd Unsnooze, c Context) (Decision, error) {
	if err := cmd.Validate(); err != nil {
		return Decision{}, err
	}
	t, err := openTicket(p, cmd.TicketID, "unsnoozed")
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	if t.Status == StatusSnoozed {
		// Past its until the ticket had woken by its timer, even if that
		// event is not written yet: record it as such, so it gets its dot.
		reason := WakeAgent
		if !b.at.Before(t.SnoozedUntil) {
			reason = WakeTimer
		}
		b.ticket(TicketWoke, t, &TicketWokeData{Reason: reason})
	}
	return done(t, b), nil
}

// DecideWake fires a snooze that is due: the ticket opens and gets its blue
// dot (R4, R5). A ticket no longer snoozed, or snoozed again to a later
// time, changes nothing, so a late or repeated timer is harmless.
func DecideWake(p *Profile, ticketID string, c Context) (Decision, error) {
	t, err := p.Ticket(ticketID)
	if err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now, p.LastAt)}
	if t.Status == StatusSnoozed && !b.at.Before(t.SnoozedUntil) {
		b.ticket(TicketWoke, t, &TicketWokeData{Reason: WakeTimer})
	}
	return done(t, b), nil
}
