package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

func u64(v uint64) *uint64 { return &v }

func TestAppendIsAtomic(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	if _, err := l.Append(ctx, []eventstore.Record{{Subject: "tb.ev.b", Data: []byte("b0")}}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Append(ctx, []eventstore.Record{
		{Subject: "tb.ev.a", Data: []byte("a1"), ExpectSubjectSeq: u64(0)},
		{Subject: "tb.ev.b", Data: []byte("b1"), ExpectSubjectSeq: u64(0)}, // stale: b holds seq 1
		{Subject: "tb.ev.c", Data: []byte("c1")},
	})
	if !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if _, err := l.LastOnSubject(ctx, "tb.ev.a"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("first record written despite the failed check: %v", err)
	}
	if last, err := l.LastSeq(ctx); err != nil || last != 1 {
		t.Fatalf("last seq %d (%v), want 1", last, err)
	}
	// The same call with the right expectation goes through whole.
	seqs, err := l.Append(ctx, []eventstore.Record{
		{Subject: "tb.ev.a", Data: []byte("a1"), ExpectSubjectSeq: u64(0)},
		{Subject: "tb.ev.b", Data: []byte("b1"), ExpectSubjectSeq: u64(1)},
		{Subject: "tb.ev.c", Data: []byte("c1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs) != "[2 3 4]" {
		t.Fatalf("seqs %v, want [2 3 4]", seqs)
	}
}

func TestAppendSequencesAreContiguous(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	var recs []eventstore.Record
	for i := 0; i < 50; i++ {
		recs = append(recs, eventstore.Record{Subject: fmt.Sprintf("tb.ev.t%d", i%3), Data: []byte(fmt.Sprint(i))})
	}
	for round := 0; round < 3; round++ {
		seqs, err := l.Append(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range seqs {
			if want := uint64(round*50 + i + 1); s != want {
				t.Fatalf("round %d record %d: seq %d, want %d", round, i, s, want)
			}
		}
	}
	n := 0
	err := l.ReadRange(ctx, 1, 0, func(e eventstore.Entry) error {
		i := n % 50
		if e.Subject != recs[i].Subject || string(e.Data) != string(recs[i].Data) {
			t.Fatalf("seq %d: %s %q, want %s %q", e.Seq, e.Subject, e.Data, recs[i].Subject, recs[i].Data)
		}
		n++
		return nil
	})
	if err != nil || n != 150 {
		t.Fatalf("read %d entries (%v), want 150", n, err)
	}
}

func TestAppendGroupsConcurrentCalls(t *testing.T) {
	t.Parallel()
	var batches, requests atomic.Int64
	cfg := eventstore.LogConfig{OnBatch: func(r, _ int, _ time.Duration) {
		batches.Add(1)
		requests.Add(int64(r))
	}}
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), cfg)
	const calls = 200
	start := make(chan struct{})
	seqs := make([]uint64, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := l.Append(context.Background(), []eventstore.Record{
				{Subject: fmt.Sprintf("tb.ev.c%d", i), Data: []byte("x"), ExpectSubjectSeq: u64(0)},
			})
			errs[i] = err
			if err == nil {
				seqs[i] = s[0]
			}
		}()
	}
	close(start)
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range calls {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if seen[seqs[i]] || seqs[i] < 1 || seqs[i] > calls {
			t.Fatalf("call %d: seq %d duplicate or out of 1..%d", i, seqs[i], calls)
		}
		seen[seqs[i]] = true
	}
	if requests.Load() != calls {
		t.Fatalf("hook saw %d requests, want %d", requests.Load(), calls)
	}
	if b := batches.Load(); b >= calls {
		t.Fatalf("%d batches for %d calls: nothing was grouped", b, calls)
	}
	t.Logf("%d calls in %d batches", calls, batches.Load())
}

// Many goroutines update one subject the way commands do: read the last
// sequence, append expecting it, start over on a conflict.
func TestAppendSameSubjectContention(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	const workers, each = 16, 5
	ctx := context.Background()
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					var expect uint64
					e, err := l.LastOnSubject(ctx, "tb.ev.hot")
					switch {
					case err == nil:
						expect = e.Seq
					case !errors.Is(err, eventstore.ErrNotFound):
						t.Error(err)
						return
					}
					_, err = l.Append(ctx, []eventstore.Record{
						{Subject: "tb.ev.hot", Data: []byte(fmt.Sprint(expect)), ExpectSubjectSeq: &expect},
					})
					if err == nil {
						break
					}
					if !errors.Is(err, eventstore.ErrConflict) {
						t.Error(err)
						return
					}
					conflicts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// Each event names the sequence it followed: the chain has no gap and no fork.
	var prev uint64
	n := 0
	err := l.ReadSubject(ctx, "tb.ev.hot", 0, func(e eventstore.Entry) error {
		if string(e.Data) != fmt.Sprint(prev) {
			return fmt.Errorf("seq %d followed %s, want %d", e.Seq, e.Data, prev)
		}
		prev = e.Seq
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != workers*each {
		t.Fatalf("%d events on the subject, want %d", n, workers*each)
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

func TestAppendRejectsInvalidRecords(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{MaxBatch: 10})
	ctx := context.Background()
	cases := map[string][]eventstore.Record{
		"outside the log": {{Subject: "tb.key.x", Data: []byte("x")}},
		"wildcard":        {{Subject: "tb.ev.*", Data: []byte("x")}},
		"late check": {
			{Subject: "tb.ev.a", Data: []byte("x")},
			{Subject: "tb.ev.a", Data: []byte("x"), ExpectSubjectSeq: u64(1)},
		},
		"too many": make([]eventstore.Record, 11),
		"too big":  {{Subject: "tb.ev.big", Data: make([]byte, 2<<20)}},
	}
	for name, recs := range cases {
		if _, err := l.Append(ctx, recs); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestAppendUnavailableWhenDisconnected(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	nc, err := srv.EngineConnect("closing")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := eventstore.OpenLog(ctx, nc, eventstore.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc.Close()
	_, err = l.Append(ctx, []eventstore.Record{{Subject: "tb.ev.x", Data: []byte("x")}})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}
