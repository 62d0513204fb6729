package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
)

// The erasure loop takes destroyed keys' KEKs away (rotation.go) and
// records when that is done on every replica (erasure.go). Every instance
// runs it; the checks in each step let one of them act. A block on this
// instance starts it at once, unless it ran less than ErasureInterval ago:
// a burst of blocks then shares the next round, since a rotation costs the
// cluster four stream creations and deletions. Otherwise it runs every
// ErasureInterval, which bounds how long a rotation cut short by a crash,
// or a replica that came back, waits to be noticed.

// defaultErasureInterval is Config.ErasureInterval's default.
const defaultErasureInterval = 10 * time.Second

func (e *Engine) eraseLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.ErasureInterval)
	defer t.Stop()
	var lastRotation time.Time
	for {
		began := time.Now()
		if st, _ := e.Erase(ctx); st.Rotations > 0 {
			lastRotation = began
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.erasePoke:
			wait := time.NewTimer(time.Until(lastRotation.Add(e.cfg.ErasureInterval)))
			select {
			case <-ctx.Done():
				wait.Stop()
				return
			case <-wait.C:
			case <-t.C:
				wait.Stop()
			}
		}
	}
}

// eraseRoundTimeout bounds one round of the erasure loop: stream creations
// and deletions on a busy cluster take longer than an append's timeout.
const eraseRoundTimeout = 2 * time.Minute

// pokeErasure starts the erasure loop now rather than at its next tick.
func (e *Engine) pokeErasure() {
	select {
	case e.erasePoke <- struct{}{}:
	default:
	}
}

// Erase runs the rotations that erasure notes call for and records the
// erasures now complete on every replica; it returns the erasures' state.
func (e *Engine) Erase(ctx context.Context) (eventstore.ErasureStatus, error) {
	e.eraseMu.Lock()
	defer e.eraseMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, eraseRoundTimeout)
	defer cancel()
	undestroyed := e.checkBlockedKeys(ctx)
	st, rotations, err := e.log.Keys().Erase(ctx, e.cfg.Now())
	st.Rotations = rotations
	st.Pending += undestroyed
	if undestroyed > 0 {
		st.Waiting = append(st.Waiting, fmt.Sprintf("%d blocked profile key(s) not yet destroyed", undestroyed))
	}
	for range rotations {
		e.cfg.Metrics.erasureRotated()
	}
	if err != nil {
		if ctx.Err() == nil {
			e.cfg.Metrics.erasureFailed()
			e.cfg.Logger.Warn("erasure: rotation or confirmation failed; will retry", "err", err)
		}
		return st, err
	}
	e.cfg.Metrics.erasureState(st)
	return st, nil
}

// ErasureState says how far the erasure of a profile's messages has gone:
// ErasureNone, ErasurePending, ErasureComplete or ErasureUnverified.
func (e *Engine) ErasureState(ctx context.Context, profileID string) (string, error) {
	return e.log.Keys().ErasureState(ctx, eventstore.ProfileToken(profileID))
}

// ErasureStatus returns the state of erasures across the key store, with
// the blocked profiles whose key this instance has yet to check.
func (e *Engine) ErasureStatus(ctx context.Context) (eventstore.ErasureStatus, error) {
	st, err := e.log.Keys().Status(ctx)
	if err != nil {
		return st, err
	}
	ids, err := e.ix.blockedKeys(ctx, 1000)
	if n := len(ids); n > 0 {
		st.Pending += n
		st.Waiting = append(st.Waiting, fmt.Sprintf("%d blocked profile key(s) not yet checked", n))
	}
	return st, err
}
