package eventstore

// Per-profile keys for crypto-shredding: personal data in events is sealed
// with its profile's key, and destroying the key forgets the data while the
// immutable event log stays whole. That holds only if no copy of the key
// survives. A profile key is stored only sealed under its shard's KEK
// (keyring.go), so a copy of its record that outlives Destroy (a Raft log, a
// replica that caught up without overwriting, a freed disk block) is useless
// once the next rotation (rotation.go) has deleted that KEK's ring. Destroy
// also overwrites the record at once with SecureDeleteMsg, so that on one
// node the record is gone from the stream's files before the block's reply.
// The process's memory (this cache, client buffers) may keep copies until
// the garbage collector's memory is reused.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/internal/lru"
)

// KeySize is the length of a key's secret: AES-256.
const KeySize = 32

const (
	hdrKeyID = "Tb-Key-Id"
	// hdrKeyKEK names the KEK a key record is sealed under; on a tombstone,
	// the KEK the destroyed key was sealed under.
	hdrKeyKEK = "Tb-Kek-Id"
	// hdrKeyDestroyed marks a tombstone, the record that replaces a
	// destroyed key on its subject; its value is that key's id.
	hdrKeyDestroyed = "Tb-Key-Destroyed"
	// hdrErasureNote is a tombstone's erasure note: its sequence on
	// keyctlNotes, which says when the erasure is complete.
	hdrErasureNote = "Tb-Erasure-Note"
)

// ErrKeyDestroyed reports that a token's key was destroyed (a block) and
// none was made since.
var ErrKeyDestroyed = errors.New("eventstore: key destroyed")

// Key is a profile's encryption key.
type Key struct {
	ID     string
	Secret []byte // KeySize bytes
}

func (k Key) clone() Key {
	return Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)}
}

// keyRecord is the last record on a token's subject: a key, or the
// tombstone of a destroyed one.
type keyRecord struct {
	seq       uint64
	key       Key    // when not a tombstone
	kek       string // the KEK it is (or the destroyed key was) sealed under
	destroyed string // a tombstone's key id
	note      uint64 // a tombstone's erasure note, or the one a key made after it carries
}

func (r keyRecord) tombstone() bool { return r.key.ID == "" }

// Keys stores one key per profile token in KeysStream, subject
// "tb.key.<shard>.<token>". A token's subject holds its current key, sealed
// under its shard's KEK, or once the key is destroyed a tombstone; a new
// key is only ever written on an empty subject or over a tombstone. So a
// key id that is not the current one belongs to a destroyed key. Every
// read goes to the stream's leader: a replica that has not applied a new
// key would answer "no key". It is safe for concurrent use.
type Keys struct {
	log   *Log
	rings *keyrings
	mu    sync.Mutex
	cache *lru.LRU[Key] // bounded: a key not in it is read from the leader
}

// keyCacheSize bounds the keys a process keeps in memory: the profiles
// being written to and the texts being opened by the views.
const keyCacheSize = 50000

func newKeys(l *Log) *Keys {
	return &Keys{log: l, rings: &keyrings{log: l}, cache: lru.New[Key](keyCacheSize)}
}

// Keys returns the log's key store.
func (l *Log) Keys() *Keys { return l.keys }

func keySubject(token string) (string, error) {
	if token == "" || strings.ContainsAny(token, "*>. \t\r\n") {
		return "", fmt.Errorf("%w: key token %q", ErrInvalid, token)
	}
	return fmt.Sprintf("%s%03x.%s", keysSubjectPrefix, keyShard(token), token), nil
}

// Create makes the key of a token that is expected to have none (a first
// contact), without reading first; it falls back to GetOrCreate when the
// token has a record after all.
func (k *Keys) Create(ctx context.Context, token string) (Key, error) {
	subj, err := keySubject(token)
	if err != nil {
		return Key{}, err
	}
	key := Key{ID: uuid.NewString(), Secret: make([]byte, KeySize)}
	if _, err := rand.Read(key.Secret); err != nil {
		return Key{}, fmt.Errorf("create key %s: %w", token, err)
	}
	w := keyWrite{subj: subj, token: token, key: key}
	seq, kekID, err := k.store(ctx, w, 0)
	switch {
	case isWrongLastSequence(err):
		return k.GetOrCreate(ctx, token)
	case err != nil:
		return Key{}, fmt.Errorf("create key %s: %w", token, err)
	}
	if err := k.keepSealed(ctx, w, seq, kekID); err != nil {
		return Key{}, err
	}
	k.remember(token, key)
	return key, nil
}

