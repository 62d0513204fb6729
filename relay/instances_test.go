package relay_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
	"github.com/ticketbus/ticketbus/internal/metrictest"
	"github.com/ticketbus/ticketbus/relay"
)

// TestTwoRelaysDeliverOnce runs two relays on one server, as two ticketd
// instances: each event reaches the receiver exactly once, each ticket's
// in log order.
func TestTwoRelaysDeliverOnce(t *testing.T) {
	s := newSetup(t)
	rc := newReceiver(t, randomPace)
	w := s.hook(t, rc, domain.WebhookAll)
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	// Every log is open before any relay starts: nats-server 2.15.2 races
	// (go test -race) between the stream update of an opening log and a
	// consumer's creation.
	logs := []*eventstore.Log{eventstoretest.MustOpenLog(t, s.srv, eventstore.LogConfig{}), eventstoretest.MustOpenLog(t, s.srv, eventstore.LogConfig{})}
	for i, reg := range regs {
		cfg := s.config(t, logs[i])
		cfg.Registerer = reg
		s.start(t, cfg)
	}
	const tickets, perTicket = 16, 8
	want := writeTickets(t, s, tickets, perTicket)
	waitFor(t, "every event delivered and acknowledged", func() bool {
		return countOK(rc) == tickets*perTicket && settled(t, s, w.ID)
	})
	for _, r := range rc.requests() {
		if n := rc.count(r.EventID); n != 1 {
			t.Errorf("event %s delivered %d times, want once", r.EventID, n)
		}
	}
	checkOrder(t, rc, want)
	checkWaits(t, rc, want)
	a := metrictest.Sum(t, regs[0], "ticketbus_webhooks_deliveries_total", "outcome", "delivered")
	b := metrictest.Sum(t, regs[1], "ticketbus_webhooks_deliveries_total", "outcome", "delivered")
	if a+b != tickets*perTicket {
		t.Errorf("the relays delivered %v + %v events, want %d in all", a, b, tickets*perTicket)
	}
	t.Logf("deliveries by relay: %v, %v", a, b)
}

// randomPace answers 200 after a few milliseconds.
func randomPace(relay.Delivery, int) int {
	time.Sleep(time.Duration(rand.IntN(10)) * time.Millisecond)
	return http.StatusOK
}

// settled reports whether the webhook's consumer has every event
// acknowledged: nothing more can be delivered.
func settled(t testing.TB, s *setup, webhookID string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.log.JetStream().Consumer(ctx, eventstore.EventsStream, relay.ConsumerName(webhookID))
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumAckPending == 0 && info.NumPending == 0
}

// gate answers 200 to the first n events it sees, then 503 to everything
// until it is opened: events are left under way, waiting for retries.
type gate struct {
	n    int64
	ok   atomic.Int64
	shut atomic.Int64 // 503s given
	open atomic.Bool
}

func (g *gate) answer(relay.Delivery, int) int {
	time.Sleep(time.Duration(2+rand.IntN(8)) * time.Millisecond)
	if !g.open.Load() && g.ok.Load() >= g.n {
		g.shut.Add(1)
		return http.StatusServiceUnavailable
	}
	g.ok.Add(1)
	return http.StatusOK
}

// closed reports whether events are waiting at the gate.
func (g *gate) closed() bool { return g.shut.Load() >= 5 }

