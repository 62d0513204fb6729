package eventstore

// Rotation takes away the KEKs named by erasure notes (docs/erasure.md):
//
//  1. a new ring is written in a stream of its own, with new KEKs for the
//     noted shards; its write only succeeds on an empty stream, so racing
//     rotators agree on it;
//  2. the marker moves to it (checked against the marker read), so one
//     rotator goes on and new keys are sealed under the new ring;
//  3. the sweep seals each key of the rotated shards again under its new
//     KEK (each write checked against the record read);
//  4. the old ring's stream is deleted, on every replica;
//  5. a fence stream is made; once every replica of the fence is current,
//     every replica has applied the deletion before it (the meta layer
//     applies its log in order), and an erased record says so.
//
// Every step is checked or idempotent, so any instance may run it, and a
// rotation cut short is finished by the next.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func keyfenceStream(gen uint64) string  { return keyfenceStreamPrefix + strconv.FormatUint(gen, 10) }
func keyfenceSubject(gen uint64) string { return keyfenceSubjectPrefix + strconv.FormatUint(gen, 10) }

// erasedRecord says that every ring older than Gen is gone from every
// replica, and so is every KEK named by a note up to Covered.
type erasedRecord struct {
	Gen     uint64    `json:"gen"`
	Covered uint64    `json:"covered"`
	At      time.Time `json:"at"`
}

// ErasureStatus is the state of erasures across the key store.
type ErasureStatus struct {
	// Gen is the ring in use; Covered the last note its rotation took in.
	Gen, Covered uint64
	// Confirmed is the last note whose erasure is complete on every
	// replica, and ConfirmedAt when that was recorded.
	Confirmed   uint64
	ConfirmedAt time.Time
	// Pending counts the notes written after Confirmed.
	Pending int
	// Waiting names the replicas not yet known to have applied the last
	// ring deletion.
	Waiting []string

	// Rotations counts the rotations run by the call that returned
	// this status.
	Rotations int `json:"-"`
}

// rotate runs one rotation if notes are waiting, and finishes any rotation
// left half done. It reports whether the marker moved.
func (k *Keys) rotate(ctx context.Context) (bool, error) {
	r := k.rings
	m, mseq, err := r.readMarker(ctx)
	if err != nil {
		return false, err
	}
	gens, err := r.ringGens(ctx)
	if err != nil {
		return false, err
	}
	notes, last, err := k.notesAfter(ctx, m.Covered)
	if err != nil {
		return false, err
	}
	if last == m.Covered && (len(gens) == 0 || gens[0] >= m.Gen) {
		return false, nil // the usual case: nothing to do
	}
	cur, err := r.readRing(ctx, m.Gen)
	if err != nil {
		return false, fmt.Errorf("rotate: ring in use: %w", err)
	}
	if err := k.retireOlder(ctx, cur); err != nil {
		return false, err
	}
	if last == m.Covered {
		return false, nil
	}
	shards := map[int]bool{}
	for _, n := range notes {
		if n.Shard >= 0 && n.Shard < keyShards && cur.KEKs[n.Shard].ID == n.KEK {
			shards[n.Shard] = true
		}
	}
	next := cur
	if len(shards) > 0 {
		fresh, err := newRing(m.Gen+1, cur, shards)
		if err != nil {
			return false, err
		}
		if next, err = r.writeRing(ctx, fresh); isWrongLastSequence(err) {
			// Written by a rotator that stopped, or one racing this one:
			// take it as it is.
			next, err = r.readRing(ctx, m.Gen+1)
		}
		if err != nil {
			return false, fmt.Errorf("rotate: new ring: %w", err)
		}
	}
	// Notes are covered in order, up to the first one the new ring leaves
	// in place (possible only with a ring taken from another rotator).
	covered := m.Covered
	for _, n := range notes {
		if n.Shard >= 0 && n.Shard < keyShards && next.KEKs[n.Shard].ID == n.KEK {
			break
		}
		covered = n.seq
	}
	b, _ := json.Marshal(keyringMarker{Gen: next.Gen, Covered: covered})
	if _, err := k.log.js.Publish(ctx, keyctlCurrent, b, jetstream.WithExpectLastSequencePerSubject(mseq)); err != nil {
		if isWrongLastSequence(err) {
			return false, nil // another rotator moved it first
		}
		return false, fmt.Errorf("rotate: marker: %w: %w", ErrUnavailable, err)
	}
	r.forget()
	if next.Gen == cur.Gen {
		return true, nil
	}
	return true, k.retireOlder(ctx, next)
}

// retireOlder seals again, under cur, every key still sealed under an
// older ring, deletes the older rings' streams and makes the fence that
// tells when every replica has deleted them.
func (k *Keys) retireOlder(ctx context.Context, cur *ring) error {
	gens, err := k.rings.ringGens(ctx)
	if err != nil {
		return err
	}
	var older []uint64
	for _, g := range gens {
		if g < cur.Gen {
			older = append(older, g)
		}
	}
	if len(older) == 0 {
		return nil
	}
	for _, g := range older {
		old, err := k.rings.readRing(ctx, g)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for s := range keyShards {
			if old.KEKs[s].ID != cur.KEKs[s].ID {
				if err := k.sweep(ctx, s, old.KEKs[s], cur.KEKs[s]); err != nil {
					return err
				}
			}
		}
	}
	for _, g := range older {
		if err := k.log.js.DeleteStream(ctx, keyringStream(g)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("rotate: delete ring %d: %w: %w", g, ErrUnavailable, err)
		}
	}
	return k.makeFence(ctx, cur.Gen)
}

