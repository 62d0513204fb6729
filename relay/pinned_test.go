package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// TestPinnedPriorityGroup checks, on the server in go.mod, what the relay
// builds on: two clients pulling from one consumer in a priority group
// with the pinned policy get nothing side by side; one gets everything
// until it is unpinned, or goes silent for PinnedTTL, and then the other
// gets everything, including what the first held unacknowledged.
func TestPinnedPriorityGroup(t *testing.T) {
	tests := []struct {
		name  string
		nodes int
	}{
		{"one server", 1},
		{"three-node cluster, R3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.nodes > 1 && testing.Short() {
				t.Skip("starts a three-node NATS cluster")
			}
			var urls []string
			connect := func(i int) *nats.Conn { return pinTestConnect(t, urls[i%len(urls)]) }
			if tt.nodes == 1 {
				srv := eventstoretest.MustOpenServer(t)
				connect = func(int) *nats.Conn {
					nc, err := srv.EngineConnect(t.Name())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(nc.Close)
					return nc
				}
			} else {
				for _, s := range eventstoretest.StartCluster(t, tt.nodes).Servers {
					urls = append(urls, s.ClientURL())
				}
			}
			ctx := testContext(t)
			writer, err := eventstore.OpenLog(ctx, connect(0), eventstore.LogConfig{Replicas: tt.nodes, PublishTimeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(writer.Close)
			publish := func(n int) {
				for range n {
					if _, err := writer.Append(ctx, []eventstore.Record{{Subject: "tb.ev.p.cGlu", Data: []byte(`{}`)}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			cfg := jetstream.ConsumerConfig{Durable: "pin_probe", FilterSubject: "tb.ev.p.>", AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: time.Second, MaxDeliver: -1, Replicas: tt.nodes, PriorityGroups: []string{"g"},
				PriorityPolicy: jetstream.PriorityPolicyPinned, PinnedTTL: 3 * time.Second}
			clients := []*pinClient{newPinClient(t, connect(1), cfg), newPinClient(t, connect(2), cfg)}
			total := func() int { return clients[0].count() + clients[1].count() }

			publish(10)
			waitFor(t, "10 messages", func() bool { return total() == 10 })
			pinned, other := clients[0], clients[1]
			if pinned.count() == 0 {
				pinned, other = other, pinned
			}
			if other.count() != 0 {
				t.Fatalf("both clients got messages: %d and %d", pinned.count(), other.count())
			}

			// A relay that closes stops pulling, then unpins: the other
			// client takes over at once, not after PinnedTTL.
			pinned.stop()
			unpinned := time.Now()
			if err := writer.Stream().UnpinConsumer(ctx, "pin_probe", "g"); err != nil {
				t.Fatal(err)
			}
			publish(5)
			waitFor(t, "5 more messages", func() bool { return total() == 15 })
			if other.count() != 5 {
				t.Fatalf("after the unpin, the other client got %d of 5", other.count())
			}
			if d := time.Since(unpinned); d >= cfg.PinnedTTL {
				t.Errorf("taken over %s after the unpin, not before PinnedTTL", d)
			}
			pinned, other = other, newPinClient(t, connect(3), cfg)

			// The pinned client stops acknowledging, then dies.
			pinned.holdAcks()
			publish(3)
			waitFor(t, "3 more messages, held", func() bool { return pinned.count() == 8 })
			pinned.nc.Close()
			died := time.Now()
			publish(2)
			waitFor(t, "the held and the new messages at the survivor", func() bool { return other.distinct() == 3+2 })
			t.Logf("taken over %s after the death", time.Since(died).Round(10*time.Millisecond))
			if other.count() != 3+2 {
				t.Errorf("the survivor got %d deliveries, want 5 (3 held, 2 new)", other.count())
			}
		})
	}
}

func pinTestConnect(t testing.TB, url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.CustomInboxPrefix(eventstore.EngineInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// pinClient consumes the probe consumer in group "g" on a connection of
// its own.
type pinClient struct {
	nc   *nats.Conn
	cc   jetstream.ConsumeContext
	mu   sync.Mutex
	got  []uint64
	hold bool
}

func newPinClient(t testing.TB, nc *nats.Conn, cfg jetstream.ConsumerConfig) *pinClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, eventstore.EventsStream, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &pinClient{nc: nc}
	cc, err := c.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			panic(fmt.Sprint(err))
		}
		p.mu.Lock()
		p.got = append(p.got, md.Sequence.Stream)
		hold := p.hold
		p.mu.Unlock()
		if !hold {
			_ = m.DoubleAck(context.Background())
		}
	}, jetstream.PullPriorityGroup("g"), jetstream.PullExpiry(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	p.cc = cc
	return p
}

// stop stops pulling and waits until the client is unsubscribed.
func (p *pinClient) stop() {
	p.cc.Stop()
	<-p.cc.Closed()
}

func (p *pinClient) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

func (p *pinClient) distinct() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[uint64]bool{}
	for _, s := range p.got {
		seen[s] = true
	}
	return len(seen)
}

func (p *pinClient) holdAcks() {
	p.mu.Lock()
	p.hold = true
	p.mu.Unlock()
}
