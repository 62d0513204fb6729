package engine

import (
	"context"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// TestBlockedKeyLeftBehindIsDestroyed: a block whose key was never
// destroyed (its engine stopped between the two, or the destruction
// failed) is found through the index, its key destroyed and its erasure
// completed by the erasure loop.
func TestBlockedKeyLeftBehindIsDestroyed(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	e, err := Open(ctx, l, Config{ErasureInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	token := eventstore.ProfileToken("gone")
	if _, err := l.Keys().GetOrCreate(ctx, token); err != nil {
		t.Fatal(err)
	}
	// The block as another engine wrote it, without destroying the key.
	dec, err := domain.DecideBlock(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "gone"}}, domain.NewProfile("gone"), nil, nil,
		domain.Context{Now: time.Now(), Actor: domain.SystemTimer, CommandID: "c1", NewID: func() string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	data, err := domain.MarshalEvent(dec.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	zero := uint64(0)
	seqs, err := l.Append(ctx, []eventstore.Record{{Subject: eventstore.AggregateSubject(dec.Events[0].Aggregate), Data: data, ExpectSubjectSeq: &zero}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WaitApplied(ctx, seqs[0]); err != nil {
		t.Fatal(err)
	}
	if state, err := e.ErasureState(ctx, "gone"); err != nil || state != eventstore.ErasureKeyLive {
		t.Fatalf("before the erasure loop: %q, %v; want the key still live", state, err)
	}
	if st, err := e.Erase(ctx); err != nil || st.Pending != 0 {
		t.Fatalf("erase: %+v, %v", st, err)
	}
	if state, err := e.ErasureState(ctx, "gone"); err != nil || state != eventstore.ErasureComplete {
		t.Fatalf("after the erasure loop: %q, %v", state, err)
	}
	if ids, err := e.ix.blockedKeys(ctx, 10); err != nil || len(ids) != 0 {
		t.Fatalf("blocked keys left to check: %v, %v", ids, err)
	}
}
