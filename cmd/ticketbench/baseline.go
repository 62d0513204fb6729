package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// baselineInFlight matches the producers' default: the baseline is
	// what the disk gives 256 writers who each wait for their fsync.
	baselineInFlight = 256
	baselineMsgSize  = 300
)

// Baseline is one raw JetStream publish run: 300-byte messages, async
// publish with 256 in flight, each acknowledged after its fsync.
type Baseline struct {
	Messages   int64   `json:"messages"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_second"`
	// TicketdCPUSeconds is the CPU time the idle ticketd used meanwhile:
	// more than a little means the baseline shared the machine with it.
	TicketdCPUSeconds float64 `json:"ticketd_cpu_seconds"`
}

// baseline measures the raw baseline beside the idle ticketd.
func (s *session) baseline(ctx context.Context, name string) (Baseline, error) {
	cpu0, err := readCPU(s.d.pid())
	if err != nil {
		return Baseline{}, err
	}
	b, err := measureBaseline(ctx, filepath.Join(s.dir, name), s.r.m.Config.Baseline)
	if err != nil {
		return b, err
	}
	cpu1, err := readCPU(s.d.pid())
	b.TicketdCPUSeconds = (cpu1 - cpu0).Seconds()
	return b, err
}

// measureBaseline publishes for d to a stream of a fresh in-process
// nats-server with file storage in dir and fsync before every ack
// (SyncAlways), as ticketd's embedded server has; nothing else runs on it.
func measureBaseline(ctx context.Context, dir string, d time.Duration) (Baseline, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Baseline{}, err
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: dir, SyncAlways: true, NoSigs: true, NoLog: true})
	if err != nil {
		return Baseline{}, err
	}
	go ns.Start()
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	if !ns.ReadyForConnections(10 * time.Second) {
		return Baseline{}, errors.New("baseline nats-server not ready within 10s")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("ticketbench baseline"))
	if err != nil {
		return Baseline{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(baselineInFlight),
		jetstream.WithPublishAsyncTimeout(time.Minute))
	if err != nil {
		return Baseline{}, err
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BASELINE", Subjects: []string{"baseline.>"},
		Storage: jetstream.FileStorage}); err != nil {
		return Baseline{}, err
	}
	// Acks are checked as they come, in order, so that the futures of a
	// long run need not all be kept.
	futures := make(chan jetstream.PubAckFuture, 2*baselineInFlight)
	checked := make(chan error, 1)
	var acked int64
	go func() {
		var first error
		for f := range futures {
			select {
			case <-f.Ok():
				acked++
			case err := <-f.Err():
				if first == nil {
					first = err
				}
			}
		}
		checked <- first
	}()
	data := []byte(strings.Repeat("x", baselineMsgSize))
	start := time.Now()
	end := start.Add(d)
	var pubErr error
	for time.Now().Before(end) && ctx.Err() == nil {
		// A stall means the disk is slow, not that the run failed: the
		// publish waits for room as long as an ack may take.
		f, err := js.PublishAsync("baseline.raw", data, jetstream.WithStallWait(time.Minute))
		if err != nil {
			pubErr = err
			break
		}
		futures <- f
	}
	close(futures)
	ackErr := <-checked
	elapsed := time.Since(start)
	switch {
	case ctx.Err() != nil:
		return Baseline{}, ctx.Err()
	case pubErr != nil:
		return Baseline{}, fmt.Errorf("baseline publish: %w", pubErr)
	case ackErr != nil:
		return Baseline{}, fmt.Errorf("baseline ack: %w", ackErr)
	}
	return Baseline{Messages: acked, Seconds: elapsed.Seconds(), MsgsPerSec: float64(acked) / elapsed.Seconds()}, nil
}

// ratio is cmds/s over the mean of the baselines before and after.
func ratio(cmdsPerSec float64, before, after Baseline) float64 {
	mean := (before.MsgsPerSec + after.MsgsPerSec) / 2
	if mean == 0 {
		return 0
	}
	return cmdsPerSec / mean
}
