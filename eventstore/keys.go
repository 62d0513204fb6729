package eventstore

// Per-profile keys for crypto-shredding: personal data in events is sealed
// with its profile's key, and destroying the key forgets the data while the
// immutable event log stays whole. That holds only if no copy of the key
// survives Destroy. What the file store (nats-server 2.15, filestore.go)
// does, and where it stops:
//   - SecureDeleteMsg overwrites the record with random bytes in the block
//     cache and writes the block anew (atomicOverwriteFile: temp file, fsync,
//     rename); a block left empty is removed. The per-subject index and
//     index.db hold subjects and sequences, never payloads; the tombstone a
//     delete writes holds a sequence and a time. After Destroy no file under
//     the store directory holds the key (keys_test.go checks raw, hex and
//     base64 forms).
//   - The replaced block's old disk blocks go back to the file system
//     unwiped: a raw read of the device, a file-system snapshot, or a backup
//     of the store taken before Destroy can still hold the key.
//   - With JetStream encryption at rest the server skips the overwrite; it is
//     not enabled here, and enabling it would need its own erasure story.
//   - Keys are written with a plain publish, never in an atomic batch: a
//     batch stages its messages in a side store whose files are deleted, not
//     overwritten, after the commit.
//   - The process's memory (this cache, client buffers) may keep copies until
//     the garbage collector's memory is reused.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KeySize is the length of a key's secret: AES-256.
const KeySize = 32

const (
	hdrKeyID = "Tb-Key-Id"
	// hdrKeyDestroyed marks a tombstone, the record that replaces a
	// destroyed key on its subject; its value is that key's id.
	hdrKeyDestroyed = "Tb-Key-Destroyed"
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
	destroyed string // a tombstone's key id
}

func (r keyRecord) tombstone() bool { return r.key.ID == "" }

// Keys stores one key per profile token in KeysStream, subject
// "tb.key.<token>". A token's subject holds its current key or, once the
// key is destroyed, a tombstone; a new key is only ever written on an
// empty subject or over a tombstone. So a key id that is not the current
// one belongs to a destroyed key. Every read goes to the stream's leader:
// a replica that has not applied a new key would answer "no key". It is
// safe for concurrent use.
type Keys struct {
	log   *Log
	mu    sync.Mutex
	cache map[string]Key
}

// Keys returns the log's key store.
func (l *Log) Keys() *Keys { return l.keys }

func keySubject(token string) (string, error) {
	if token == "" || strings.ContainsAny(token, "*> \t\r\n") {
		return "", fmt.Errorf("%w: key token %q", ErrInvalid, token)
	}
	return keysSubjectPrefix + token, nil
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
		msg := &nats.Msg{Subject: subj, Data: key.Secret, Header: nats.Header{}}
		msg.Header.Set(hdrKeyID, key.ID)
		_, err = k.log.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(expect))
		switch {
		case err == nil:
			k.remember(token, key)
			return key, nil
		case isWrongLastSequence(err):
			continue // another creator won, or a destroy came between: read again
		default:
			return Key{}, fmt.Errorf("create key %s: %w: %w", token, ErrUnavailable, err)
		}
	}
	return Key{}, fmt.Errorf("create key %s: %w: the key kept changing", token, ErrUnavailable)
}

func isWrongLastSequence(err error) bool {
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

// fetch reads the token's last record from the leader and caches a key.
func (k *Keys) fetch(ctx context.Context, token string) (keyRecord, error) {
	subj, err := keySubject(token)
	if err != nil {
		return keyRecord{}, err
	}
	e, err := k.log.lastOnSubject(ctx, KeysStream, subj)
	if errors.Is(err, ErrNotFound) {
		return keyRecord{}, fmt.Errorf("key %s: %w", token, ErrNotFound)
	}
	if err != nil {
		return keyRecord{}, fmt.Errorf("get key %s: %w", token, err)
	}
	if id := e.Header.Get(hdrKeyDestroyed); id != "" {
		return keyRecord{seq: e.Seq, destroyed: id}, nil
	}
	id := e.Header.Get(hdrKeyID)
	if len(e.Data) != KeySize || id == "" {
		return keyRecord{}, fmt.Errorf("get key %s: %w: stored record has %d bytes and id %q", token, ErrInvalid, len(e.Data), id)
	}
	rec := keyRecord{seq: e.Seq, key: Key{ID: id, Secret: e.Data}}
	k.remember(token, rec.key)
	return rec, nil
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
// cached key. Destroying a missing key is not an error.
func (k *Keys) Destroy(ctx context.Context, token string) error {
	subj, err := keySubject(token)
	if err != nil {
		return err
	}
	k.forget(token)
	// A Get racing with the erase may have cached the key again.
	defer k.forget(token)
	var tomb uint64
	for attempt := 0; tomb == 0; attempt++ {
		if attempt == 8 {
			return fmt.Errorf("destroy key %s: %w: the key kept changing", token, ErrUnavailable)
		}
		rec, err := k.fetch(ctx, token)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("destroy key %s: %w", token, err)
		case rec.tombstone():
			tomb = rec.seq // destroyed already; finish the erase below
			continue
		}
		msg := &nats.Msg{Subject: subj, Header: nats.Header{}}
		msg.Header.Set(hdrKeyDestroyed, rec.key.ID)
		ack, err := k.log.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rec.seq))
		switch {
		case err == nil:
			tomb = ack.Sequence
		case isWrongLastSequence(err):
			// A key made after an unblock, or another destroy: read again.
		default:
			return fmt.Errorf("destroy key %s: %w: %w", token, ErrUnavailable, err)
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
		return fmt.Errorf("destroy key %s: %w", token, err)
	}
	for _, seq := range seqs {
		err := k.log.keysStr.SecureDeleteMsg(ctx, seq)
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("destroy key %s: erase seq %d: %w: %w", token, seq, ErrUnavailable, err)
		}
	}
	return nil
}

func (k *Keys) cached(token string) (Key, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.cache[token]
	return key.clone(), ok
}

func (k *Keys) remember(token string, key Key) {
	k.mu.Lock()
	k.cache[token] = key.clone()
	k.mu.Unlock()
}

func (k *Keys) forget(token string) {
	k.mu.Lock()
	delete(k.cache, token)
	k.mu.Unlock()
}
