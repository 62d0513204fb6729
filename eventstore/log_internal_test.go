package eventstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := openTestServer(t, dir, -1, "")
	nc, err := srv.EngineConnect("before")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := OpenLog(ctx, nc, LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for i := 0; i < 20; i++ {
		recs = append(recs, Record{Subject: fmt.Sprintf("tb.ev.r%d", i%4), Data: []byte(fmt.Sprint(i))})
	}
	if _, err := l.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	key, err := l.Keys().GetOrCreate(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	nc.Close()
	srv.Shutdown()

	srv = openTestServer(t, dir, -1, "")
	t.Cleanup(srv.Shutdown)
	l = openTestLog(t, srv, LogConfig{})
	if last, err := l.LastSeq(ctx); err != nil || last != 20 {
		t.Fatalf("last seq after restart %d (%v), want 20", last, err)
	}
	n := 0
	err = l.ReadRange(ctx, 1, 0, func(e Entry) error {
		if string(e.Data) != fmt.Sprint(e.Seq-1) {
			return fmt.Errorf("seq %d holds %q", e.Seq, e.Data)
		}
		n++
		return nil
	})
	if err != nil || n != 20 {
		t.Fatalf("read %d (%v), want 20", n, err)
	}
	got, err := l.Keys().Get(ctx, "p1")
	if err != nil || got.ID != key.ID || string(got.Secret) != string(key.Secret) {
		t.Fatalf("key after restart %+v (%v), want %+v", got, err, key)
	}
	// Appends go on after the restored end.
	seqs, err := l.Append(ctx, []Record{{Subject: "tb.ev.r0", Data: []byte("20"), ExpectSubjectSeq: u64(17)}})
	if err != nil || seqs[0] != 21 {
		t.Fatalf("append after restart: %v (%v)", seqs, err)
	}
}

// A tail keeps going when the server under it restarts: the connection
// reconnects and the ordered consumer recreates itself after the last
// entry it delivered.
func TestTailSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const password = "fixed-for-restart"
	srv := openTestServer(t, dir, -1, password)
	port := srv.Port()
	l := openTestLog(t, srv, LogConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appendOne := func(i int) {
		t.Helper()
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			if _, err = l.Append(ctx, []Record{{Subject: "tb.ev.tail", Data: []byte(fmt.Sprint(i))}}); err == nil {
				return
			}
			if !errors.Is(err, ErrUnavailable) {
				break
			}
			time.Sleep(20 * time.Millisecond) // waiting for the reconnect
		}
		t.Fatalf("append %d: %v", i, err)
	}
	seen := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- l.Tail(ctx, 1, func(e Entry) error { seen <- e.Seq; return nil })
	}()
	expect := func(seq uint64) {
		t.Helper()
		select {
		case s := <-seen:
			if s != seq {
				t.Fatalf("tail gave %d, want %d", s, seq)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("tail stuck before %d", seq)
		}
	}
	for i := 1; i <= 3; i++ {
		appendOne(i)
		expect(uint64(i))
	}
	srv.Shutdown()
	srv = openTestServer(t, dir, port, password)
	t.Cleanup(srv.Shutdown)
	for i := 4; i <= 6; i++ {
		appendOne(i)
		expect(uint64(i))
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("tail returned %v", err)
	}
}
