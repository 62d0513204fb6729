package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// fill appends n single-record calls spread over subjects tb.ev.s0..s2,
// with data "i" and a header naming i.
func fill(t *testing.T, l *eventstore.Log, n int) {
	t.Helper()
	var recs []eventstore.Record
	for i := 0; i < n; i++ {
		h := nats.Header{}
		h.Set("Tb-Index", fmt.Sprint(i))
		recs = append(recs, eventstore.Record{Subject: fmt.Sprintf("tb.ev.s%d", i%3), Data: []byte(fmt.Sprint(i)), Header: h})
		if len(recs) == 500 || i == n-1 {
			if _, err := l.Append(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			recs = nil
		}
	}
}

func TestReadRange(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	fill(t, l, 250)
	var got []uint64
	err := l.ReadRange(ctx, 10, 20, func(e eventstore.Entry) error {
		if string(e.Data) != fmt.Sprint(e.Seq-1) || e.Header.Get("Tb-Index") != fmt.Sprint(e.Seq-1) {
			t.Errorf("seq %d: data %q header %v", e.Seq, e.Data, e.Header)
		}
		if e.Header.Get("Nats-Batch-Id") != "" {
			t.Errorf("seq %d: commit header left in entry: %v", e.Seq, e.Header)
		}
		if e.Time.IsZero() || time.Since(e.Time) > time.Minute {
			t.Errorf("seq %d: time %v", e.Seq, e.Time)
		}
		got = append(got, e.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 || got[0] != 10 || got[10] != 20 {
		t.Fatalf("read %v, want 10..20", got)
	}
	n := 0
	if err := l.ReadRange(ctx, 0, 0, func(eventstore.Entry) error { n++; return nil }); err != nil || n != 250 {
		t.Fatalf("whole log: %d entries (%v), want 250", n, err)
	}
	stop := errors.New("enough")
	n = 0
	err = l.ReadRange(ctx, 1, 0, func(eventstore.Entry) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Fatalf("fn's error: got %v after %d entries", err, n)
	}
	if err := l.ReadRange(ctx, 300, 0, func(eventstore.Entry) error { return errors.New("called") }); err != nil {
		t.Fatalf("range past the end: %v", err)
	}
	info, err := l.Stream().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers left behind by reads", info.State.Consumers)
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	fill(t, l, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- l.Tail(ctx, 5, func(e eventstore.Entry) error { seen <- e.Seq; return nil })
	}()
	want := uint64(5)
	next := func() {
		t.Helper()
		select {
		case s := <-seen:
			if s != want {
				t.Fatalf("tail gave %d, want %d", s, want)
			}
			want++
		case <-time.After(10 * time.Second):
			t.Fatalf("tail stuck before %d", want)
		}
	}
	for want <= 10 {
		next()
	}
	fill(t, l, 5) // written while tailing
	for want <= 15 {
		next()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("tail returned %v, want context.Canceled", err)
	}
}

func TestReadSubject(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	// More than one direct-get batch of 1000 on the subject.
	fill(t, l, 3600)
	var got []uint64
	err := l.ReadSubject(ctx, "tb.ev.s1", 0, func(e eventstore.Entry) error {
		if e.Subject != "tb.ev.s1" || string(e.Data) != fmt.Sprint(e.Seq-1) || e.Header.Get("Tb-Index") != fmt.Sprint(e.Seq-1) {
			t.Fatalf("entry %+v", e)
		}
		if e.Header.Get("Nats-Sequence") != "" || e.Header.Get("Nats-Batch-Id") != "" {
			t.Fatalf("server header left in entry: %v", e.Header)
		}
		got = append(got, e.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1200 || got[0] != 2 || got[1199] != 3599 {
		t.Fatalf("read %d entries %d..%d, want 1200 from 2 to 3599", len(got), got[0], got[len(got)-1])
	}
	got = got[:0]
	err = l.ReadSubject(ctx, "tb.ev.s1", 3590, func(e eventstore.Entry) error { got = append(got, e.Seq); return nil })
	if err != nil || fmt.Sprint(got) != "[3593 3596 3599]" {
		t.Fatalf("after 3590: %v (%v)", got, err)
	}
	err = l.ReadSubject(ctx, "tb.ev.none", 0, func(eventstore.Entry) error { return errors.New("called") })
	if err != nil {
		t.Fatalf("empty subject: %v", err)
	}
}

func TestLastOnSubject(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	if _, err := l.LastOnSubject(ctx, "tb.ev.s0"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("empty log: %v, want ErrNotFound", err)
	}
	fill(t, l, 10)
	e, err := l.LastOnSubject(ctx, "tb.ev.s0")
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 10 || e.Subject != "tb.ev.s0" || string(e.Data) != "9" || e.Header.Get("Tb-Index") != "9" {
		t.Fatalf("last on s0: %+v", e)
	}
	if last, err := l.LastSeq(ctx); err != nil || last != 10 {
		t.Fatalf("last seq %d (%v)", last, err)
	}
}
