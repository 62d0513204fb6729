package eventstore

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestZZProbe(t *testing.T) {
	srv := openTestServer(t, t.TempDir(), -1, "")
	t.Cleanup(srv.Shutdown)
	l := openTestLog(t, srv, LogConfig{})
	ctx := context.Background()
	for _, n := range []int{1, 2, 10} {
		start := time.Now()
		for i := 0; i < 50; i++ {
			var recs []Record
			for j := 0; j < n; j++ {
				recs = append(recs, Record{Subject: fmt.Sprintf("tb.ev.p%d", j), Data: make([]byte, 300)})
			}
			if _, err := l.Append(ctx, recs); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("n=%d: %v per append", n, time.Since(start)/50)
	}
	start := time.Now()
	for i := 0; i < 50; i++ {
		_, err := l.Append(ctx, []Record{{Subject: "tb.ev.p0", Data: []byte("x"), ExpectSubjectSeq: u64(0)}})
		if err == nil {
			t.Fatal("no conflict")
		}
	}
	t.Logf("conflict solo: %v per append", time.Since(start)/50)
	start = time.Now()
	for i := 0; i < 50; i++ {
		_, err := l.Append(ctx, []Record{{Subject: "tb.ev.p0", Data: []byte("x"), ExpectSubjectSeq: u64(0)}, {Subject: "tb.ev.zz", Data: []byte("x")}})
		if err == nil {
			t.Fatal("no conflict")
		}
	}
	t.Logf("conflict batch: %v per append", time.Since(start)/50)
}
