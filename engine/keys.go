package engine

import (
	"context"
	"slices"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// seal encrypts the body of every MessageReceived event in place. The key
// of a profile in firsts, which had no event before, is made without
// reading first.
func (e *Engine) seal(ctx context.Context, evs []domain.Event, firsts map[string]bool) error {
	for _, ev := range evs {
		d, ok := ev.Data.(*domain.MessageReceivedData)
		if !ok || ev.Type != domain.MessageReceived {
			continue
		}
		if err := e.log.SealBody(ctx, ev.ProfileID, d, firsts[ev.ProfileID]); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// OpenBody returns the text of the inbound message at position seq, or
// eventstore.ErrErased once its profile's key is destroyed.
func (e *Engine) OpenBody(ctx context.Context, profileID string, d *domain.MessageReceivedData, seq uint64) (string, error) {
	return eventstore.OpenBody(ctx, e.log, profileID, d, seq)
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
	if _, err := e.log.Keys().Destroy(ctx, eventstore.ProfileToken(profileID)); err != nil {
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
	state, err := e.log.Keys().State(ctx, eventstore.ProfileToken(profileID))
	switch {
	case err != nil:
		return false
	case state == eventstore.KeyAbsent:
	case state == eventstore.KeyTombstone:
		// The tombstone is written before the old record is erased: a
		// destroy cut short between the two leaves it to finish.
		if _, err := e.log.Keys().Destroy(ctx, eventstore.ProfileToken(profileID)); err != nil {
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
			if _, err := e.log.Keys().Destroy(ctx, eventstore.ProfileToken(profileID)); err != nil {
				return false
			}
		}
	}
	return e.ix.keyChecked(ctx, profileID) == nil
}
