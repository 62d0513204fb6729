package engine

// Snapshots of long aggregates: a profile whose subject holds many events
// is read back from its latest snapshot and the events after it. A
// snapshot is never authoritative: it is a cache of the log shared by
// every instance, written by whichever instance read the aggregate the long
// way, and ignored (then written anew) when missing, unreadable, or of an
// older format. It holds decision state only, never a message's text.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

const (
	// snapshotFormat is the snapshot's version: a snapshot of another one
	// is ignored and replaced.
	snapshotFormat = 2
	// snapshotAfter is how many events a load reads past the latest
	// snapshot before it writes a new one.
	snapshotAfter = 500
)

// profileSnapshot is the stored form of a profile's aggregate.
type profileSnapshot struct {
	Format    int               `json:"format"`
	Seq       uint64            `json:"seq"`
	Profile   *domain.Profile   `json:"profile"`
	TicketSeq map[string]uint64 `json:"ticket_seq"`
}

// readSnapshot returns a profile's latest snapshot, or a new aggregate
// when there is none it can use.
func (e *Engine) readSnapshot(ctx context.Context, id string) *profileAgg {
	en, err := e.log.LatestSnapshot(ctx, id)
	if err != nil {
		if !errors.Is(err, eventstore.ErrNotFound) {
			e.cfg.Logger.Warn("could not read a snapshot; reading the whole aggregate", "profile", id, "err", err)
		}
		return newProfileAgg(id)
	}
	if a := decodeSnapshot(id, en.Data); a != nil {
		return a
	}
	return newProfileAgg(id)
}

// decodeSnapshot decodes a stored profile, nil when it is unreadable, of
// another format or of another profile.
func decodeSnapshot(id string, data []byte) *profileAgg {
	var s profileSnapshot
	if err := json.Unmarshal(data, &s); err != nil || s.Format != snapshotFormat || s.Profile == nil || s.Profile.ID != id {
		return nil
	}
	if s.Profile.Tickets == nil {
		s.Profile.Tickets = map[string]*domain.Ticket{}
	}
	if s.TicketSeq == nil {
		s.TicketSeq = map[string]uint64{}
	}
	return &profileAgg{p: s.Profile, seq: s.Seq, ticketSeq: s.TicketSeq}
}

// writeSnapshot stores a profile's aggregate, read the long way, in the
// background: a snapshot lost costs only a longer read next time.
func (e *Engine) writeSnapshot(a *profileAgg) {
	b, err := json.Marshal(profileSnapshot{Format: snapshotFormat, Seq: a.seq, Profile: a.p, TicketSeq: a.ticketSeq})
	if err != nil {
		e.cfg.Logger.Warn("could not encode a snapshot", "profile", a.p.ID, "err", err)
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.log.PutSnapshot(ctx, a.p.ID, b); err != nil {
			e.cfg.Logger.Warn("could not store a snapshot", "profile", a.p.ID, "err", err)
			return
		}
		e.cfg.Metrics.snapshotWritten()
	}()
}
