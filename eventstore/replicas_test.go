package eventstore_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// TestReadsAfterWriteOnReplicas checks, on a three-node cluster with R3
// streams, that every read whose answer the engine and the views act on
// sees an acknowledged write at once, through whichever node the reader is
// connected to. A follower that has not yet applied the write answers a
// direct get with "not found" (docs/architecture.md, "Consistency of
// reads"): a key read that way was taken for an erased one.
func TestReadsAfterWriteOnReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	servers := eventstoretest.StartCluster(t, 3).Servers
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	open := func(url string) *eventstore.Log {
		nc, err := nats.Connect(url, nats.CustomInboxPrefix(eventstore.EngineInboxPrefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		l, err := eventstore.OpenLog(ctx, nc, eventstore.LogConfig{Replicas: 3, PublishTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	}
	writer := open(servers[0].ClientURL())
	// Each reader is connected to one node; direct gets are answered by
	// the nearest replica, so followers answer some of them.
	var readers []*eventstore.Log
	for _, s := range servers {
		readers = append(readers, open(s.ClientURL()))
	}
	var (
		mu     sync.Mutex
		misses = map[string]int{}
	)
	miss := func(what string) {
		mu.Lock()
		misses[what]++
		mu.Unlock()
	}
	// Writers in parallel, as under load: a single writer rarely gets
	// ahead of the followers on an in-process cluster.
	const rounds, writers = 600, 16
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < rounds; i += writers {
				token := fmt.Sprintf("k%d", i)
				key, err := writer.Keys().GetOrCreate(ctx, token)
				if err != nil {
					t.Error(err)
					return
				}
				subject := fmt.Sprintf("tb.ev.t%d", i)
				seqs, err := writer.Append(ctx, []eventstore.Record{{Subject: subject, Data: []byte(`{}`)}})
				if err != nil {
					t.Error(err)
					return
				}
				for r, l := range readers {
					if got, err := l.Keys().Get(ctx, token); err != nil || !bytes.Equal(got.Secret, key.Secret) {
						miss(fmt.Sprintf("key via n%d", r+1))
					}
					if got, err := l.Keys().Open(ctx, token, key.ID); err != nil || !bytes.Equal(got.Secret, key.Secret) {
						miss(fmt.Sprintf("key open via n%d", r+1))
					}
					if e, err := l.LastOnSubject(ctx, subject); err != nil || e.Seq != seqs[0] {
						miss(fmt.Sprintf("last on subject via n%d", r+1))
					}
					n := 0
					if err := l.ReadSubject(ctx, subject, 0, func(eventstore.Entry) error { n++; return nil }); err != nil || n != 1 {
						miss(fmt.Sprintf("subject read via n%d", r+1))
					}
					if e, err := l.Get(ctx, seqs[0]); err != nil || e.Subject != subject {
						miss(fmt.Sprintf("get by position via n%d", r+1))
					}
				}
			}
		})
	}
	wg.Wait()
	for what, n := range misses {
		t.Errorf("%s: %d of %d reads missed an acknowledged write", what, n, rounds)
	}
}