// GetOrCreate returns the token's key, creating it if there is none or the
// last was destroyed. Two racing creators agree: the write only succeeds
// on the subject as it was read, and the loser reads the winner's key.
func (k *Keys) GetOrCreate(ctx context.Context, token string) (Key, error) {
	if key, ok := k.cached(token); ok {
		return key, nil
	}
	subj, err := keySubject(token)
	if err != nil {
		return Key{}, err
	}
	for range 3 {
		rec, err := k.fetch(ctx, token)
		var expect uint64
		switch {
		case err == nil && !rec.tombstone():
			return rec.key.clone(), nil
		case err == nil:
			expect = rec.seq
		case !errors.Is(err, ErrNotFound):
			return Key{}, err
		}
		key := Key{ID: uuid.NewString(), Secret: make([]byte, KeySize)}
		if _, err := rand.Read(key.Secret); err != nil {
			return Key{}, fmt.Errorf("create key %s: %w", token, err)
		}
		// A key made over a tombstone keeps its erasure note, so that the
		// profile's erasure stays visible after an unblock.
		w := keyWrite{subj: subj, token: token, key: key, note: rec.note}
		seq, kekID, err := k.store(ctx, w, expect)
		switch {
		case err == nil:
			if err := k.keepSealed(ctx, w, seq, kekID); err != nil {
				return Key{}, err
			}
			k.remember(token, key)
			return key, nil
		case isWrongLastSequence(err):
			continue // another creator won, or a destroy came between: read again
		default:
			return Key{}, fmt.Errorf("create key %s: %w", token, err)
		}
	}
	return Key{}, fmt.Errorf("create key %s: %w: the key kept changing", token, ErrUnavailable)
}

// keyWrite is a key record to write: the key, its subject and token, and
// the erasure note it carries over from the tombstone it replaces.
type keyWrite struct {
	subj, token string
	key         Key
	note        uint64
}

// message seals w's key under kk.
func (w keyWrite) message(kk kek) (*nats.Msg, error) {
	sealed, err := wrapKey(kk.Secret, w.token, w.key)
	if err != nil {
		return nil, err
	}
	msg := &nats.Msg{Subject: w.subj, Data: sealed, Header: nats.Header{}}
	msg.Header.Set(hdrKeyID, w.key.ID)
	msg.Header.Set(hdrKeyKEK, kk.ID)
	if w.note != 0 {
		msg.Header.Set(hdrErasureNote, strconv.FormatUint(w.note, 10))
	}
	return msg, nil
}

