package eventstore

// Keyrings: the keys that seal the profile keys (docs/erasure.md). A
// profile key is stored only sealed under its shard's key-encryption key
// (KEK); the KEKs of one generation form a ring, kept in a stream of its
// own. When a block destroys a profile key, the next rotation gives that
// shard a new KEK, reseals the shard's other keys under it and deletes the
// old ring's stream. Deleting a stream removes its files, Raft log
// included, on every replica, and a replica that was down removes them
// when it comes back; whatever copy of the sealed profile key is left
// behind (a Raft log, a replica that caught up from a snapshot without
// overwriting, freed disk blocks) then opens for nobody.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// keyShards is how many KEKs a ring holds. A rotation reseals the keys
	// of the shards it rotates: about profiles/keyShards each.
	keyShards = 1024

	keyringStreamPrefix   = "TICKETBUS_KEYRING_"
	keyringSubjectPrefix  = "tb.keyring."
	keyfenceStreamPrefix  = "TICKETBUS_KEYFENCE_"
	keyfenceSubjectPrefix = "tb.keyfence."

	// Control subjects of the key stream.
	keyctlPrefix  = "tb.keyctl."
	keyctlCurrent = keyctlPrefix + "current" // keyringMarker: the ring in use
	keyctlNotes   = keyctlPrefix + "notes"   // erasureNote: a shard whose KEK must go
	keyctlErased  = keyctlPrefix + "erased"  // erasedRecord: rotations done on every replica
)

// ring is one generation of KEKs, indexed by shard.
type ring struct {
	Gen  uint64 `json:"gen"`
	KEKs []kek  `json:"keks"`
}

type kek struct {
	ID     string `json:"id"`
	Secret []byte `json:"secret"`
}

// keyringMarker names the ring in use. Covered is the last erasure note
// whose KEK no ring from Gen on holds.
type keyringMarker struct {
	Gen     uint64 `json:"gen"`
	Covered uint64 `json:"covered"`
}

// erasureNote records that a destroyed profile key was sealed under KEK
// in shard Shard, so that KEK must be rotated away.
type erasureNote struct {
	Shard int    `json:"shard"`
	KEK   string `json:"kek"`
}

func keyringStream(gen uint64) string  { return keyringStreamPrefix + strconv.FormatUint(gen, 10) }
func keyringSubject(gen uint64) string { return keyringSubjectPrefix + strconv.FormatUint(gen, 10) }

// keyShard picks a token's shard from a hash of it.
func keyShard(token string) int {
	sum := sha256.Sum256([]byte(token))
	return int(binary.BigEndian.Uint16(sum[:2]) % keyShards)
}

// keyrings caches the rings the key store has read: every KEK of every
// ring stream still present, and the marker.
type keyrings struct {
	log *Log
	// loading is held while the rings are read, so that concurrent
	// callers read them once.
	loading sync.Mutex
	mu      sync.Mutex
	// marker and its sequence on keyctlCurrent, as last read.
	marker    keyringMarker
	markerSeq uint64
	current   *ring
	keks      map[string][]byte // id -> secret, of the rings loaded
	loads     int               // completed reloads
	stale     bool              // the marker moved since the last reload
}

// currentRing returns the ring in use and its marker's sequence, reading
// them when not yet known.
func (r *keyrings) currentRing(ctx context.Context) (*ring, uint64, error) {
	r.mu.Lock()
	cur, seq, stale := r.current, r.markerSeq, r.stale
	r.mu.Unlock()
	if cur != nil && !stale {
		return cur, seq, nil
	}
	if err := r.reload(ctx); err != nil {
		return nil, 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current, r.markerSeq, nil
}

// kek returns the secret of a KEK by id, reading the rings again once if
// it is not among those loaded. ok is false when no ring present holds it.
func (r *keyrings) kek(ctx context.Context, id string) ([]byte, bool, error) {
	r.mu.Lock()
	s, ok := r.keks[id]
	r.mu.Unlock()
	if ok {
		return s, true, nil // a KEK never changes; a stale cache only lacks new ones
	}
	if err := r.reload(ctx); err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok = r.keks[id]
	return s, ok, nil
}

// readMarker reads the marker from the key stream's leader.
func (r *keyrings) readMarker(ctx context.Context) (keyringMarker, uint64, error) {
	e, err := r.log.leaderGet(ctx, KeysStream, msgGetRequest{LastFor: keyctlCurrent})
	if err != nil {
		return keyringMarker{}, 0, err
	}
	var m keyringMarker
	if err := json.Unmarshal(e.Data, &m); err != nil || m.Gen == 0 {
		return keyringMarker{}, 0, fmt.Errorf("%w: keyring marker at %d: %v", ErrInvalid, e.Seq, err)
	}
	return m, e.Seq, nil
}

// reload reads the marker and every ring stream present, making the first
// ring when there is none yet. Callers that wait for a reload under way
// take its result.
func (r *keyrings) reload(ctx context.Context) error {
	r.mu.Lock()
	before := r.loads
	r.mu.Unlock()
	r.loading.Lock()
	defer r.loading.Unlock()
	r.mu.Lock()
	done := r.loads != before && !r.stale
	r.mu.Unlock()
	if done {
		return nil
	}
	m, seq, err := r.readMarker(ctx)
	if errors.Is(err, ErrNotFound) {
		if err := r.bootstrap(ctx); err != nil {
			return err
		}
		m, seq, err = r.readMarker(ctx)
	}
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	gens, err := r.ringGens(ctx)
	if err != nil {
		return err
	}
	keks := map[string][]byte{}
	var cur *ring
	for _, g := range gens {
		if g > m.Gen {
			continue // a rotation under way that may never be adopted
		}
		rg, err := r.readRing(ctx, g)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return err
		}
		for _, k := range rg.KEKs {
			keks[k.ID] = k.Secret
		}
		if g == m.Gen {
			cur = rg
		}
	}
	if cur == nil {
		return fmt.Errorf("keyring: %w: the ring in use, generation %d, is missing", ErrKeyMissing, m.Gen)
	}
	r.mu.Lock()
	r.marker, r.markerSeq, r.current, r.keks = m, seq, cur, keks
	r.stale = false
	r.loads++
	r.mu.Unlock()
	return nil
}

