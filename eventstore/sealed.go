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

// SealBody encrypts the text of an inbound message in place under its
// profile's key. first says the profile had no event before: its key is
// made without reading first.
func (l *Log) SealBody(ctx context.Context, profileID string, d *domain.MessageReceivedData, first bool) error {
	get := l.keys.GetOrCreate
	if first {
		get = l.keys.Create
	}
	key, err := get(ctx, ProfileToken(profileID))
	if err != nil {
		return fmt.Errorf("profile key: %w: %w", ErrUnavailable, err)
	}
	d.Sealed, err = seal(key, []byte(d.Body), sealAAD(profileID, d.MessageID))
	return err
}

func seal(key Key, plain, aad []byte) (*domain.SealedBody, error) {
	gcm, err := newGCM(key.Secret)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return &domain.SealedBody{KeyID: key.ID, Nonce: nonce, Ciphertext: gcm.Seal(nil, nonce, plain, aad)}, nil
}

// WebhookKeyToken is the key token of a webhook's secret. No profile id
// holds '/', so it never names a profile's key.
func WebhookKeyToken(webhookID string) string { return ProfileToken("/webhook/" + webhookID) }

// SealSecret encrypts a secret under a key of its own, made for it, so
// that destroying that key forgets the secret.
func (l *Log) SealSecret(ctx context.Context, token, secret string) (*domain.SealedBody, error) {
	key, err := l.keys.Create(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w: %w", ErrUnavailable, err)
	}
	return seal(key, []byte(secret), []byte(token))
}

// OpenSecret decrypts a secret SealSecret sealed; ErrErased once its key
// was destroyed.
func (l *Log) OpenSecret(ctx context.Context, token string, s *domain.SealedBody) (string, error) {
	key, err := l.keys.Open(ctx, token, s.KeyID)
	if errors.Is(err, ErrNotFound) {
		return "", ErrErased
	}
	if err != nil {
		return "", err
	}
	gcm, err := newGCM(key.Secret)
	if err != nil {
		return "", err
	}
	plain, err := gcm.Open(nil, s.Nonce, s.Ciphertext, []byte(token))
	if err != nil {
		return "", fmt.Errorf("secret: its key does not open it: %w", err)
	}
	return string(plain), nil
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

// OpenBody returns the text of the inbound message d, written at position
// seq of l: ErrErased only when its key was destroyed or the log erased
// it, ErrKeyMissing when its key is gone with no erasure to explain it.
func OpenBody(ctx context.Context, l *Log, profileID string, d *domain.MessageReceivedData, seq uint64) (string, error) {
	if d.Sealed == nil {
		return "", fmt.Errorf("message %s at %d: no sealed text: %w", d.MessageID, seq, ErrKeyMissing)
	}
	key, err := l.Keys().Open(ctx, ProfileToken(profileID), d.Sealed.KeyID)
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
