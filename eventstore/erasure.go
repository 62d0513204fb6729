package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Erasure states of one profile, as ErasureState reports them.
const (
	// ErasureNone: the profile's key was never destroyed (not blocked, or
	// blocked before it wrote anything).
	ErasureNone = "none"
	// ErasurePending: the key is destroyed and its text unreadable through
	// Ticketbus, but the KEK that sealed it is not yet gone from every
	// replica's files.
	ErasurePending = "pending"
	// ErasureComplete: no file of any replica holds what opens the text.
	ErasureComplete = "complete"
	// ErasureUnverified: destroyed before erasures were tracked.
	ErasureUnverified = "unverified"
	// ErasureKeyLive: the profile has a key that was never destroyed; for
	// a blocked profile, its destruction is still to come (it is retried).
	ErasureKeyLive = "key_live"
)

// ErasureState says how far the erasure of a token's last destroyed key
// has gone; a key made after an unblock keeps its predecessor's state.
func (k *Keys) ErasureState(ctx context.Context, token string) (string, error) {
	rec, err := k.fetch(ctx, token)
	switch {
	case errors.Is(err, ErrNotFound):
		return ErasureNone, nil
	case err != nil:
		return "", err
	case rec.note == 0 && rec.tombstone():
		return ErasureUnverified, nil
	case rec.note == 0:
		return ErasureKeyLive, nil
	}
	er, _, err := k.readErased(ctx)
	if err != nil {
		return "", err
	}
	if er.Covered >= rec.note {
		return ErasureComplete, nil
	}
	return ErasurePending, nil
}

// readErased reads the last erased record; a zero record when none.
func (k *Keys) readErased(ctx context.Context) (erasedRecord, uint64, error) {
	e, err := k.log.leaderGet(ctx, KeysStream, msgGetRequest{LastFor: keyctlErased})
	if errors.Is(err, ErrNotFound) {
		return erasedRecord{}, 0, nil
	}
	if err != nil {
		return erasedRecord{}, 0, fmt.Errorf("erasure: %w", err)
	}
	var er erasedRecord
	if err := json.Unmarshal(e.Data, &er); err != nil {
		return erasedRecord{}, 0, fmt.Errorf("erasure: %w: unreadable record at %d: %v", ErrInvalid, e.Seq, err)
	}
	return er, e.Seq, nil
}

// confirm records the erasures the marker covers as complete once every
// replica has deleted the rings older than the one in use, and returns the
// state of erasures.
func (k *Keys) confirm(ctx context.Context, now time.Time) (ErasureStatus, error) {
	return k.status(ctx, now, true)
}

// Status returns the state of erasures without recording anything.
func (k *Keys) Status(ctx context.Context) (ErasureStatus, error) {
	return k.status(ctx, time.Time{}, false)
}

func (k *Keys) status(ctx context.Context, now time.Time, record bool) (ErasureStatus, error) {
	m, _, err := k.rings.readMarker(ctx)
	if err != nil {
		return ErasureStatus{}, err
	}
	er, erSeq, err := k.readErased(ctx)
	if err != nil {
		return ErasureStatus{}, err
	}
	st := ErasureStatus{Gen: m.Gen, Covered: m.Covered, Confirmed: er.Covered, ConfirmedAt: er.At}
	if m.Covered > er.Covered {
		waiting, err := k.waitingFor(ctx, m.Gen, record)
		if err != nil {
			return ErasureStatus{}, err
		}
		st.Waiting = waiting
		if len(waiting) == 0 && record {
			b, _ := json.Marshal(erasedRecord{Gen: m.Gen, Covered: m.Covered, At: now.UTC()})
			_, err := k.log.js.Publish(ctx, keyctlErased, b, jetstream.WithExpectLastSequencePerSubject(erSeq))
			switch {
			case err == nil:
				st.Confirmed, st.ConfirmedAt = m.Covered, now.UTC()
			case !isWrongLastSequence(err): // another instance recorded it first
				return ErasureStatus{}, fmt.Errorf("erasure: %w: %w", ErrUnavailable, err)
			}
		}
	}
	notes, last, err := k.notesAfter(ctx, st.Confirmed)
	if err != nil {
		return ErasureStatus{}, err
	}
	st.Pending = len(notes)
	if last > m.Covered {
		st.Waiting = append(st.Waiting, "a keyring rotation")
	}
	return st, nil
}

