package eventstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// BenchmarkRawPublish is the baseline: one synchronous JetStream publish at
// a time, each fsynced before its ack.
func BenchmarkRawPublish(b *testing.B) {
	l := eventstoretest.MustOpenLog(b, eventstoretest.MustOpenServer(b), eventstore.LogConfig{})
	js := l.JetStream()
	ctx := context.Background()
	data := make([]byte, 300)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := js.Publish(ctx, "tb.ev.raw"+strconv.Itoa(i), data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAppend measures group commit: each call is one 300-byte record
// on its own subject, made by a number of concurrent producers.
func BenchmarkAppend(b *testing.B) {
	for _, producers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			var batches, messages atomic.Int64
			cfg := eventstore.LogConfig{OnBatch: func(_, m int, _ time.Duration) {
				batches.Add(1)
				messages.Add(int64(m))
			}}
			l := eventstoretest.MustOpenLog(b, eventstoretest.MustOpenServer(b), cfg)
			ctx := context.Background()
			data := make([]byte, 300)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for p := 0; p < producers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						rec := eventstore.Record{Subject: "tb.ev.a" + strconv.FormatInt(i, 10), Data: data}
						if _, err := l.Append(ctx, []eventstore.Record{rec}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			if n := batches.Load(); n > 0 {
				b.ReportMetric(float64(messages.Load())/float64(n), "msgs/batch")
			}
		})
	}
}

// BenchmarkReadRange measures replay: one op is one entry read through the
// ordered consumer.
func BenchmarkReadRange(b *testing.B) {
	l := eventstoretest.MustOpenLog(b, eventstoretest.MustOpenServer(b), eventstore.LogConfig{})
	ctx := context.Background()
	data := make([]byte, 300)
	recs := make([]eventstore.Record, 0, 500)
	for i := 0; i < b.N; i++ {
		recs = append(recs, eventstore.Record{Subject: "tb.ev.r" + strconv.Itoa(i%1000), Data: data})
		if len(recs) == cap(recs) || i == b.N-1 {
			if _, err := l.Append(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	b.ResetTimer()
	n := 0
	if err := l.ReadRange(ctx, 1, uint64(b.N), func(eventstore.Entry) error { n++; return nil }); err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("read %d, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkBatchSize measures what one atomic batch costs by its size,
// each iteration
// appends one call of n records, on n fresh subjects, so it goes out as
// exactly one batch (one record: one plain publish).
//
//	go test -run '^$' -bench BenchmarkBatchSize -benchtime 20x ./eventstore/
func BenchmarkBatchSize(b *testing.B) {
	benchBatchSize(b, eventstoretest.MustOpenServer(b))
}

func benchBatchSize(b *testing.B, srv *eventstore.Server) {
	l := eventstoretest.MustOpenLog(b, srv, eventstore.LogConfig{Workers: 1, MaxBatch: 1000})
	data := make([]byte, 300)
	for _, n := range []int{1, 2, 10, 100, 500} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			recs := make([]eventstore.Record, n)
			for i := 0; i < b.N; i++ {
				for j := range recs {
					recs[j] = eventstore.Record{Subject: fmt.Sprintf("tb.ev.size%d.%d.%d", n, i, j), Data: data}
				}
				if _, err := l.Append(context.Background(), recs); err != nil {
					b.Fatal(err)
				}
			}
			perBatch := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(perBatch.Microseconds())/1000, "ms/batch")
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
