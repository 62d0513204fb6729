package eventstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestFirstContactKeysShareBatches: keys made at once for many new
// profiles are written together, several to an atomic batch (one fsync),
// not each with a publish and an fsync of its own; each still opens.
func TestFirstContactKeysShareBatches(t *testing.T) {
	t.Parallel()
	srv := openTestServer(t, t.TempDir(), -1, "")
	t.Cleanup(srv.Shutdown)
	l := openTestLog(t, srv, LogConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 200
	keys := make([]Key, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			k, err := l.Keys().Create(ctx, ProfileToken(fmt.Sprintf("new-%d", i)))
			keys[i] = k
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		tok := ProfileToken(fmt.Sprintf("new-%d", i))
		l.keys.Forget(tok)
		got, err := l.Keys().Get(ctx, tok)
		if err != nil || got.ID != keys[i].ID {
			t.Fatalf("key %d: %+v, %v; made %s", i, got, err, keys[i].ID)
		}
	}
	if grouped := l.keyCommit.grouped.Load(); grouped < n/2 {
		t.Fatalf("%d of %d keys written in shared batches: the keys were not grouped", grouped, n)
	}
}
