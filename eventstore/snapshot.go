package eventstore

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

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
)

// SnapshotsStream holds the latest snapshot of each long aggregate,
// subjects "tb.snap.p.<base64url(profile id)>".
const SnapshotsStream = "TICKETBUS_SNAPSHOTS"

const (
	snapshotSubjectPrefix = "tb.snap.p."
	// snapshotFormat is the snapshot's version: a snapshot of another one
	// is ignored and replaced.
	snapshotFormat = 1
	// snapshotAfter is how many events a load reads past the latest
	// snapshot before it writes a new one.
	snapshotAfter = 500
)

func snapshotStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              SnapshotsStream,
		Subjects:          []string{snapshotSubjectPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
	}
}

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
	en, err := e.log.leaderGet(ctx, SnapshotsStream, msgGetRequest{LastFor: snapshotSubjectPrefix + profileToken(id)})
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			e.cfg.Logger.Warn("could not read a snapshot; reading the whole aggregate", "profile", id, "err", err)
		}
		return newProfileAgg(id)
	}
	var s profileSnapshot
	if err := json.Unmarshal(en.Data, &s); err != nil || s.Format != snapshotFormat || s.Profile == nil || s.Profile.ID != id {
		return newProfileAgg(id)
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
	subj := snapshotSubjectPrefix + profileToken(a.p.ID)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.log.js.Publish(ctx, subj, b); err != nil {
			e.cfg.Logger.Warn("could not store a snapshot", "profile", a.p.ID, "err", err)
			return
		}
		e.cfg.Metrics.snapshotWritten()
	}()
}