// store seals w's key under the ring in use and writes it if the subject's
// last record is still expect. It returns the record's sequence and the
// KEK it is sealed under.
func (k *Keys) store(ctx context.Context, w keyWrite, expect uint64) (uint64, string, error) {
	rg, _, err := k.rings.currentRing(ctx)
	if err != nil {
		return 0, "", err
	}
	kk := rg.KEKs[keyShard(w.token)]
	msg, err := w.message(kk)
	if err != nil {
		return 0, "", err
	}
	// Through the keys' group commit: concurrent first contacts' keys
	// share one atomic batch, and one fsync, as their events do.
	seqs, err := k.log.keyCommit.append(ctx, []Record{{Subject: msg.Subject, Data: msg.Data, Header: msg.Header, ExpectSubjectSeq: &expect}})
	if err != nil {
		if isWrongLastSequence(err) {
			return 0, "", err
		}
		return 0, "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return seqs[0], kk.ID, nil
}

// keepSealed makes sure a key just written at seq under kekID is sealed
// under the ring in use. A rotation moves the marker, then seals its
// shards' keys again: a key written before the move is one its sweep
// finds; one written after it, under a KEK the rotation is taking away, is
// sealed again here, over its own record.
func (k *Keys) keepSealed(ctx context.Context, w keyWrite, seq uint64, kekID string) error {
	shard := keyShard(w.token)
	for {
		m, _, err := k.rings.readMarker(ctx)
		if err != nil {
			return fmt.Errorf("create key %s: %w", w.token, err)
		}
		cur, _, err := k.rings.currentRing(ctx)
		if err != nil {
			return err
		}
		if cur.Gen != m.Gen {
			k.rings.forget()
			if cur, _, err = k.rings.currentRing(ctx); err != nil {
				return err
			}
		}
		if cur.KEKs[shard].ID == kekID {
			return nil
		}
		seq, kekID, err = k.store(ctx, w, seq)
		if isWrongLastSequence(err) {
			return nil // a rotation's sweep sealed it again first
		}
		if err != nil {
			return fmt.Errorf("create key %s: %w", w.token, err)
		}
	}
}

func isWrongLastSequence(err error) bool {
	if errors.Is(err, ErrConflict) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Get returns the token's key: ErrKeyDestroyed if it was destroyed and
// none made since, ErrNotFound if none was ever made.
func (k *Keys) Get(ctx context.Context, token string) (Key, error) {
	if key, ok := k.cached(token); ok {
		return key, nil
	}
	rec, err := k.fetch(ctx, token)
	if err != nil {
		return Key{}, err
	}
	if rec.tombstone() {
		return Key{}, fmt.Errorf("key %s: %w", token, ErrKeyDestroyed)
	}
	return rec.key.clone(), nil
}

// KeyState says what a token's subject holds last.
type KeyState int

// Key states.
const (
	KeyAbsent    KeyState = iota // nothing was ever written
	KeyTombstone                 // destroyed; the key before it may still await its erasure
	KeyLive                      // a key that opens texts
)

// State reads what the token's subject holds last, from the leader.
func (k *Keys) State(ctx context.Context, token string) (KeyState, error) {
	rec, err := k.fetch(ctx, token)
	switch {
	case errors.Is(err, ErrNotFound):
		return KeyAbsent, nil
	case err != nil:
		return 0, err
	case rec.tombstone():
		return KeyTombstone, nil
	}
	return KeyLive, nil
}

// fetch reads the token's last record from the leader, opens a key with
// its KEK and caches it.
func (k *Keys) fetch(ctx context.Context, token string) (keyRecord, error) {
	subj, err := keySubject(token)
	if err != nil {
		return keyRecord{}, err
	}
	for attempt := 0; ; attempt++ {
		e, err := k.log.lastOnSubject(ctx, KeysStream, subj)
		if errors.Is(err, ErrNotFound) {
			return keyRecord{}, fmt.Errorf("key %s: %w", token, ErrNotFound)
		}
		if err != nil {
			return keyRecord{}, fmt.Errorf("get key %s: %w", token, err)
		}
		kekID := e.Header.Get(hdrKeyKEK)
		if id := e.Header.Get(hdrKeyDestroyed); id != "" {
			note, _ := strconv.ParseUint(e.Header.Get(hdrErasureNote), 10, 64)
			return keyRecord{seq: e.Seq, destroyed: id, kek: kekID, note: note}, nil
		}
		id := e.Header.Get(hdrKeyID)
		secret, ok, err := k.rings.kek(ctx, kekID)
		if err != nil {
			return keyRecord{}, fmt.Errorf("get key %s: %w", token, err)
		}
		if !ok {
			// Sealed under a ring no longer present: a rotation's sweep
			// may just have sealed it again. Once more, then it is lost.
			if attempt == 0 {
				continue
			}
			return keyRecord{}, fmt.Errorf("get key %s: %w: sealed under KEK %s, which no ring holds", token, ErrKeyMissing, kekID)
		}
		key, err := unwrapKey(secret, token, id, e.Data)
		if err != nil {
			return keyRecord{}, fmt.Errorf("get key %s at %d: %w: %w", token, e.Seq, ErrKeyMissing, err)
		}
		k.remember(token, key)
		note, _ := strconv.ParseUint(e.Header.Get(hdrErasureNote), 10, 64)
		return keyRecord{seq: e.Seq, key: key, kek: kekID, note: note}, nil
	}
}

// Open returns the key with the given id for token: ErrErased if that key
// was destroyed, ErrNotFound if the token has no record at all.
func (k *Keys) Open(ctx context.Context, token, id string) (Key, error) {
	if key, ok := k.cached(token); ok && key.ID == id {
		return key, nil
	}
	// The cache may predate a destroy and a new key: ask the leader.
	rec, err := k.fetch(ctx, token)
	switch {
	case err != nil:
		return Key{}, err
	case rec.tombstone() || rec.key.ID != id:
		return Key{}, ErrErased
	}
	return rec.key.clone(), nil
}

// Destroy replaces the token's key with a tombstone, then erases every
// earlier record on its subject, overwriting it on disk, and forgets the
// cached key. Before the tombstone it writes an erasure note, which makes
// the next rotation take the key's KEK away; the note's sequence is
// returned (0 when there was no key). Destroying a missing key is not an
// error.
func (k *Keys) Destroy(ctx context.Context, token string) (uint64, error) {
	subj, err := keySubject(token)
	if err != nil {
		return 0, err
	}
	k.Forget(token)
	// A Get racing with the erase may have cached the key again.
	defer k.Forget(token)
	var tomb, note uint64
	for attempt := 0; tomb == 0; attempt++ {
		if attempt == 8 {
			return 0, fmt.Errorf("destroy key %s: %w: the key kept changing", token, ErrUnavailable)
		}
		rec, err := k.fetch(ctx, token)
		switch {
		case errors.Is(err, ErrNotFound):
			return 0, nil
		case err != nil:
			return 0, fmt.Errorf("destroy key %s: %w", token, err)
		case rec.tombstone():
			tomb, note = rec.seq, rec.note // destroyed already; finish the erase below
			continue
		}
		// The note first: a note whose tombstone never comes costs one
		// needless rotation, a tombstone without a note would keep the KEK.
		if note, err = k.writeNote(ctx, token, rec.kek); err != nil {
			return 0, fmt.Errorf("destroy key %s: %w", token, err)
		}
		msg := &nats.Msg{Subject: subj, Header: nats.Header{}}
		msg.Header.Set(hdrKeyDestroyed, rec.key.ID)
		msg.Header.Set(hdrKeyKEK, rec.kek)
		msg.Header.Set(hdrErasureNote, strconv.FormatUint(note, 10))
		ack, err := k.log.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rec.seq))
		switch {
		case err == nil:
			tomb = ack.Sequence
		case isWrongLastSequence(err):
			// Sealed again by a rotation, a key made after an unblock, or
			// another destroy: read again.
		default:
			return 0, fmt.Errorf("destroy key %s: %w: %w", token, ErrUnavailable, err)
		}
	}
	var seqs []uint64
	err = k.log.readSubject(ctx, KeysStream, subj, 0, func(e Entry) error {
		if e.Seq < tomb {
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("destroy key %s: %w", token, err)
	}
	if err := k.erase(ctx, seqs); err != nil {
		return 0, fmt.Errorf("destroy key %s: %w", token, err)
	}
	return note, nil
}

// writeNote records that the KEK of token's shard must be rotated away.
func (k *Keys) writeNote(ctx context.Context, token, kekID string) (uint64, error) {
	b, err := json.Marshal(erasureNote{Shard: keyShard(token), KEK: kekID})
	if err != nil {
		return 0, err
	}
	ack, err := k.log.js.Publish(ctx, keyctlNotes, b)
	if err != nil {
		return 0, fmt.Errorf("erasure note: %w: %w", ErrUnavailable, err)
	}
	return ack.Sequence, nil
}

// erase overwrites the key stream's records at seqs.
func (k *Keys) erase(ctx context.Context, seqs []uint64) error {
	for _, seq := range seqs {
		err := k.log.keysStr.SecureDeleteMsg(ctx, seq)
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("erase seq %d: %w: %w", seq, ErrUnavailable, err)
		}
	}
	return nil
}

func (k *Keys) cached(token string) (Key, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.cache.Get(token)
	return key.clone(), ok
}

func (k *Keys) remember(token string, key Key) {
	k.mu.Lock()
	k.cache.Put(token, key.clone())
	k.mu.Unlock()
}

// Forget drops a key from this instance's cache, so that no reader here
// opens its texts once another instance destroyed it.
func (k *Keys) Forget(token string) {
	k.mu.Lock()
	k.cache.Remove(token)
	k.mu.Unlock()
}
