package eventstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"github.com/ticketbus/ticketbus/domain"
)

// Erasure by crypto-shredding: every inbound text is sealed with its
// profile's own AES-256-GCM key before it reaches the log, and a block
// destroys that key (docs/erasure.md). The log itself stays immutable; what
// is left of the text in it can no longer be read by anyone.

// seal encrypts the body of every MessageReceived event in place. The key
// of a profile in firsts, which had no event before, is made without
// reading first.
func (e *Engine) seal(ctx context.Context, evs []domain.Event, firsts map[string]bool) error {
	for _, ev := range evs {
		d, ok := ev.Data.(*domain.MessageReceivedData)
		if !ok || ev.Type != domain.MessageReceived {
			continue
		}
		keys := e.log.Keys()
		get := keys.GetOrCreate
		if firsts[ev.ProfileID] {
			get = keys.Create
		}
		key, err := get(ctx, profileToken(ev.ProfileID))
		if err != nil {
			return unavailable(fmt.Errorf("profile key: %w", err))
		}
		gcm, err := newGCM(key.Secret)
		if err != nil {
			return err
		}
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("nonce: %w", err)
		}
		d.Sealed = &domain.SealedBody{KeyID: key.ID, Nonce: nonce,
			Ciphertext: gcm.Seal(nil, nonce, []byte(d.Body), sealAAD(ev.ProfileID, d.MessageID))}
	}
	return nil
}

// sealAAD binds a ciphertext to its profile and message, so that a sealed
// body copied into another event does not open.
func sealAAD(profileID, messageID string) []byte {
	return []byte(profileID + "\x00" + messageID)
}

func newGCM(secret []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("profile key: %w", err)
	}
	return cipher.NewGCM(block)
}

// ErrErased says a message's text is gone for good: its profile was
// blocked and the key that sealed it destroyed.
var ErrErased = errors.New("eventstore: message erased")

// ErrKeyMissing says a message's key cannot be found although nothing in
// the log erased the message. That is never taken for an erasure: readers
// stop and say so rather than drop a customer's message.
var ErrKeyMissing = errors.New("eventstore: key missing")

// OpenBody returns the text of the inbound message at position seq, or
// ErrErased once its profile's key is destroyed.
func (e *Engine) OpenBody(ctx context.Context, profileID string, d *domain.MessageReceivedData, seq uint64) (string, error) {
	return OpenBody(ctx, e.log, profileID, d, seq)
}

// OpenBody returns the text of the inbound message d, written at position
// seq of l: ErrErased only when its key was destroyed or the log erased
// it, ErrKeyMissing when its key is gone with no erasure to explain it.
func OpenBody(ctx context.Context, l *Log, profileID string, d *domain.MessageReceivedData, seq uint64) (string, error) {
	if d.Sealed == nil {
		return "", fmt.Errorf("message %s at %d: no sealed text: %w", d.MessageID, seq, ErrKeyMissing)
	}
	key, err := l.Keys().Open(ctx, profileToken(profileID), d.Sealed.KeyID)
	if errors.Is(err, ErrNotFound) {
		// No record at all: keys destroyed before tombstones existed.
		// Only the log's own MessagesErased says the text is gone.
		erased, lerr := l.erasedAfter(ctx, profileID, d.MessageID, seq)
		switch {
		case lerr != nil:
			return "", lerr
		case erased:
			return "", ErrErased
		}
		return "", fmt.Errorf("message %s at %d of profile %q: %w", d.MessageID, seq, profileID, ErrKeyMissing)
	}
	if err != nil {
		return "", err
	}
	gcm, err := newGCM(key.Secret)
	if err != nil {
		return "", err
	}
	plain, err := gcm.Open(nil, d.Sealed.Nonce, d.Sealed.Ciphertext, sealAAD(profileID, d.MessageID))
	if err != nil {
		return "", fmt.Errorf("message %s at %d: its key does not open it: %w", d.MessageID, seq, err)
	}
	return string(plain), nil
}

// erasedAfter reports whether a MessagesErased after position seq on the
// profile's subject names the message.
func (l *Log) erasedAfter(ctx context.Context, profileID, messageID string, seq uint64) (bool, error) {
	at, err := l.ErasedAt(ctx, profileID, messageID, seq)
	return at != 0, err
}

// ErasedAt returns the position of the MessagesErased after position seq
// on the profile's subject that names the message, 0 when there is none.
func (l *Log) ErasedAt(ctx context.Context, profileID, messageID string, seq uint64) (uint64, error) {
	subj := AggregateSubject(domain.AggregateKey{Kind: domain.KindProfile, ID: profileID})
	var at uint64
	err := l.ReadSubject(ctx, subj, seq, func(en Entry) error {
		if en.Void || at != 0 {
			return nil
		}
		ev, err := domain.UnmarshalEvent(en.Data)
		if err != nil || ev.Type != domain.MessagesErased {
			return nil
		}
		if slices.Contains(ev.Data.(*domain.MessagesErasedData).MessageIDs, messageID) {
			at = en.Seq
		}
		return nil
	})
	return at, err
}

// afterCommit destroys the keys of the profiles a command just blocked, so
// that by the time the caller hears "ok" their texts are unreadable.
func (e *Engine) afterCommit(ctx context.Context, evs []domain.Event) {
	for _, ev := range evs {
		if ev.Type == domain.ProfileBlocked && ev.Aggregate.Kind == domain.KindProfile {
			e.destroyKey(context.WithoutCancel(ctx), ev.ProfileID)
		}
	}
}

func (e *Engine) destroyKey(ctx context.Context, profileID string) {
	if _, err := e.log.Keys().Destroy(ctx, profileToken(profileID)); err != nil {
		// The block is written and its profile is in the index's
		// blocked_keys: the erasure loop tries again at each round, on
		// every instance.
		e.cfg.Logger.Error("could not destroy a blocked profile's key yet; retrying",
			"profile", profileID, "err", err)
	}
	e.pokeErasure()
}

// checkBlockedKeys goes through the profiles the index lists as blocked
// with a key still to check: a key left behind (its destruction failed,
// or the engine stopped between the block and the destruction) is
// destroyed; a destroyed one, or a profile unblocked since, leaves the
// list. It returns how many are left to do.
func (e *Engine) checkBlockedKeys(ctx context.Context) int {
	ids, err := e.ix.blockedKeys(ctx, 1000)
	if err != nil {
		e.cfg.Logger.Warn("could not read the blocked profiles to check", "err", err)
		return 0
	}
	e.st.mu.Lock()
	for id := range e.st.pend.blocked {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	e.st.mu.Unlock()
	left := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return left
		}
		if !e.keyDestroyed(ctx, id) {
			left++
		}
	}
	return left
}

// keyDestroyed destroys the key of a blocked profile if it still has one
// and reports whether nothing is left to do for it.
func (e *Engine) keyDestroyed(ctx context.Context, profileID string) bool {
	rec, err := e.log.Keys().fetch(ctx, profileToken(profileID))
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false
	case rec.tombstone():
		// The tombstone is written before the old record is erased: a
		// destroy cut short between the two leaves it to finish.
		if _, err := e.log.Keys().Destroy(ctx, profileToken(profileID)); err != nil {
			return false
		}
	default:
		a, err := e.profile(ctx, profileID)
		if err != nil {
			return false
		}
		e.st.mu.Lock()
		blocked := a.p.Blocked
		e.st.mu.Unlock()
		if blocked {
			if _, err := e.log.Keys().Destroy(ctx, profileToken(profileID)); err != nil {
				return false
			}
		}
	}
	return e.ix.keyChecked(ctx, profileID) == nil
}