// waitingFor names what keeps the rings older than gen from being known
// gone everywhere: a rotation not finished, or the replicas of gen's fence
// that are not current. The meta layer applies its log in order on every
// server, so a replica current in the fence, made after the deletions, has
// deleted the older rings' files.
// A missing fence is made when create is set.
func (k *Keys) waitingFor(ctx context.Context, gen uint64, create bool) ([]string, error) {
	gens, err := k.rings.ringGens(ctx)
	if err != nil {
		return nil, err
	}
	if len(gens) > 0 && gens[0] < gen {
		return []string{fmt.Sprintf("ring %d not yet deleted", gens[0])}, nil
	}
	st, err := k.log.js.Stream(ctx, keyfenceStream(gen))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if !create {
			return []string{fmt.Sprintf("fence %d not yet made", gen)}, nil
		}
		if err := k.makeFence(ctx, gen); err != nil {
			return nil, err
		}
		st, err = k.log.js.Stream(ctx, keyfenceStream(gen))
	}
	if err != nil {
		return nil, fmt.Errorf("erasure: fence %d: %w: %w", gen, ErrUnavailable, err)
	}
	info := st.CachedInfo()
	c := info.Cluster
	if c == nil || info.Config.Replicas <= 1 {
		return nil, nil
	}
	var waiting []string
	if c.Leader == "" {
		waiting = append(waiting, "no fence leader yet")
	}
	for _, p := range c.Replicas {
		if p.Offline || !p.Current {
			waiting = append(waiting, p.Name)
		}
	}
	if len(c.Replicas)+1 < info.Config.Replicas {
		waiting = append(waiting, fmt.Sprintf("%d of %d replicas placed", len(c.Replicas)+1, info.Config.Replicas))
	}
	return waiting, nil
}

// Secrets returns every byte string that opens the texts of token's
// messages as the key store holds it now: the profile key, its record as
// sealed, and the KEK it is sealed under. Erasure checks look for them in
// every file (eventstore and cluster tests).
func (k *Keys) Secrets(ctx context.Context, token string) (map[string][]byte, error) {
	subj, err := keySubject(token)
	if err != nil {
		return nil, err
	}
	e, err := k.log.lastOnSubject(ctx, KeysStream, subj)
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", token, err)
	}
	if e.Header.Get(hdrKeyDestroyed) != "" {
		return nil, fmt.Errorf("secrets of %s: %w", token, ErrKeyDestroyed)
	}
	kekSecret, ok, err := k.rings.kek(ctx, e.Header.Get(hdrKeyKEK))
	if err != nil || !ok {
		return nil, fmt.Errorf("secrets of %s: no KEK %s: %v", token, e.Header.Get(hdrKeyKEK), err)
	}
	key, err := unwrapKey(kekSecret, token, e.Header.Get(hdrKeyID), e.Data)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"key": key.Secret, "sealed key": e.Data, "kek": append([]byte(nil), kekSecret...)}, nil
}

// Erase runs the rotations that erasure notes call for, then records the
// erasures complete on every replica; it returns their state and how many
// rotations it ran. now is the time recorded for a confirmation.
func (k *Keys) Erase(ctx context.Context, now time.Time) (ErasureStatus, int, error) {
	rotations := 0
	for range 4 {
		moved, err := k.rotate(ctx)
		if err != nil {
			return ErasureStatus{}, rotations, err
		}
		if !moved {
			break
		}
		rotations++
	}
	st, err := k.confirm(ctx, now)
	return st, rotations, err
}
