package relay

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pump is the state of one session of a subscriber, owned by the
// session's goroutine: the events held, in their lanes. The lanes' hand-
// overs run in a generation, a context whose cancellation gives up every
// delivery under way at once.
type pump struct {
	s         *subscriber
	cons      jetstream.Consumer
	gen       context.Context
	cancelGen context.CancelCauseFunc
	pending   map[uint64]*item
	lanes     map[string]*lane
	recent    *recent
	inflight  int
	results   chan result
	// abandoning: the generation was cancelled and its lanes are winding
	// down; nothing is handed to the router until they are done.
	abandoning bool
	closing    bool
	pin        string
	settling   bool
	settleBy   time.Time
	settle     *time.Timer
}

func (p *pump) newGen() {
	p.gen, p.cancelGen = context.WithCancelCause(context.Background())
}

// receive takes in one delivery from the server.
func (p *pump) receive(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	seq := md.Sequence.Stream
	if pin := m.Headers().Get("Nats-Pin-Id"); pin != "" && pin != p.pin {
		p.pin = pin
		p.startSettling()
	}
	if it, ok := p.pending[seq]; ok {
		it.setJS(m)
		return
	}
	if p.recent.has(seq) || p.s.h.r.cfg.Log.Void(seq) {
		_ = m.Ack()
		return
	}
	e, err := decodeEnvelope(m.Data())
	key := "s:" + m.Subject()
	if err == nil {
		if !p.s.h.w.Wants(e.Type) {
			_ = m.Ack()
			p.recent.add(seq)
			return
		}
		key = e.lane()
	}
	// An event that does not decode still goes through the router, to end
	// as a dead letter rather than vanish.
	it := &item{seq: seq, lane: key, id: e.ID, data: m.Data(), msg: m}
	if it.id == "" {
		it.id = fmt.Sprintf("position-%d", seq)
	}
	p.pending[seq] = it
	l := p.lanes[key]
	if l == nil {
		l = &lane{}
		p.lanes[key] = l
	}
	l.insert(it)
	p.kick(l)
}

// kick hands a lane's head to the router if the lane may go.
func (p *pump) kick(l *lane) {
	if l.busy || len(l.queue) == 0 || p.abandoning || p.closing || p.settling {
		return
	}
	l.busy = true
	p.inflight++
	it, gen := l.queue[0], p.gen
	go func() { p.results <- result{it: it, ok: p.s.handOver(gen, it)} }()
}

func (p *pump) finished(res result) {
	p.inflight--
	it := res.it
	l := p.lanes[it.lane]
	l.busy = false
	if res.ok {
		delete(p.pending, it.seq)
		p.recent.add(it.seq)
		l.queue = slices.DeleteFunc(l.queue, func(x *item) bool { return x == it })
		if len(l.queue) == 0 {
			delete(p.lanes, it.lane)
		}
	}
	if p.abandoning {
		if p.inflight == 0 {
			p.abandoned()
		}
		return
	}
	p.kick(l)
}

func (p *pump) kickAll() {
	for _, key := range slices.Sorted(maps.Keys(p.lanes)) {
		p.kick(p.lanes[key])
	}
}

// abandon gives up the events held: another instance holds the webhook.
func (p *pump) abandon() {
	p.pin = ""
	p.settling = false
	if p.abandoning {
		return
	}
	p.abandoning = true
	p.cancelGen(errAbandoned)
	if p.inflight == 0 {
		p.abandoned()
	}
}

// abandoned ends an abandon once the lanes are back from the router.
func (p *pump) abandoned() {
	if p.closing {
		return
	}
	p.nakAll()
	p.abandoning = false
	p.newGen()
	p.kickAll()
}

// nakAll hands every event held back to the server, in log order, and
// forgets them.
func (p *pump) nakAll() {
	for _, seq := range slices.Sorted(maps.Keys(p.pending)) {
		_ = p.pending[seq].js().Nak()
	}
	clear(p.pending)
	clear(p.lanes)
}

// heartbeat tells the server that every event held is being worked on,
// in log order so that, should this instance die, they come due in order.
func (p *pump) heartbeat() {
	for _, seq := range slices.Sorted(maps.Keys(p.pending)) {
		_ = p.pending[seq].js().InProgress()
	}
}

const settleEvery = 100 * time.Millisecond

func (p *pump) startSettling() {
	cfg := p.s.h.r.cfg
	p.settling = true
	p.settleBy = time.Now().Add(2*cfg.AckWait + cfg.PullExpiry)
	p.settle.Reset(0)
}

// checkSettled ends the wait of a newly pinned instance once it holds every
// event the consumer has out, or after long enough that the others' must
// have come back.
func (p *pump) checkSettled(ctx context.Context) {
	if !p.settling {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	info, err := p.cons.Info(ictx)
	cancel()
	if err == nil && info.NumAckPending <= len(p.pending) || time.Now().After(p.settleBy) {
		p.settling = false
		p.kickAll()
		return
	}
	p.settle.Reset(settleEvery)
}

// unpin lets another instance take the webhook over at once, if this one
// still holds it.
func (p *pump) unpin() {
	if p.pin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := p.cons.Info(ctx)
	if err != nil {
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group == pinGroup && g.PinnedClientID == p.pin {
			_ = p.s.h.r.events.UnpinConsumer(ctx, info.Name, pinGroup)
		}
	}
}
