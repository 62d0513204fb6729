// Package eventstore is Ticketbus's event log: an embedded NATS server whose
// JetStream stream holds every event, appended atomically with optimistic
// per-subject checks and group commit, and a store of per-profile keys that
// can be erased for crypto-shredding.
package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventsStream is the stream holding every event, subjects "tb.ev.>".
const EventsStream = "TICKETBUS_EVENTS"

// KeysStream is the stream holding per-profile encryption keys, subjects
// "tb.key.>". It is kept apart from the events because keys must be
// erasable while the event log must not.
const KeysStream = "TICKETBUS_KEYS"

const (
	eventsSubjectPrefix = "tb.ev."
	keysSubjectPrefix   = "tb.key."

	// serverMaxBatch is the server's limit on messages in one atomic batch.
	serverMaxBatch = 1000

	// defaultPlainMax is LogConfig.PlainMax's default (docs/performance.md,
	// BenchmarkBatchSize).
	defaultPlainMax = 16
)

// LogConfig configures a Log. Zero values take the defaults.
type LogConfig struct {
	Replicas int                                           // default 1
	Workers  int                                           // group-commit batches in flight, default 1
	MaxBatch int                                           // max messages per atomic batch, default 500 (server max 1000)
	OnBatch  func(requests, messages int, d time.Duration) // optional hook for metrics, called per committed batch
	// PlainMax is the largest group of one-record appends sent as plain
	// publishes in flight together, each with its own fsync, rather than
	// as one atomic batch. A batch has a fixed cost: the server stages it
	// in a store of its own, created and removed per batch, 5-15 ms on an
	// ext4 disk, as much as ten to twenty fsyncs. Default 16.
	PlainMax int
	// PublishTimeout bounds the wait for a commit's acknowledgement and for
	// each answer while reading. Default 5s.
	PublishTimeout time.Duration
}

func (c *LogConfig) setDefaults() error {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Workers <= 0 {
		// The server commits one batch of a stream at a time, each with a
		// fixed cost: batches in flight together only split the waiting
		// commands into more of them (docs/performance.md).
		c.Workers = 1
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 500
	}
	if c.PlainMax <= 0 {
		c.PlainMax = defaultPlainMax
	}
	if c.MaxBatch > serverMaxBatch {
		return fmt.Errorf("%w: MaxBatch %d above the server limit %d", ErrInvalid, c.MaxBatch, serverMaxBatch)
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	return nil
}

// Log is the append-only event log on JetStream. It is safe for concurrent
// use.
type Log struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	events  jetstream.Stream
	keysStr jetstream.Stream
	cfg     LogConfig
	keys    *Keys
	// void holds the positions that are not events (see void.go), read
	// once when the log opens.
	void [][2]uint64

	// The group commits of the events and of the keys; see commit.go.
	commit    *committer
	keyCommit *committer
}

// OpenLog creates or updates the streams and starts the commit workers.
func OpenLog(ctx context.Context, nc *nats.Conn, cfg LogConfig) (*Log, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open log: %w: %w", ErrUnavailable, err)
	}
	events, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      EventsStream,
		Subjects:  []string{eventsSubjectPrefix + ">"},
		Storage:   jetstream.FileStorage,
		Replicas:  cfg.Replicas,
		Retention: jetstream.LimitsPolicy,
		MaxMsgs:   -1,
		MaxBytes:  -1,
		MaxAge:    0,
		// The log is immutable: history is never rewritten, only appended.
		DenyDelete:         true,
		DenyPurge:          true,
		AllowAtomicPublish: true,
		AllowDirect:        true,
	})
	if err != nil {
		return nil, fmt.Errorf("open log: stream %s: %w: %w", EventsStream, ErrUnavailable, err)
	}
	keysStr, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        KeysStream,
		Subjects:    []string{keysSubjectPrefix + ">", keyctlPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		AllowDirect: true,
		// First contacts' keys are written in groups (Keys.Create).
		AllowAtomicPublish: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open log: stream %s: %w: %w", KeysStream, ErrUnavailable, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, snapshotStreamConfig(cfg.Replicas)); err != nil {
		return nil, fmt.Errorf("open log: stream %s: %w: %w", SnapshotsStream, ErrUnavailable, err)
	}
	l := &Log{
		nc:      nc,
		js:      js,
		events:  events,
		keysStr: keysStr,
		cfg:     cfg,
	}
	l.keys = newKeys(l)
	if l.commit, err = newCommitter(nc, cfg, eventsSubjectPrefix); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	keyCfg := cfg
	keyCfg.OnBatch = nil
	if l.keyCommit, err = newCommitter(nc, keyCfg, keysSubjectPrefix); err != nil {
		l.commit.close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := l.keys.rings.reload(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := l.keys.migrateLegacy(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := l.loadVoid(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	return l, nil
}

// Close stops the commit workers once their current batch is settled.
// Appends still queued, and any made later, fail with ErrUnavailable.
// Close does not close the connection, which belongs to the caller.
func (l *Log) Close() {
	if l.commit != nil {
		l.commit.close()
	}
	if l.keyCommit != nil {
		l.keyCommit.close()
	}
}

// Created returns the time the event stream was created, which tells one
// log from another made under the same name.
func (l *Log) Created(ctx context.Context) (time.Time, error) {
	info, err := l.events.Info(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return info.Created, nil
}

// JetStream returns the JetStream context the log uses.
func (l *Log) JetStream() jetstream.JetStream { return l.js }

// Stream returns the event stream.
func (l *Log) Stream() jetstream.Stream { return l.events }