// TestRestartDeliversTheRest closes a relay while events wait for their
// retries and starts another: every event is delivered, each ticket's in
// order.
func TestRestartDeliversTheRest(t *testing.T) {
	s := newSetup(t)
	const tickets, perTicket = 12, 8
	g := &gate{n: tickets * perTicket / 3}
	rc := newReceiver(t, g.answer)
	w := s.hook(t, rc, domain.WebhookAll)
	next := eventstoretest.MustOpenLog(t, s.srv, eventstore.LogConfig{})
	first, err := relay.Start(testContext(t), s.config(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := writeTickets(t, s, tickets, perTicket)
	waitFor(t, "events waiting for retries", g.closed)
	first.Close()
	g.open.Store(true)
	s.start(t, s.config(t, next))
	waitFor(t, "every event delivered", func() bool { return countOK(rc) == tickets*perTicket && settled(t, s, w.ID) })
	checkOrder(t, rc, want)
	checkWaits(t, rc, want)
}

// TestCrashedRelayIsTakenOver cuts a relay's connection as a kill -9
// would, events waiting for their retries, none handed back and the
// webhook still pinned to it: the other relay takes the webhook over once
// the server unpins the silent one, and delivers everything, each ticket
// in order.
func TestCrashedRelayIsTakenOver(t *testing.T) {
	s := newSetup(t)
	const tickets, perTicket = 12, 8
	g := &gate{n: tickets * perTicket / 3}
	rc := newReceiver(t, g.answer)
	w := s.hook(t, rc, domain.WebhookAll)
	nc, err := s.srv.EngineConnect(t.Name()+"-crashing", nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l, err := eventstore.OpenLog(testContext(t), nc, eventstore.LogConfig{PublishTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	survivorLog := eventstoretest.MustOpenLog(t, s.srv, eventstore.LogConfig{})
	crashing := s.config(t, l)
	victimReg := prometheus.NewRegistry()
	crashing.Registerer = victimReg
	victim := s.start(t, crashing)
	want := writeTickets(t, s, tickets, perTicket)
	// The survivor starts once the victim holds the webhook.
	waitFor(t, "the victim delivering", func() bool { return countOK(rc) >= 5 })
	s.start(t, s.config(t, survivorLog))
	waitFor(t, "events waiting for retries", g.closed)
	delivered := func(g prometheus.Gatherer) float64 {
		return metrictest.Sum(t, g, "ticketbus_webhooks_deliveries_total", "outcome", "delivered")
	}
	if n := delivered(s.reg); n != 0 {
		t.Fatalf("the survivor delivered %v events before the crash, want none: the victim holds the webhook", n)
	}
	nc.Close()
	crashed := time.Now()
	g.open.Store(true)
	waitFor(t, "every event delivered", func() bool { return countOK(rc) == tickets*perTicket && settled(t, s, w.ID) })
	t.Logf("taken over and finished %s after the crash; delivered by the victim %v, the survivor %v",
		time.Since(crashed).Round(time.Millisecond), delivered(victimReg), delivered(s.reg))
	victim.Close()
	if delivered(s.reg) == 0 {
		t.Error("the survivor delivered nothing")
	}
	checkOrder(t, rc, want)
	checkWaits(t, rc, want)
}

// TestSurvivesServerRestart restarts NATS under a running relay, one
// event waiting for its retry: it and the events after are delivered.
func TestSurvivesServerRestart(t *testing.T) {
	s := newSetup(t)
	var hold = make(chan struct{})
	rc := newReceiver(t, func(d relay.Delivery, n int) int {
		select {
		case <-hold:
			return http.StatusOK
		default:
			return http.StatusServiceUnavailable
		}
	})
	w := s.hook(t, rc, domain.WebhookAll)
	s.start(t, s.config(t, nil))
	tk := newTicket(t, s.log, s.eng)
	a, _ := tk.inbound("before the restart")
	b, _ := tk.assign("u-1")
	waitFor(t, "a retried", func() bool { return rc.count(a.ID) >= 2 })
	if err := s.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	close(hold)
	// Written once the log is back: the engine would answer unavailable
	// until then.
	c := tk.event(domain.TicketMarkedRead, nil)
	data, err := domain.MarshalEvent(c)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an append after the restart", func() bool {
		_, err := s.log.Append(testContext(t), []eventstore.Record{{Subject: eventstore.AggregateSubject(c.Aggregate), Data: data}})
		if err != nil && !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatal(err)
		}
		return err == nil
	})
	waitFor(t, "every event delivered", func() bool { return countOK(rc) == 3 && settled(t, s, w.ID) })
	checkOrder(t, rc, map[string][]string{tk.id: {a.ID, b.ID, c.ID}})
	checkWaits(t, rc, map[string][]string{tk.id: {a.ID, b.ID, c.ID}})
}

// TestRelaysOnCluster runs two relays, on two nodes of a three-node
// cluster whose streams have three replicas: each event is delivered once,
// in order, and a dead letter is kept, on streams and consumers as
// replicated as the events.
func TestRelaysOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	var logs []*eventstore.Log
	for _, srv := range eventstoretest.StartCluster(t, 3).Servers[:2] {
		nc := pinTestConnect(t, srv.ClientURL())
		l, err := eventstore.OpenLog(testContext(t), nc, eventstore.LogConfig{Replicas: 3, PublishTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		logs = append(logs, l)
	}
	s := &setup{log: logs[0], eng: newFakeEngine(logs[0]), reg: prometheus.NewRegistry()}
	var rejectedTicket atomic.Value
	rc := newReceiver(t, func(d relay.Delivery, n int) int {
		if d.Type == domain.TicketAssigned && n == 1 && d.TicketID == rejectedTicket.Load() {
			return http.StatusBadRequest
		}
		return randomPace(d, n)
	})
	w := s.hook(t, rc, domain.WebhookAll)
	var relays []*relay.Relay
	for _, l := range logs {
		cfg := s.config(t, l)
		cfg.Registerer = prometheus.NewRegistry()
		relays = append(relays, s.start(t, cfg))
	}
	const tickets, perTicket = 8, 6
	want := writeTickets(t, s, tickets, perTicket)
	tk := newTicket(t, s.log, s.eng)
	rejectedTicket.Store(tk.id)
	rejected, _ := tk.assign("u-1")
	waitFor(t, "every event delivered and acknowledged", func() bool {
		return countOK(rc) == tickets*perTicket && settled(t, s, w.ID)
	})
	for _, r := range rc.requests() {
		if n := rc.count(r.EventID); n != 1 {
			t.Errorf("event %s delivered %d times, want once", r.EventID, n)
		}
	}
	checkOrder(t, rc, want)
	checkWaits(t, rc, want)
	ctx := testContext(t)
	for i, r := range relays {
		fs, err := r.Failures(ctx, w.ID)
		if err != nil || len(fs) != 1 || fs[0].EventID != rejected.ID {
			t.Errorf("relay %d: failures %+v, %v; want the rejected event", i, fs, err)
		}
	}
	c, err := s.log.JetStream().Consumer(ctx, eventstore.EventsStream, relay.ConsumerName(w.ID))
	if err != nil {
		t.Fatal(err)
	}
	if info := c.CachedInfo(); info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 {
		t.Errorf("consumer replicas %d (%+v), want 3", info.Config.Replicas, info.Cluster)
	}
	st, err := s.log.JetStream().Stream(ctx, relay.FailuresStream)
	if err != nil {
		t.Fatal(err)
	}
	if info := st.CachedInfo(); info.Config.Replicas != 3 {
		t.Errorf("dead letter stream replicas %d, want 3", info.Config.Replicas)
	}
}
