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

const hdrKeyID = "Tb-Key-Id"

// Key is a profile's encryption key.
type Key struct {
	ID     string
	Secret []byte // KeySize bytes
}

func (k Key) clone() Key {
	return Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)}
}

// Keys stores one key per profile token in KeysStream, subject
// "tb.key.<token>". It is safe for concurrent use.
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

// GetOrCreate returns the token's key, creating it if there is none. Two
// racing creators agree: the write only succeeds on an empty subject, and the
// loser reads the winner's key.
func (k *Keys) GetOrCreate(ctx context.Context, token string) (Key, error) {
	key, err := k.Get(ctx, token)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return key, err
	}
	subj, err := keySubject(token)
	if err != nil {
		return Key{}, err
	}
	key = Key{ID: uuid.NewString(), Secret: make([]byte, KeySize)}
	if _, err := rand.Read(key.Secret); err != nil {
		return Key{}, fmt.Errorf("create key %s: %w", token, err)
	}
	msg := &nats.Msg{Subject: subj, Data: key.Secret, Header: nats.Header{}}
	msg.Header.Set(hdrKeyID, key.ID)
	_, err = k.log.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0))
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		k.mu.Lock()
		k.cache[token] = key.clone()
		k.mu.Unlock()
		return key, nil
	case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
		return k.Get(ctx, token)
	default:
		return Key{}, fmt.Errorf("create key %s: %w: %w", token, ErrUnavailable, err)
	}
}

// Get returns the token's key, or ErrNotFound if it was never created or has
// been destroyed.
func (k *Keys) Get(ctx context.Context, token string) (Key, error) {
	k.mu.Lock()
	key, ok := k.cache[token]
	k.mu.Unlock()
	if ok {
		return key.clone(), nil
	}
	subj, err := keySubject(token)
	if err != nil {
		return Key{}, err
	}
	e, err := k.log.lastOnSubject(ctx, KeysStream, subj)
	if err != nil {
		return Key{}, fmt.Errorf("get key %s: %w", token, err)
	}
	if len(e.Data) != KeySize {
		return Key{}, fmt.Errorf("get key %s: %w: stored secret has %d bytes", token, ErrInvalid, len(e.Data))
	}
	key = Key{ID: e.Header.Get(hdrKeyID), Secret: e.Data}
	k.mu.Lock()
	k.cache[token] = key.clone()
	k.mu.Unlock()
	return key, nil
}

// Destroy erases every message on the token's subject, overwriting it on
// disk, and forgets the cached key. Destroying a missing key is not an
// error.
func (k *Keys) Destroy(ctx context.Context, token string) error {
	subj, err := keySubject(token)
	if err != nil {
		return err
	}
	k.forget(token)
	// A Get racing with the erase may have cached the key again.
	defer k.forget(token)
	var seqs []uint64
	err = k.log.readSubject(ctx, KeysStream, subj, 0, func(e Entry) error {
		seqs = append(seqs, e.Seq)
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

func (k *Keys) forget(token string) {
	k.mu.Lock()
	delete(k.cache, token)
	k.mu.Unlock()
}
