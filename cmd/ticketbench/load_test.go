package main

import (
	"reflect"
	"testing"
	"time"
)

func TestLatencyOf(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"none", nil, Latency{}},
		{"one", ms(7), Latency{N: 1, P50: 7, P99: 7, Max: 7}},
		{"two", ms(9, 1), Latency{N: 2, P50: 1, P99: 9, Max: 9}},
		{"hundred", ms(hundred...), Latency{N: 100, P50: 50, P99: 99, Max: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := latencyOf(tc.in); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTenths(t *testing.T) {
	// 100 acks, one every 10 ms for the first half, one every 20 ms after.
	var acks []sample
	at := time.Duration(0)
	for i := range 100 {
		if i < 50 {
			at += 10 * time.Millisecond
		} else {
			at += 20 * time.Millisecond
		}
		acks = append(acks, sample{at: at})
	}
	wantCount := []float64{100, 100, 100, 100, 100, 50, 50, 50, 50, 50}
	if got := tenthsOfCount(acks); !reflect.DeepEqual(round(got), wantCount) {
		t.Errorf("by count: %v, want %v", got, wantCount)
	}
	// By time, 1 s in ten windows of 100 ms: ten acks in the first, five
	// in the last and one at the very end, which counts in the last.
	var timed []sample
	for range 10 {
		timed = append(timed, sample{at: 50 * time.Millisecond})
	}
	for range 5 {
		timed = append(timed, sample{at: 950 * time.Millisecond})
	}
	timed = append(timed, sample{at: time.Second})
	wantTime := []float64{100, 0, 0, 0, 0, 0, 0, 0, 0, 60}
	if got := round(tenthsOfTime(timed, time.Second)); !reflect.DeepEqual(got, wantTime) {
		t.Errorf("by time: %v, want %v", got, wantTime)
	}
	if tenthsOfCount(acks[:9]) != nil {
		t.Error("tenths of fewer than ten acks")
	}
}

// round rounds to whole numbers, for comparing rates.
func round(fs []float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = float64(int(f + 0.5))
	}
	return out
}

func TestSummarizeMerges(t *testing.T) {
	start := time.Now()
	a, b := newRecorder(start), newRecorder(start)
	a.acks = []sample{{at: time.Second, latency: time.Millisecond}}
	a.errors["timeout"], a.commands["inbound"], a.outcomes["opened"] = 1, 1, 1
	b.acks = []sample{{at: 2 * time.Second, latency: 3 * time.Millisecond}}
	b.errors["timeout"], b.errors["ticket_closed"], b.commands["reply"] = 2, 1, 1
	f := summarize([]*recorder{a, b}, 2, 2*time.Second, false)
	if f.Acked != 2 || f.Attempted != 6 || f.AckedPerSec != 1 || f.Latency.Max != 3 {
		t.Errorf("acked %d, attempted %d, %.1f/s, latency %+v", f.Acked, f.Attempted, f.AckedPerSec, f.Latency)
	}
	want := map[string]int64{"timeout": 3, "ticket_closed": 1}
	if !reflect.DeepEqual(f.Errors, want) || f.Commands["inbound"] != 1 || f.Commands["reply"] != 1 || f.Outcomes["opened"] != 1 {
		t.Errorf("errors %v, commands %v, outcomes %v", f.Errors, f.Commands, f.Outcomes)
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := num(in); got != want {
			t.Errorf("num(%d) = %q, want %q", in, got, want)
		}
	}
}
