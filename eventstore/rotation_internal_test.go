package eventstore

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// tokensInShards returns n tokens, spread over the given shards only.
func tokensInShards(prefix string, n int, shards ...int) []string {
	want := map[int]bool{}
	for _, s := range shards {
		want[s] = true
	}
	var out []string
	for i := 0; len(out) < n; i++ {
		tok := fmt.Sprintf("%s%d", prefix, i)
		if want[keyShard(tok)] {
			out = append(out, tok)
		}
	}
	return out
}

// TestRotationRacesWriters creates keys in a few shards from two logs
// (two instances) while destroys in those same shards set off rotations
// that both instances run at once. No key made may be lost: each opens,
// through a log that has read nothing yet, to the secret it was made
// with; every destroyed one stays destroyed; and in the end no ring but
// the one in use is left.
func TestRotationRacesWriters(t *testing.T) {
	t.Parallel()
	srv := openTestServer(t, t.TempDir(), -1, "")
	t.Cleanup(srv.Shutdown)
	// Two instances rotate; a third only writes, so that its rings are
	// never read again by a rotation of its own.
	logs := []*Log{openTestLog(t, srv, LogConfig{}), openTestLog(t, srv, LogConfig{}), openTestLog(t, srv, LogConfig{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shards := []int{3, 700}
	victims := tokensInShards("victim", 6, shards...)
	for _, tok := range victims {
		if _, err := logs[0].Keys().GetOrCreate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		made    = map[string][]byte{}
		wg      sync.WaitGroup
		writers sync.WaitGroup
		done    = make(chan struct{})
	)
	for w := range 4 {
		writers.Go(func() {
			for _, tok := range tokensInShards(fmt.Sprintf("w%d-", w), 300, shards...) {
				select {
				case <-done:
					return
				default:
				}
				k, err := logs[2].Keys().GetOrCreate(ctx, tok)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				made[tok] = k.Secret
				mu.Unlock()
			}
		})
	}
	for i := range 2 {
		wg.Go(func() {
			for j, tok := range victims {
				if j%2 != i {
					continue
				}
				if _, err := logs[i].Keys().Destroy(ctx, tok); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := logs[i].Keys().Erase(ctx, time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	writers.Wait()
	if t.Failed() {
		return
	}
	st, _, err := logs[0].Keys().Erase(ctx, time.Now())
	if err != nil || st.Pending != 0 || st.Gen < 2 {
		t.Fatalf("final erase: %+v, %v", st, err)
	}
	fresh := openTestLog(t, srv, LogConfig{})
	for tok, secret := range made {
		k, err := fresh.Keys().Get(ctx, tok)
		if err != nil || !bytes.Equal(k.Secret, secret) {
			t.Errorf("key %s after the rotations: %v", tok, err)
		}
	}
	for _, tok := range victims {
		if state, err := fresh.Keys().ErasureState(ctx, tok); err != nil || state != ErasureComplete {
			t.Errorf("victim %s: erasure %q, %v", tok, state, err)
		}
	}
	gens, err := fresh.Keys().rings.ringGens(ctx)
	if err != nil || len(gens) != 1 || gens[0] != st.Gen {
		t.Errorf("rings left: %v (%v), want only %d", gens, err, st.Gen)
	}
	t.Logf("%d keys made, %d destroyed, %d generations", len(made), len(victims), st.Gen)
}
