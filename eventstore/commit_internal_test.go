package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gatedLog is a log whose single worker is held right after committing a
// first call, so that a test can line up calls in the queue before any of
// them is taken.
type gatedLog struct {
	*Log
	release func()
	gateSeq uint64
	mu      sync.Mutex
	batches []int // requests per committed batch, after the gate
}

func openGated(t *testing.T, gateSubject string) *gatedLog {
	t.Helper()
	return openGatedWith(t, gateSubject, LogConfig{})
}

// openGatedWith is openGated with cfg's PlainMax.
func openGatedWith(t *testing.T, gateSubject string, base LogConfig) *gatedLog {
	t.Helper()
	srv := openTestServer(t, t.TempDir(), -1, "")
	t.Cleanup(srv.Shutdown)
	g := &gatedLog{}
	entered, gate := make(chan struct{}), make(chan struct{})
	var first, rel sync.Once
	g.release = func() { rel.Do(func() { close(gate) }) }
	cfg := LogConfig{Workers: 1, PlainMax: base.PlainMax, OnBatch: func(requests, _ int, _ time.Duration) {
		held := false
		first.Do(func() { held = true; close(entered); <-gate })
		if !held {
			g.mu.Lock()
			g.batches = append(g.batches, requests)
			g.mu.Unlock()
		}
	}}
	g.Log = openTestLog(t, srv, cfg)
	t.Cleanup(g.release) // before Close, which waits for the worker
	go func() {
		_, _ = g.Append(context.Background(), []Record{{Subject: gateSubject, Data: []byte("gate")}})
	}()
	<-entered
	g.gateSeq = 1
	return g
}

func (g *gatedLog) committedBatches() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.batches...)
}

type result struct {
	seqs []uint64
	err  error
}

// enqueue starts an Append and returns once it is in the queue, so that
// successive enqueues keep their order.
func (g *gatedLog) enqueue(t *testing.T, ctx context.Context, recs ...Record) <-chan result {
	t.Helper()
	before := g.queued()
	ch := make(chan result, 1)
	go func() {
		seqs, err := g.Append(ctx, recs)
		ch <- result{seqs, err}
	}()
	waitFor(t, "call queued", func() bool { return g.queued() == before+1 })
	return ch
}

