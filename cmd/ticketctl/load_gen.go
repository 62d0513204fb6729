package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// loadRequestTimeout bounds the wait for one command's reply.
const loadRequestTimeout = 10 * time.Second

// loadReply is a command's reply over NATS.
type loadReply struct {
	OK        bool   `json:"ok"`
	TicketID  string `json:"ticket_id,omitempty"`
	ProfileID string `json:"profile_id,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	Position  uint64 `json:"position,omitempty"`
	Error     *struct {
		Code string `json:"code"`
	} `json:"error,omitempty"`
}

// loadAck is one acknowledged command, kept for the bookkeeping.
type loadAck struct {
	name    string
	id      string
	body    []byte
	reply   loadReply
	latency time.Duration
}

// loadGen is the shared state of one load run.
type loadGen struct {
	r        *runner
	nc       *nats.Conn
	runID    string
	mix      []mixEntry
	total    int
	profiles int
	userID   string

	// timeout bounds each request; confirmFor bounds the resends of
	// commands whose first resend got no answer (see confirm), and
	// resenders is how many resends are in flight at once.
	timeout    time.Duration
	confirmFor time.Duration
	resenders  int

	attempted, acked, failed atomic.Int64

	mu           sync.Mutex
	attemptedIDs map[string]bool
	failedBy     map[string]int64
	acks         []loadAck
	byPos        map[uint64]logEventKey // the events read back, by position
}

func newLoadGen(r *runner, nc *nats.Conn, runID string, mix []mixEntry, total, profiles int, userID string) *loadGen {
	return &loadGen{r: r, nc: nc, runID: runID, mix: mix, total: total, profiles: profiles, userID: userID,
		timeout: loadRequestTimeout, confirmFor: 30 * time.Second, resenders: 1,
		attemptedIDs: map[string]bool{}, failedBy: map[string]int64{}, byPos: map[uint64]logEventKey{}}
}

func (lg *loadGen) pick(rng *rand.Rand) string {
	n := rng.IntN(lg.total)
	for _, m := range lg.mix {
		if n < m.weight {
			return m.name
		}
		n -= m.weight
	}
	return lg.mix[len(lg.mix)-1].name
}

// profile names a profile of this run only, unless -run-id reuses one.
func (lg *loadGen) profile(n int) string {
	return fmt.Sprintf("load-%s-%d", lg.runID, n)
}

// ownsAggregate tells whether an aggregate is one of this run's profiles.
func (lg *loadGen) ownsAggregate(kind, id string) bool {
	return kind == "profile" && strings.HasPrefix(id, "load-"+lg.runID+"-")
}

// produce sends commands until ctx ends.
func (lg *loadGen) produce(ctx context.Context, p int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(p)))
	var tickets []string
	for i := 0; ctx.Err() == nil; i++ {
		name := lg.pick(rng)
		body := map[string]any{}
		profile := lg.profile(rng.IntN(lg.profiles))
		switch name {
		case "inbound":
			body["profile_id"] = profile
			body["body"] = fmt.Sprintf("load message %d/%d", p, i)
		case "block", "unblock":
			body["profile_id"] = profile
		default:
			if len(tickets) == 0 {
				name = "inbound"
				body["profile_id"] = profile
				body["body"] = fmt.Sprintf("load message %d/%d", p, i)
				break
			}
			body["ticket_id"] = tickets[rng.IntN(len(tickets))]
			switch name {
			case "reply":
				body["body"] = fmt.Sprintf("load reply %d/%d", p, i)
			case "snooze":
				body["duration"] = "1h"
			case "assign":
				body["assignee_id"] = lg.userID
			}
		}
		id := newUUID()
		body["command_id"] = id
		raw, _ := json.Marshal(body)
		lg.mu.Lock()
		lg.attemptedIDs[id] = true
		lg.mu.Unlock()
		lg.attempted.Add(1)
		t0 := time.Now()
		rep, code := lg.send(ctx, name, raw, lg.timeout)
		lat := time.Since(t0)
		if code != "" {
			if ctx.Err() != nil && (code == "timeout" || code == "transport") {
				// Cut off by the end of the run, not by the engine.
				code = "cut_off"
			}
			lg.failed.Add(1)
			lg.mu.Lock()
			lg.failedBy[code]++
			lg.mu.Unlock()
			continue
		}
		lg.acked.Add(1)
		if name == "inbound" && rep.TicketID != "" && !slices.Contains(tickets, rep.TicketID) {
			tickets = append(tickets, rep.TicketID)
		}
		lg.mu.Lock()
		lg.acks = append(lg.acks, loadAck{name: name, id: id, body: raw, reply: rep, latency: lat})
		lg.mu.Unlock()
	}
}

// send makes one NATS request and returns the reply, or an error code:
// the engine's, or timeout, transport or bad_reply.
func (lg *loadGen) send(ctx context.Context, name string, body []byte, timeout time.Duration) (loadReply, string) {
	msg := nats.NewMsg("tickets.cmd." + name)
	msg.Data = body
	msg.Header.Set("Authorization", "Bearer "+lg.r.client.token)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	res, err := lg.nc.RequestMsgWithContext(rctx, msg)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return loadReply{}, "timeout"
		}
		return loadReply{}, "transport"
	}
	var rep loadReply
	if err := json.Unmarshal(res.Data, &rep); err != nil {
		return loadReply{}, "bad_reply"
	}
	if !rep.OK {
		if rep.Error != nil && rep.Error.Code != "" {
			return rep, rep.Error.Code
		}
		return rep, "unknown"
	}
	return rep, ""
}
