package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// reply is a command's reply.
type reply struct {
	OK       bool   `json:"ok"`
	TicketID string `json:"ticket_id"`
	Outcome  string `json:"outcome"`
	Position uint64 `json:"position"`
	Error    *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// client sends commands to ticketd over NATS, as producers do.
type client struct {
	nc      *nats.Conn
	token   string
	timeout time.Duration
}

// send sends one command, with a fresh command_id unless body has one,
// and checks its reply. It
// returns "" for an acknowledged command, else the error's code: the
// engine's own, or timeout, no_responders, transport, bad_reply.
func (c *client) send(name string, body map[string]any) (reply, string) {
	if _, ok := body["command_id"]; !ok {
		body["command_id"] = uuid.NewString()
	}
	msg := nats.NewMsg("tickets.cmd." + name)
	msg.Data, _ = json.Marshal(body)
	msg.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.nc.RequestMsg(msg, c.timeout)
	switch {
	case errors.Is(err, nats.ErrTimeout):
		return reply{}, "timeout"
	case errors.Is(err, nats.ErrNoResponders):
		return reply{}, "no_responders"
	case err != nil:
		return reply{}, "transport"
	}
	var rep reply
	if err := json.Unmarshal(res.Data, &rep); err != nil {
		return reply{}, "bad_reply"
	}
	switch {
	case !rep.OK && rep.Error != nil && rep.Error.Code != "":
		return rep, rep.Error.Code
	case !rep.OK:
		return rep, "bad_reply"
	case rep.TicketID == "" || rep.Position == 0:
		// An acknowledgement names the ticket and the log position.
		return rep, "bad_reply"
	}
	return rep, ""
}

// sample is one acknowledged command: when its reply came, counted from
// the start of the load, and how long it took.
type sample struct {
	at, latency time.Duration
}

// recorder is what one producer saw; each producer has its own, merged at
// the end, so that recording costs no lock on the hot path.
type recorder struct {
	start    time.Time
	acks     []sample
	errors   map[string]int64
	commands map[string]int64 // acknowledged, by command
	outcomes map[string]int64 // acknowledged inbound, by outcome
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, errors: map[string]int64{}, commands: map[string]int64{}, outcomes: map[string]int64{}}
}

// send sends one command through c and records the result.
func (r *recorder) send(c *client, name string, body map[string]any) (reply, string) {
	t0 := time.Now()
	rep, code := c.send(name, body)
	now := time.Now()
	if code != "" {
		r.errors[code]++
		return rep, code
	}
	r.acks = append(r.acks, sample{at: now.Sub(r.start), latency: now.Sub(t0)})
	r.commands[name]++
	if name == "inbound" {
		r.outcomes[rep.Outcome]++
	}
	return rep, ""
}

// Latency is a distribution of latencies, in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// latencyOf sorts ds and takes its nearest-rank percentiles.
func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.999999) - 1
		return float64(ds[max(i, 0)]) / float64(time.Millisecond)
	}
	return Latency{N: len(ds), P50: rank(0.50), P99: rank(0.99), Max: rank(1)}
}

// LoadFigures are the figures of one closed-loop load.
type LoadFigures struct {
	Producers   int              `json:"producers"`
	Seconds     float64          `json:"seconds"`
	Attempted   int64            `json:"attempted"`
	Acked       int64            `json:"acked"`
	Errors      map[string]int64 `json:"errors"`
	AckedPerSec float64          `json:"acked_per_second"`
	Latency     Latency          `json:"latency"`
	// Tenths are the acknowledged commands per second in each tenth of
	// the run: of the acknowledged commands (scale, so that growth with
	// the store's size shows) or of the time (storm).
	Tenths   []float64        `json:"acked_per_second_by_tenth"`
	Commands map[string]int64 `json:"acked_by_command"`
	Outcomes map[string]int64 `json:"inbound_outcomes"`
	ProcFigures
}

// ProcFigures are ticketd's resources during a load.
type ProcFigures struct {
	RSSStart int64 `json:"rss_start_bytes"`
	RSSPeak  int64 `json:"rss_peak_bytes"` // of samples taken every second
	RSSEnd   int64 `json:"rss_end_bytes"`
	// TicketdCPUSeconds is the CPU time ticketd used during the load:
	// over the commands, the cost of one on any machine of the kind.
	TicketdCPUSeconds float64 `json:"ticketd_cpu_seconds"`
}

// summarize merges the producers' recorders of a load that took elapsed.
func summarize(recs []*recorder, producers int, elapsed time.Duration, tenthsByCount bool) LoadFigures {
	f := LoadFigures{Producers: producers, Seconds: elapsed.Seconds(),
		Errors: map[string]int64{}, Commands: map[string]int64{}, Outcomes: map[string]int64{}}
	var acks []sample
	for _, r := range recs {
		acks = append(acks, r.acks...)
		for _, m := range []struct{ to, from map[string]int64 }{{f.Errors, r.errors}, {f.Commands, r.commands}, {f.Outcomes, r.outcomes}} {
			for k, v := range m.from {
				m.to[k] += v
			}
		}
	}
	f.Acked = int64(len(acks))
	f.Attempted = f.Acked
	for _, n := range f.Errors {
		f.Attempted += n
	}
	if elapsed > 0 {
		f.AckedPerSec = float64(f.Acked) / elapsed.Seconds()
	}
	lat := make([]time.Duration, len(acks))
	for i, a := range acks {
		lat[i] = a.latency
	}
	f.Latency = latencyOf(lat)
	slices.SortFunc(acks, func(a, b sample) int { return cmp.Compare(a.at, b.at) })
	if tenthsByCount {
		f.Tenths = tenthsOfCount(acks)
	} else {
		f.Tenths = tenthsOfTime(acks, elapsed)
	}
	return f
}

// tenthsOfCount splits the acknowledgements, in order, into ten equal
// parts and gives each part's rate from the end of the one before.
func tenthsOfCount(acks []sample) []float64 {
	if len(acks) < 10 {
		return nil
	}
	out := make([]float64, 10)
	var from time.Duration
	for k := range 10 {
		lo, hi := k*len(acks)/10, (k+1)*len(acks)/10
		to := acks[hi-1].at
		if to > from {
			out[k] = float64(hi-lo) / (to - from).Seconds()
		}
		from = to
	}
	return out
}

// tenthsOfTime counts the acknowledgements in ten equal windows of the
// load's time.
func tenthsOfTime(acks []sample, elapsed time.Duration) []float64 {
	if elapsed <= 0 {
		return nil
	}
	out := make([]float64, 10)
	for _, a := range acks {
		out[min(9, int(10*a.at/elapsed))]++
	}
	for k := range out {
		out[k] /= elapsed.Seconds() / 10
	}
	return out
}