func TestConflictIsolatedInSharedBatch(t *testing.T) {
	t.Parallel()
	g := openGated(t, "tb.ev.stale")
	ctx := context.Background()
	const fresh = 40
	var chans []<-chan result
	staleAt := -1
	for i := 0; i < fresh; i++ {
		if i == fresh/2 {
			staleAt = len(chans)
			// Believes the subject is still empty; the gate call wrote it.
			chans = append(chans, g.enqueue(t, ctx, Record{Subject: "tb.ev.stale", Data: []byte("late"), ExpectSubjectSeq: u64(0)}))
		}
		chans = append(chans, g.enqueue(t, ctx, Record{Subject: fmt.Sprintf("tb.ev.fresh%d", i), Data: []byte("x"), ExpectSubjectSeq: u64(0)}))
	}
	g.release()
	seen := map[uint64]bool{}
	for i, ch := range chans {
		r := <-ch
		if i == staleAt {
			if !errors.Is(r.err, ErrConflict) {
				t.Errorf("stale call: err = %v, want ErrConflict", r.err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("call %d: %v", i, r.err)
			continue
		}
		if seen[r.seqs[0]] {
			t.Errorf("call %d: duplicate seq %d", i, r.seqs[0])
		}
		seen[r.seqs[0]] = true
	}
	last, err := g.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := g.gateSeq + fresh; last != want {
		t.Fatalf("last seq %d, want %d: the stale call must write nothing", last, want)
	}
	if b := g.committedBatches(); len(b) >= fresh {
		t.Fatalf("%d batches for %d calls: the others were not kept together", len(b), fresh)
	}
}

func TestSameSubjectCallsHeldInOrder(t *testing.T) {
	t.Parallel()
	g := openGated(t, "tb.ev.gate")
	ctx := context.Background()
	var same []<-chan result
	for i := 0; i < 3; i++ {
		same = append(same, g.enqueue(t, ctx, Record{Subject: "tb.ev.same", Data: []byte{byte('0' + i)}}))
	}
	other := g.enqueue(t, ctx, Record{Subject: "tb.ev.other", Data: []byte("o")})
	g.release()
	var prev uint64
	for i, ch := range same {
		r := <-ch
		if r.err != nil {
			t.Fatalf("call %d: %v", i, r.err)
		}
		if r.seqs[0] <= prev {
			t.Fatalf("call %d got seq %d after %d: order lost", i, r.seqs[0], prev)
		}
		prev = r.seqs[0]
	}
	if r := <-other; r.err != nil {
		t.Fatal(r.err)
	}
	// The first same-subject call shares a batch with the other subject;
	// the two later ones each wait for the previous to settle.
	b := g.committedBatches()
	if len(b) != 3 || b[0] != 2 {
		t.Fatalf("batches %v, want [2 1 1]", b)
	}
}

func TestCancelWhileQueuedWritesNothing(t *testing.T) {
	t.Parallel()
	g := openGated(t, "tb.ev.gate")
	ctx, cancel := context.WithCancel(context.Background())
	ch := g.enqueue(t, ctx, Record{Subject: "tb.ev.cancelled", Data: []byte("x")})
	cancel()
	r := <-ch
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
	g.release()
	after := g.enqueueNoWait(context.Background(), Record{Subject: "tb.ev.after", Data: []byte("y")})
	if r := <-after; r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := g.LastOnSubject(context.Background(), "tb.ev.cancelled"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancelled call was written: %v", err)
	}
}

func TestCloseFailsQueuedCalls(t *testing.T) {
	t.Parallel()
	g := openGated(t, "tb.ev.gate")
	ch := g.enqueue(t, context.Background(), Record{Subject: "tb.ev.queued", Data: []byte("x")})
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	if r := <-ch; !errors.Is(r.err, ErrUnavailable) {
		t.Fatalf("queued call: err = %v, want ErrUnavailable", r.err)
	}
	g.release()
	<-closed
	if _, err := g.Append(context.Background(), []Record{{Subject: "tb.ev.late", Data: []byte("x")}}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append after close: err = %v, want ErrUnavailable", err)
	}
}

func (g *gatedLog) enqueueNoWait(ctx context.Context, recs ...Record) <-chan result {
	ch := make(chan result, 1)
	go func() {
		seqs, err := g.Append(ctx, recs)
		ch <- result{seqs, err}
	}()
	return ch
}

func TestTimeoutIsUnknownOutcome(t *testing.T) {
	t.Parallel()
	srv := openTestServer(t, t.TempDir(), -1, "")
	t.Cleanup(srv.Shutdown)
	l := openTestLog(t, srv, LogConfig{})
	// No ack can come back within a nanosecond, though the write happens.
	l.commit.cfg.PublishTimeout = time.Nanosecond
	_, err := l.Append(context.Background(), []Record{{Subject: "tb.ev.x", Data: []byte("x")}})
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrUnknownOutcome", err)
	}
}

// TestPlainMax checks the choice between plain publishes and one atomic
// batch for a group of one-record calls: plain up to PlainMax calls, a
// batch above, as the stored messages' batch headers show.
func TestPlainMax(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		calls, plainMax int
		batched         bool
	}{
		{16, 0, false}, // the default, 16
		{17, 0, true},
		{2, 2, false},
		{3, 2, true},
	} {
		t.Run(fmt.Sprintf("calls=%d/plainMax=%d", c.calls, c.plainMax), func(t *testing.T) {
			t.Parallel()
			g := openGatedWith(t, "tb.ev.gate", LogConfig{PlainMax: c.plainMax})
			ctx := context.Background()
			var chans []<-chan result
			for i := range c.calls {
				chans = append(chans, g.enqueue(t, ctx, Record{Subject: fmt.Sprintf("tb.ev.p%d", i), Data: []byte("x")}))
			}
			g.release()
			for i, ch := range chans {
				r := <-ch
				if r.err != nil {
					t.Fatalf("call %d: %v", i, r.err)
				}
				m, err := g.events.GetMsg(ctx, r.seqs[0])
				if err != nil {
					t.Fatal(err)
				}
				if batched := m.Header.Get(hdrBatchID) != ""; batched != c.batched {
					t.Fatalf("call %d stored with batch id %q, want batched %v", i, m.Header.Get(hdrBatchID), c.batched)
				}
			}
		})
	}
}