// sweep seals every key of shard still under from again under to.
func (k *Keys) sweep(ctx context.Context, shard int, from, to kek) error {
	for pass := 0; ; pass++ {
		if pass == 8 {
			return fmt.Errorf("rotate: shard %03x: %w: keys kept changing", shard, ErrUnavailable)
		}
		var stale []Entry
		err := k.lastPerSubject(ctx, fmt.Sprintf("%s%03x.*", keysSubjectPrefix, shard), func(e Entry) {
			if e.Header.Get(hdrKeyDestroyed) == "" && e.Header.Get(hdrKeyKEK) == from.ID {
				stale = append(stale, e)
			}
		})
		if err != nil {
			return err
		}
		if len(stale) == 0 {
			return nil
		}
		for _, e := range stale {
			if err := k.reseal(ctx, e, from, to); err != nil {
				return err
			}
		}
	}
}

// reseal writes the key of record e, sealed under from, again under to,
// and removes the old record. A record that changed since it was read is
// left to the sweep's next pass.
func (k *Keys) reseal(ctx context.Context, e Entry, from, to kek) error {
	token := lastToken(e.Subject)
	key, err := unwrapKey(from.Secret, token, e.Header.Get(hdrKeyID), e.Data)
	if err != nil {
		return fmt.Errorf("rotate: key %s at %d: %w: %w", token, e.Seq, ErrKeyMissing, err)
	}
	note, _ := strconv.ParseUint(e.Header.Get(hdrErasureNote), 10, 64)
	msg, err := keyWrite{subj: e.Subject, token: token, key: key, note: note}.message(to)
	if err != nil {
		return err
	}
	_, err = k.log.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(e.Seq))
	switch {
	case isWrongLastSequence(err):
		return nil
	case err != nil:
		return fmt.Errorf("rotate: key %s: %w: %w", token, ErrUnavailable, err)
	}
	// The old record opens for nobody once its ring is gone; it goes so
	// that the stream does not keep one per rotation.
	if err := k.log.keysStr.DeleteMsg(ctx, e.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("rotate: key %s: %w: %w", token, ErrUnavailable, err)
	}
	return nil
}

func lastToken(subject string) string {
	for i := len(subject) - 1; i >= 0; i-- {
		if subject[i] == '.' {
			return subject[i+1:]
		}
	}
	return subject
}

// lastPerSubject calls fn with the last record of every subject matching
// filter in the key stream.
func (k *Keys) lastPerSubject(ctx context.Context, filter string, fn func(Entry)) error {
	cons, err := k.log.js.OrderedConsumer(ctx, KeysStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("rotate: read %s: %w: %w", filter, ErrUnavailable, err)
	}
	info := cons.CachedInfo()
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.log.cfg.PublishTimeout)
		_ = k.log.js.DeleteConsumer(dctx, KeysStream, info.Name)
		cancel()
	}()
	if info.NumPending == 0 {
		return nil
	}
	for {
		batch, err := cons.Fetch(readBuffer, jetstream.FetchMaxWait(k.log.cfg.PublishTimeout))
		if err != nil {
			return fmt.Errorf("rotate: read %s: %w: %w", filter, ErrUnavailable, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			e, err := entryOf(m)
			if err != nil {
				return err
			}
			fn(e)
			md, _ := m.Metadata()
			if md != nil && md.NumPending == 0 {
				return batch.Error()
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("rotate: read %s: %w: %w", filter, ErrUnavailable, err)
		}
		if n == 0 {
			return fmt.Errorf("rotate: read %s: %w: no records within %s", filter, ErrUnavailable, k.log.cfg.PublishTimeout)
		}
	}
}

type seqNote struct {
	erasureNote
	seq uint64
}

// notesAfter reads the erasure notes after position after; last is the
// position of the last one (after when there is none).
func (k *Keys) notesAfter(ctx context.Context, after uint64) ([]seqNote, uint64, error) {
	var notes []seqNote
	last := after
	err := k.log.readSubject(ctx, KeysStream, keyctlNotes, after, func(e Entry) error {
		var n erasureNote
		if err := json.Unmarshal(e.Data, &n); err != nil {
			n.Shard = -1 // unreadable: covered, rotating nothing
		}
		notes = append(notes, seqNote{n, e.Seq})
		last = e.Seq
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("erasure notes: %w", err)
	}
	return notes, last, nil
}

// makeFence creates gen's fence stream and deletes older ones.
func (k *Keys) makeFence(ctx context.Context, gen uint64) error {
	_, err := k.log.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     keyfenceStream(gen),
		Subjects: []string{keyfenceSubject(gen)},
		Storage:  jetstream.FileStorage,
		Replicas: k.log.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("rotate: fence %d: %w: %w", gen, ErrUnavailable, err)
	}
	lister := k.log.js.StreamNames(ctx, jetstream.WithStreamListSubject(keyfenceSubjectPrefix+"*"))
	var stale []string
	for name := range lister.Name() {
		if g, err := strconv.ParseUint(name[len(keyfenceStreamPrefix):], 10, 64); err == nil && g < gen {
			stale = append(stale, name)
		}
	}
	for _, name := range stale {
		if err := k.log.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("rotate: delete fence %s: %w: %w", name, ErrUnavailable, err)
		}
	}
	return nil
}
