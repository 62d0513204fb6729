package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// TokenPrefix starts every token the engine makes, so a leaked one is easy
// to recognise in logs and secret scanners.
const TokenPrefix = "tbk_"

// BootstrapOwnerID is the id of the first owner. It is fixed so that the
// create-if-absent check on its subject lets exactly one engine instance
// create it, however many start at once on an empty log.
var BootstrapOwnerID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("ticketbus:bootstrap-owner")).String()

// HashToken returns the stored form of a token. Tokens are 256 random bits,
// so one SHA-256 is enough: there is nothing to guess by brute force.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a fresh random API token.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Authenticate returns the user a token belongs to (R10). An unknown token
// may belong to a user just created on another instance, so a miss first
// waits for the tail to reach the log's end.
func (e *Engine) Authenticate(ctx context.Context, token string) (domain.User, error) {
	if token == "" {
		return domain.User{}, domain.Errorf(domain.EUnauthenticated, "an API token is required: send Authorization: Bearer <token>")
	}
	hash := HashToken(token)
	return lookupCatchingUp(ctx, e, func() (domain.User, bool) { return e.userByHashLocked(hash) },
		func() error { return domain.Errorf(domain.EUnauthenticated, "unknown API token") })
}

func (e *Engine) userByHashLocked(hash string) (domain.User, bool) {
	id, ok := e.st.tokens[hash]
	if !ok {
		return domain.User{}, false
	}
	u := e.st.users[id]
	// The map lookup found the hash; comparing in constant time as well
	// keeps the check's timing independent of the stored value.
	if subtle.ConstantTimeCompare([]byte(u.TokenHash), []byte(hash)) != 1 {
		return domain.User{}, false
	}
	return u, true
}

// User returns a user by id, or not_found.
func (e *Engine) User(ctx context.Context, id string) (domain.User, error) {
	return lookupCatchingUp(ctx, e, func() (domain.User, bool) {
		u, ok := e.st.users[id]
		return u, ok
	}, func() error { return domain.Errorf(domain.ENotFound, "user %s not found", id) })
}

// CreateUser adds a user; only roles that manage users may (R10). It
// returns the new user and their token, which is shown this once.
func (e *Engine) CreateUser(ctx context.Context, by domain.User, name string, role domain.Role) (domain.User, string, error) {
	if err := by.Role.Authorize(domain.PermManageUsers, "manage users"); err != nil {
		return domain.User{}, "", err
	}
	return e.createUser(ctx, domain.Actor{UserID: by.ID, Role: by.Role}, "", name, role, "")
}

// Bootstrap creates the first owner when the log has no user yet, with the
// given token or a new one. created is false when users already exist.
func (e *Engine) Bootstrap(ctx context.Context, token string) (u domain.User, tok string, created bool, err error) {
	e.st.mu.Lock()
	n := len(e.st.users)
	e.st.mu.Unlock()
	if n > 0 {
		return domain.User{}, "", false, nil
	}
	u, tok, err = e.createUser(ctx, domain.SystemBootstrap, BootstrapOwnerID, "owner", domain.RoleOwner, token)
	if errors.Is(err, errStale) {
		return domain.User{}, "", false, nil
	}
	return u, tok, err == nil, err
}

func (e *Engine) createUser(ctx context.Context, actor domain.Actor, id, name string, role domain.Role, token string) (domain.User, string, error) {
	if token == "" {
		var err error
		if token, err = NewToken(); err != nil {
			return domain.User{}, "", err
		}
	}
	newID := e.cfg.NewID
	if id != "" {
		// The first id asked for is the user's; later ones (event ids)
		// come from the usual source.
		first := true
		newID = func() string {
			if first {
				first = false
				return id
			}
			return e.cfg.NewID()
		}
	}
	dec, err := domain.DecideCreateUser(name, role, HashToken(token),
		domain.Context{Now: e.cfg.Now(), Actor: actor, CommandID: e.cfg.NewID(), NewID: newID})
	if err != nil {
		return domain.User{}, "", err
	}
	ev := dec.Events[0]
	data, err := domain.MarshalEvent(ev)
	if err != nil {
		return domain.User{}, "", err
	}
	zero := uint64(0)
	seqs, err := e.log.Append(ctx, []eventstore.Record{{Subject: eventstore.AggregateSubject(ev.Aggregate), Data: data, ExpectSubjectSeq: &zero}})
	if errors.Is(err, eventstore.ErrConflict) {
		return domain.User{}, "", errStale
	}
	if err != nil {
		return domain.User{}, "", unavailable(err)
	}
	e.st.mu.Lock()
	e.st.applyLocked(seqs[0], ev)
	e.st.mu.Unlock()
	e.cfg.Metrics.eventsAppended(1)
	return domain.UserFromEvent(ev), token, nil
}
