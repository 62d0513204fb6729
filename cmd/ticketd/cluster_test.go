package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
	"github.com/ticketbus/ticketbus/natsapi"
)

func startCluster(t *testing.T) []*server.Server {
	return eventstoretest.StartCluster(t, 3).Servers
}

func clusterURL(servers []*server.Server) string { return eventstoretest.ClusterURL(servers) }

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	eventstoretest.WaitFor(t, timeout, what, cond)
}

// runClusterMain starts ticketd in-process on the cluster.
func runClusterMain(t *testing.T, url string) *Main {
	t.Helper()
	m := NewMain()
	m.Stdout = io.Discard
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	err := m.ParseFlags([]string{"-data-dir", t.TempDir(), "-http", "127.0.0.1:0", "-nats-url", url, "-replicas", "3", "-test-clock"},
		func(k string) string {
			if k == "TICKETD_BOOTSTRAP_TOKEN" {
				return ownerToken
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// ledger is what the producers sent and what was acknowledged.
type ledger struct {
	mu        sync.Mutex
	attempted map[string]bool
	acked     map[string]uint64
	errs      map[string]int // error codes and transport errors seen, by kind
	n         atomic.Int64
}

func (l *ledger) attempt(id string) {
	l.mu.Lock()
	l.attempted[id] = true
	l.mu.Unlock()
}

func (l *ledger) ack(id string, pos uint64) {
	l.mu.Lock()
	l.acked[id] = pos
	l.mu.Unlock()
	l.n.Add(1)
}

func (l *ledger) fail(kind string) {
	l.mu.Lock()
	l.errs[kind]++
	l.mu.Unlock()
}

// produce sends inbound commands until stop is closed, resending each
// command with the same command_id until it is acknowledged.
func produce(ctx context.Context, nc *nats.Conn, l *ledger, profiles func() string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		id := uuid.NewString()
		body, _ := json.Marshal(map[string]any{"command_id": id, "profile_id": profiles(), "body": "hello " + id})
		l.attempt(id)
		for {
			if ctx.Err() != nil {
				return
			}
			msg := nats.NewMsg(natsapi.CommandSubjectPrefix + "inbound")
			msg.Data = body
			msg.Header.Set("Authorization", "Bearer "+ownerToken)
			resp, err := nc.RequestMsg(msg, 5*time.Second)
			if err == nil {
				var r cmdReply
				if err = json.Unmarshal(resp.Data, &r); err == nil {
					if r.OK {
						l.ack(id, r.Position)
						break
					}
					l.fail("reply " + r.Code())
				} else {
					l.fail("decode")
				}
			} else {
				l.fail("request " + err.Error())
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(20+rand.IntN(60)) * time.Millisecond):
			}
		}
	}
}

func TestClusterLeaderFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	const (
		target   = 400
		killAt   = 100
		producer = 16
		loadTime = 60 * time.Second
	)
	start := time.Now()
	servers := startCluster(t)
	url := clusterURL(servers)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))

	m1 := runClusterMain(t, url)
	_ = runClusterMain(t, url)
	t.Logf("two ticketd instances up after %v", time.Since(start).Round(time.Millisecond))

	l := &ledger{attempted: map[string]bool{}, acked: map[string]uint64{}, errs: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*loadTime)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range producer {
		nc := natsProducer(t, m1, url, ownerToken, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		profiles := func() string { return fmt.Sprintf("p%d", rand.IntN(10)) }
		if i%4 == 0 {
			// Some producers all write to one shared profile (R1).
			profiles = func() string { return "shared" }
		}
		wg.Go(func() { produce(ctx, nc, l, profiles, stop) })
	}

	// Mid-load, shut down the stream leader.
	mon, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	js, err := jetstream.New(mon)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, loadTime, fmt.Sprintf("%d acks before the failover", killAt), func() bool { return l.n.Load() >= killAt })
	var killed *server.Server
	waitFor(t, 10*time.Second, "the stream leader", func() bool {
		ictx, icancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer icancel()
		st, err := js.Stream(ictx, eventstore.EventsStream)
		if err != nil {
			return false
		}
		info, err := st.Info(ictx)
		if err != nil || info.Cluster == nil {
			return false
		}
		if info.Config.Replicas != 3 {
			t.Fatalf("stream has %d replicas, want 3", info.Config.Replicas)
		}
		for _, s := range servers {
			if s.Name() == info.Cluster.Leader {
				killed = s
				return true
			}
		}
		return false
	})
	killTime := time.Now()
	acksAtKill := l.n.Load()
	killed.Shutdown()
	t.Logf("shut down stream leader %s after %d acks, %v into the test", killed.Name(), acksAtKill, time.Since(start).Round(time.Millisecond))

	// Keep loading until the target or the deadline.
	waitFor(t, time.Until(killTime.Add(loadTime)), fmt.Sprintf("%d acks", target), func() bool {
		return l.n.Load() >= target || ctx.Err() != nil
	})
	close(stop)
	wg.Wait()
	cancel()
	loadEnd := time.Now()
	t.Logf("load done: %d acks, %d attempted, %v after failover; errors seen: %v",
		l.n.Load(), len(l.attempted), loadEnd.Sub(killTime).Round(time.Millisecond), l.errs)
	if l.n.Load() < target {
		t.Errorf("only %d acks before the deadline, want %d", l.n.Load(), target)
	}

	// Read the whole stream through a surviving server.
	var survivor *server.Server
	for _, s := range servers {
		if s != killed {
			survivor = s
			break
		}
	}
	rnc, err := nats.Connect(survivor.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer rnc.Close()
	rjs, err := jetstream.New(rnc)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	st, err := rjs.Stream(rctx, eventstore.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(rctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	cons, err := st.OrderedConsumer(rctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()

	received := map[string][]uint64{} // command_id -> seqs of its MessageReceived
	lastSeqOf := map[string]uint64{}  // command_id -> last seq of its events
	profiles := map[string]*domain.Profile{}
	var r1 []string
	var seq uint64
	for seq < last {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				break
			}
			t.Fatalf("read stream at %d of %d: %v", seq, last, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		seq = meta.Sequence.Stream
		ev, err := domain.UnmarshalEvent(msg.Data())
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		if ev.CommandID != "" {
			lastSeqOf[ev.CommandID] = seq
		}
		if ev.Type == domain.MessageReceived {
			received[ev.CommandID] = append(received[ev.CommandID], seq)
		}
		if ev.Aggregate.Kind != domain.KindProfile {
			continue
		}
		p := profiles[ev.Aggregate.ID]
		if p == nil {
			p = domain.NewProfile(ev.Aggregate.ID)
			profiles[ev.Aggregate.ID] = p
		}
		if (ev.Type == domain.TicketOpened || ev.Type == domain.TicketReopened) && p.Active() != nil {
			r1 = append(r1, fmt.Sprintf("seq %d: %s %s on profile %s while %s is active", seq, ev.Type, ev.TicketID, p.ID, p.ActiveID))
		}
		p.Apply(ev)
		active := 0
		for _, tk := range p.Tickets {
			if tk.Active() {
				active++
			}
		}
		if active > 1 {
			r1 = append(r1, fmt.Sprintf("seq %d: profile %s has %d active tickets", seq, p.ID, active))
		}
	}
	t.Logf("read %d events, %d profiles", seq, len(profiles))

	var lost, dup, unexpected, badPos []string
	for id, pos := range l.acked {
		switch seqs := received[id]; {
		case len(seqs) == 0:
			lost = append(lost, id)
		case lastSeqOf[id] != pos:
			badPos = append(badPos, fmt.Sprintf("%s: acked %d, log %d", id, pos, lastSeqOf[id]))
		}
	}
	for id, seqs := range received {
		if len(seqs) > 1 {
			dup = append(dup, fmt.Sprintf("%s at %v", id, seqs))
		}
		if !l.attempted[id] {
			unexpected = append(unexpected, id)
		}
	}
	t.Logf("acked %d, lost %d, duplicated %d, unexpected %d, wrong positions %d, R1 violations %d",
		len(l.acked), len(lost), len(dup), len(unexpected), len(badPos), len(r1))
	for name, list := range map[string][]string{"lost": lost, "duplicated": dup, "unexpected": unexpected, "wrong position": badPos, "R1": r1} {
		if len(list) > 0 {
			t.Errorf("%s: %d, e.g. %v", name, len(list), list[:min(5, len(list))])
		}
	}
}

func freePorts(t *testing.T, n int) []int { return eventstoretest.FreePorts(t, n) }
