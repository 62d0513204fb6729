package eventstore

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// SnapshotsStream holds the latest snapshot of each long profile, on
// subjects "tb.snap.p.<base64url(profile id)>". What a snapshot holds and
// when one is written is the engine's business: the log only keeps the
// latest of each, replicated like the events.
const SnapshotsStream = "TICKETBUS_SNAPSHOTS"

const snapshotSubjectPrefix = "tb.snap.p."

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

// LatestSnapshot returns a profile's latest snapshot, read from the
// stream's leader; ErrNotFound when it has none.
func (l *Log) LatestSnapshot(ctx context.Context, profileID string) (Entry, error) {
	return l.leaderGet(ctx, SnapshotsStream, msgGetRequest{LastFor: snapshotSubjectPrefix + ProfileToken(profileID)})
}

// PutSnapshot stores a profile's snapshot in place of the one before.
func (l *Log) PutSnapshot(ctx context.Context, profileID string, data []byte) error {
	_, err := l.js.Publish(ctx, snapshotSubjectPrefix+ProfileToken(profileID), data)
	return err
}
