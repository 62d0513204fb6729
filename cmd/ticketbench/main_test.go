package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// built is the ticketd binary of the tests, built once per test binary.
var built struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func ticketdBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "ticketbench-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "ticketd")
		cmd := exec.Command("go", "build", "-o", built.bin, "../ticketd")
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build ../ticketd: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// runBench runs ticketbench in-process with a temporary directory of the
// test's own, then checks that it left neither a file there nor a ticketd
// running.
func runBench(t *testing.T, args ...string) *Main {
	t.Helper()
	bin := ticketdBinary(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	m := NewMain()
	m.Stdout = io.Discard
	m.Stderr = testWriter{t}
	if err := m.ParseFlags(append(args, "-ticketd", bin, "-baseline", "1s")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "ticketbench-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
	if pids := processesOf(t, bin); len(pids) > 0 {
		t.Errorf("ticketd still running after the run: pids %v", pids)
	}
	return m
}

// processesOf lists the processes running the binary bin.
func processesOf(t *testing.T, bin string) []string {
	t.Helper()
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	var pids []string
	for _, exe := range exes {
		if target, err := os.Readlink(exe); err == nil && target == bin {
			pids = append(pids, filepath.Base(filepath.Dir(exe)))
		}
	}
	return pids
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// checkLoad checks the figures every load has.
func checkLoad(t *testing.T, l LoadFigures, producers int) {
	t.Helper()
	if len(l.Errors) > 0 {
		t.Errorf("errors: %v", l.Errors)
	}
	if l.Producers != producers || l.Acked == 0 || l.Attempted != l.Acked || l.AckedPerSec <= 0 || l.Seconds <= 0 {
		t.Errorf("load figures: producers %d, attempted %d, acked %d, %.1f/s in %.2f s",
			l.Producers, l.Attempted, l.Acked, l.AckedPerSec, l.Seconds)
	}
	if l.Latency.N != int(l.Acked) || l.Latency.P50 <= 0 || l.Latency.P50 > l.Latency.P99 || l.Latency.P99 > l.Latency.Max {
		t.Errorf("latency: %+v for %d acked", l.Latency, l.Acked)
	}
	if len(l.Tenths) != 10 {
		t.Errorf("tenths: %v", l.Tenths)
	}
	for k, v := range l.Tenths {
		if v < 0 {
			t.Errorf("tenth %d: %.1f/s", k+1, v)
		}
	}
	if l.RSSStart <= 0 || l.RSSEnd <= 0 || l.RSSStart > l.RSSPeak || l.RSSEnd > l.RSSPeak {
		t.Errorf("RSS: start %d, peak %d, end %d", l.RSSStart, l.RSSPeak, l.RSSEnd)
	}
	if l.TicketdCPUSeconds <= 0 || l.TicketdCPUSeconds > 2*l.Seconds*float64(runtime.NumCPU()) {
		t.Errorf("ticketd CPU %.2f s in a load of %.2f s", l.TicketdCPUSeconds, l.Seconds)
	}
}

func checkBaselines(t *testing.T, ratio float64, bs ...Baseline) {
	t.Helper()
	for _, b := range bs {
		if b.Messages <= 0 || b.MsgsPerSec <= 0 || b.TicketdCPUSeconds < 0 {
			t.Errorf("baseline: %+v", b)
		}
	}
	if ratio <= 0 {
		t.Errorf("ratio %.3f", ratio)
	}
}

func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ticketd and writes 2,000 tickets")
	}
	out := filepath.Join(t.TempDir(), "scale.md")
	m := runBench(t, "scale", "-tickets", "2000", "-producers", "16", "-queries", "100", "-cold", "60", "-idle-wait", "1s", "-out", out)
	if len(m.Report.Scale) != 1 {
		t.Fatalf("%d sizes in the report, want 1", len(m.Report.Scale))
	}
	s := m.Report.Scale[0]
	checkLoad(t, s.Load, 16)
	// Each tenth of the acknowledgements took some time.
	for k, v := range s.Load.Tenths {
		if v <= 0 {
			t.Errorf("tenth %d: %.1f/s", k+1, v)
		}
	}
	if s.Tickets != 2000 || s.Load.Acked != 2000 || s.Load.Outcomes["opened"] != 2000 {
		t.Errorf("tickets %d, acked %d, outcomes %v; want 2000 opened", s.Tickets, s.Load.Acked, s.Load.Outcomes)
	}
	checkBaselines(t, s.Ratio, s.BaselineBefore, s.BaselineAfter)
	if s.DataDirBytes <= 0 || s.ViewsCatchUpSeconds < 0 {
		t.Errorf("data dir %d bytes, views caught up in %.3f s", s.DataDirBytes, s.ViewsCatchUpSeconds)
	}
	if len(s.Queries) != 6 {
		t.Fatalf("queries: %+v", s.Queries)
	}
	for _, q := range s.Queries {
		if q.Latency.N != 100 || q.Latency.P50 <= 0 || len(q.Errors) > 0 || q.Empty > 0 {
			t.Errorf("%s: %+v, %d found nothing, errors %v", q.Query, q.Latency, q.Empty, q.Errors)
		}
	}
	if s.Cold.Pool != 200 || len(s.Cold.Errors) > 0 {
		t.Errorf("cold: pool %d, errors %v; want the 200 oldest tickets, no error", s.Cold.Pool, s.Cold.Errors)
	}
	for _, c := range coldCommands {
		if l := s.Cold.ByCommand[c]; l.N != 20 || l.P50 <= 0 {
			t.Errorf("cold %s: %+v", c, l)
		}
	}
	// 2,000 first contacts, one in 2000/2000 sampled: every one of them.
	if rp := s.Repeats; rp.Sent != 2000 || rp.Same != rp.Sent || len(rp.Errors) > 0 {
		t.Errorf("repeats after the restart: %+v; want every first answer again", rp)
	}
	r := s.Restart
	if r.Killed || r.StopSeconds <= 0 || r.ReadySeconds <= 0 || r.RSSReady <= 0 || r.RSSIdle <= 0 || r.IdleSeconds != 1 {
		t.Errorf("restart: %+v", r)
	}

	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| first contacts acknowledged | 2,000 of 2,000 |", "`ticketbench scale -tickets 2000", "restart: start to /readyz 200"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the markdown report lacks %q:\n%s", want, md)
		}
	}
	var fromJSON Report
	b, err := os.ReadFile(strings.TrimSuffix(out, ".md") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON.Scale[0].Load, s.Load) || fromJSON.Command != m.Report.Command {
		t.Errorf("the JSON report differs from the run's:\n%s", b)
	}
}

func TestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ticketd three times")
	}
	for _, tc := range []struct {
		mix   string
		check func(t *testing.T, l LoadFigures)
	}{
		{"first", func(t *testing.T, l LoadFigures) {
			if l.Commands["inbound"] != l.Acked || l.Outcomes["opened"] != l.Acked {
				t.Errorf("want only first contacts, got %v, outcomes %v", l.Commands, l.Outcomes)
			}
		}},
		{"mixed", func(t *testing.T, l LoadFigures) {
			if n := l.Commands["inbound"]; n < l.Acked/4 || n > 3*l.Acked/4 || l.Outcomes["opened"] != n {
				t.Errorf("want about half first contacts, got %v, outcomes %v", l.Commands, l.Outcomes)
			}
			for _, c := range ticketCommands {
				if l.Commands[c] == 0 {
					t.Errorf("no %s acknowledged: %v", c, l.Commands)
				}
			}
		}},
		{"warm", func(t *testing.T, l LoadFigures) {
			if l.Commands["inbound"] != l.Acked || l.Outcomes["appended"] != l.Acked {
				t.Errorf("want only messages on the warm profiles' tickets, got %v, outcomes %v", l.Commands, l.Outcomes)
			}
		}},
	} {
		t.Run(tc.mix, func(t *testing.T) {
			m := runBench(t, "storm", "-duration", "3s", "-producers", "16", "-mix", tc.mix)
			s := m.Report.Storm
			if s == nil || s.Mix != tc.mix {
				t.Fatalf("report: %+v", m.Report)
			}
			checkLoad(t, s.Load, 16)
			// Tenths of the time, which a stall of the disk may leave
			// empty: together they hold every acknowledgement.
			var sum float64
			for _, v := range s.Load.Tenths {
				sum += v * s.Load.Seconds / 10
			}
			if math.Abs(sum-float64(s.Load.Acked)) > 0.5 {
				t.Errorf("tenths %v over %.2f s hold %.1f acknowledgements, want %d", s.Load.Tenths, s.Load.Seconds, sum, s.Load.Acked)
			}
			checkBaselines(t, s.Ratio, s.BaselineBefore, s.BaselineAfter)
			tc.check(t, s.Load)
		})
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		err     string // a part of the error, "" for none
		tickets []int
	}{
		{args: []string{"scale", "-tickets", "100000,1000000"}, tickets: []int{100000, 1000000}},
		{args: []string{"scale", "-tickets", "2000", "-out", "r.md"}, tickets: []int{2000}},
		{args: []string{"scale"}, err: "-tickets: required"},
		{args: []string{"scale", "-tickets", "5"}, err: "at least 10"},
		{args: []string{"scale", "-tickets", "1e5"}, err: "whole numbers"},
		{args: []string{"scale", "-tickets", "100", "-out", "r.json"}, err: "the JSON goes beside it"},
		{args: []string{"scale", "-tickets", "100", "-producers", "0"}, err: "must be positive"},
		{args: []string{"storm", "-mix", "warm"}},
		{args: []string{"storm", "-mix", "hot"}, err: "-mix must be one of first, mixed, warm"},
		{args: []string{"storm", "-duration", "0s"}, err: "-duration must be positive"},
		{args: []string{"storm", "-tickets", "10"}, err: "not defined"},
		{args: []string{"bench"}, err: "want a subcommand"},
		{args: nil, err: "want a subcommand"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(tc.args)
			if got := fmt.Sprint(err); (tc.err == "") != (err == nil) || tc.err != "" && !strings.Contains(got, tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if !reflect.DeepEqual(m.Config.Tickets, tc.tickets) {
				t.Errorf("tickets %v, want %v", m.Config.Tickets, tc.tickets)
			}
		})
	}
}
