package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/natsapi"
)

// BenchmarkDurableCommands measures whole commands (NATS request, token
// check, decision, sealed body, fsynced append, reply) at 1, 16 and 256
// concurrent producers, beside a raw baseline measured in the same run on
// the same server: one 300-byte message per synchronous JetStream publish,
// fsync on every write. Each sub-benchmark reports its rate and its ratio
// to that baseline, so the comparison survives a noisy machine. The
// server stages batches in memory, as ticketd does by default;
// BENCH_STAGING=disk stages them on disk, BENCH_WORKERS sets the commit
// workers.
//
//	go test -run '^$' -bench BenchmarkDurableCommands -benchtime 30000x ./engine/
func BenchmarkDurableCommands(b *testing.B) {
	e := newEnv(b)
	if w := os.Getenv("BENCH_WORKERS"); w != "" {
		e.logCfg.Workers, _ = strconv.Atoi(w)
	}
	var batches, batched atomic.Int64
	e.logCfg.OnBatch = func(requests, _ int, _ time.Duration) {
		batches.Add(1)
		batched.Add(int64(requests))
	}
	h := e.startEngine()
	nc := e.client()
	body := strings.Repeat("x", 300)
	var baseline float64

	b.Run("raw-publish-baseline", func(b *testing.B) {
		js, err := jetstream.New(h.nc)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		msg := []byte(body)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := js.Publish(ctx, "tb.ev.bench.raw", msg); err != nil {
				b.Fatal(err)
			}
		}
		baseline = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(baseline, "msgs/s")
	})

	for _, producers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			benchCommands(b, e, nc, producers, body, baseline, func() (int64, int64) { return batches.Load(), batched.Load() })
		})
	}
}

func benchCommands(b *testing.B, e *env, nc *nats.Conn, producers int, body string, baseline float64, batchStats func() (int64, int64)) {
	// Each producer writes to its own profile, whose key is made before
	// the clock starts: what is measured is the steady state of a busy
	// inbox, not first contact.
	bodies := make([][]byte, producers)
	for p := range producers {
		profile := fmt.Sprintf("bench-%d-%d", producers, p)
		bodies[p], _ = json.Marshal(map[string]any{"profile_id": profile, "body": body})
		if _, ok := tryInbound(nc, e.owner, bodies[p]); !ok {
			b.Fatal("warm-up command failed")
		}
	}
	b0, c0 := batchStats()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := nats.NewMsg(natsapi.CommandSubjectPrefix + "inbound")
			m.Data = bodies[p]
			m.Header.Set("Authorization", "Bearer "+e.owner)
			for next.Add(1) <= int64(b.N) {
				// The load generator shares the two cores with what it
				// measures, so it only checks the reply's first field.
				resp, err := nc.RequestMsg(m, 3*time.Second)
				if err != nil || !bytes.HasPrefix(resp.Data, okReply) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d commands failed", n)
	}
	if b1, c1 := batchStats(); b1 > b0 {
		b.ReportMetric(float64(c1-c0)/float64(b1-b0), "cmds/batch")
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "cmds/s")
	if baseline > 0 {
		b.ReportMetric(rate/baseline, "x-baseline")
	}
}

// okReply is how every successful command reply starts.
var okReply = []byte(`{"ok":true,`)