// ringGens lists the generations whose ring stream exists, in order.
func (r *keyrings) ringGens(ctx context.Context) ([]uint64, error) {
	lister := r.log.js.StreamNames(ctx, jetstream.WithStreamListSubject(keyringSubjectPrefix+"*"))
	var gens []uint64
	for name := range lister.Name() {
		if g, err := strconv.ParseUint(strings.TrimPrefix(name, keyringStreamPrefix), 10, 64); err == nil {
			gens = append(gens, g)
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("keyring: list rings: %w: %w", ErrUnavailable, err)
	}
	slices.Sort(gens)
	return gens, nil
}

// readRing reads one generation's ring from its stream's leader.
func (r *keyrings) readRing(ctx context.Context, gen uint64) (*ring, error) {
	e, err := r.log.leaderGet(ctx, keyringStream(gen), msgGetRequest{LastFor: keyringSubject(gen)})
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound {
			return nil, ErrNotFound
		}
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, ErrNotFound // the stream is gone
		}
		return nil, fmt.Errorf("keyring %d: %w", gen, err)
	}
	var rg ring
	if err := json.Unmarshal(e.Data, &rg); err != nil || rg.Gen != gen || len(rg.KEKs) != keyShards {
		return nil, fmt.Errorf("keyring %d: %w: unreadable ring (%v)", gen, ErrInvalid, err)
	}
	return &rg, nil
}

// bootstrap makes generation 1 and points the marker at it. Racing
// instances agree: the ring and the marker are each written only where
// nothing is yet.
func (r *keyrings) bootstrap(ctx context.Context) error {
	fresh, err := newRing(1, nil, nil)
	if err != nil {
		return err
	}
	if _, err := r.writeRing(ctx, fresh); err != nil && !isWrongLastSequence(err) {
		return err
	}
	b, _ := json.Marshal(keyringMarker{Gen: 1})
	_, err = r.log.js.Publish(ctx, keyctlCurrent, b, jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil && !isWrongLastSequence(err) {
		return fmt.Errorf("keyring: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// newRing returns generation gen: prev's KEKs, with new ones for the
// shards in rotate (every shard when prev is nil).
func newRing(gen uint64, prev *ring, rotate map[int]bool) (*ring, error) {
	rg := &ring{Gen: gen, KEKs: make([]kek, keyShards)}
	for i := range rg.KEKs {
		if prev != nil && !rotate[i] {
			rg.KEKs[i] = prev.KEKs[i]
			continue
		}
		k := kek{ID: uuid.NewString(), Secret: make([]byte, KeySize)}
		if _, err := rand.Read(k.Secret); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		rg.KEKs[i] = k
	}
	return rg, nil
}

// writeRing creates rg's stream and writes rg into it, only if the stream
// holds nothing yet: a wrong-last-sequence error means another writer got
// there first.
func (r *keyrings) writeRing(ctx context.Context, rg *ring) (*ring, error) {
	_, err := r.log.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      keyringStream(rg.Gen),
		Subjects:  []string{keyringSubject(rg.Gen)},
		Storage:   jetstream.FileStorage,
		Replicas:  r.log.cfg.Replicas,
		Retention: jetstream.LimitsPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("keyring %d: create stream: %w: %w", rg.Gen, ErrUnavailable, err)
	}
	b, err := json.Marshal(rg)
	if err != nil {
		return nil, err
	}
	if _, err := r.log.js.Publish(ctx, keyringSubject(rg.Gen), b, jetstream.WithExpectLastSequence(0)); err != nil {
		return nil, err
	}
	return rg, nil
}

// forget marks what is cached stale, so that the next use of the ring in
// use reads the rings again; until then the ring read last stays, as no
// caller may see none.
func (r *keyrings) forget() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}

// wrapKey seals a profile key under a KEK; the additional data binds it
// to its token and id. The record is nonce || ciphertext.
func wrapKey(kekSecret []byte, token string, key Key) ([]byte, error) {
	gcm, err := newGCM(kekSecret)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return gcm.Seal(nonce, nonce, key.Secret, []byte(token+"\x00"+key.ID)), nil
}

// unwrapKey opens a record written by wrapKey.
func unwrapKey(kekSecret []byte, token, id string, sealed []byte) (Key, error) {
	gcm, err := newGCM(kekSecret)
	if err != nil {
		return Key{}, err
	}
	if id == "" || len(sealed) < gcm.NonceSize() {
		return Key{}, fmt.Errorf("%w: sealed key record of %d bytes, id %q", ErrInvalid, len(sealed), id)
	}
	secret, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(token+"\x00"+id))
	if err != nil || len(secret) != KeySize {
		return Key{}, fmt.Errorf("%w: sealed key record does not open: %v", ErrInvalid, err)
	}
	return Key{ID: id, Secret: secret}, nil
}
