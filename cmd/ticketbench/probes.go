package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// readRSS reads a process's resident set (VmRSS) in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// readCPU reads the CPU time, user and system, a process has used.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The name, in parentheses, may hold spaces: fields count from after it.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	// Linux counts them in USER_HZ, 100 a second on every architecture.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// procSampler watches ticketd during a load: its RSS every second, and
// the CPU time it used.
type procSampler struct {
	pid         int
	stop        chan struct{}
	done        chan struct{}
	first, peak int64
	cpu0        time.Duration
}

func sampleProc(pid int) *procSampler {
	s := &procSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.cpu0, _ = readCPU(pid)
	s.first = s.read()
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.read()
			}
		}
	}()
	return s
}

func (s *procSampler) read() int64 {
	rss, _ := readRSS(s.pid)
	s.peak = max(s.peak, rss)
	return rss
}

// finish takes a last sample and returns the figures.
func (s *procSampler) finish() ProcFigures {
	close(s.stop)
	<-s.done
	end := s.read()
	cpu1, _ := readCPU(s.pid)
	return ProcFigures{RSSStart: s.first, RSSPeak: s.peak, RSSEnd: end, TicketdCPUSeconds: (cpu1 - s.cpu0).Seconds()}
}

// dirSize adds up the sizes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// QueryFigures are the latencies of one GET /v1/tickets query, sent n
// times one after another.
type QueryFigures struct {
	Query   string  `json:"query"`
	Latency Latency `json:"latency"`
	// Empty counts the answers that listed no ticket: every query a scale
	// run makes matches at least one, so a search that finds nothing is
	// broken, however fast.
	Empty  int64            `json:"empty"`
	Errors map[string]int64 `json:"errors"`
}

// query measures GET /v1/tickets with the query string q(i) of its i-th
// request, n times; label names it in the figures. A request counts when
// it answers 200 with a list of tickets; anything else is an error named
// by its status.
func (s *session) query(ctx context.Context, label string, q func(i int) string, n int) (QueryFigures, error) {
	f := QueryFigures{Query: "GET /v1/tickets" + label, Errors: map[string]int64{}}
	var lat []time.Duration
	for i := range n {
		if err := ctx.Err(); err != nil {
			return f, err
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.d.httpAddr+"/v1/tickets"+q(i), nil)
		req.Header.Set("Authorization", "Bearer "+s.d.token)
		t0 := time.Now()
		res, err := s.http.Do(req)
		if err != nil {
			f.Errors["transport"]++
			continue
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(t0)
		var page struct {
			Tickets []json.RawMessage `json:"tickets"`
		}
		switch {
		case err != nil:
			f.Errors["transport"]++
		case res.StatusCode != http.StatusOK:
			f.Errors["http_"+strconv.Itoa(res.StatusCode)]++
		case json.Unmarshal(body, &page) != nil || page.Tickets == nil:
			f.Errors["bad_reply"]++
		default:
			lat = append(lat, d)
			if len(page.Tickets) == 0 {
				f.Empty++
			}
		}
	}
	f.Latency = latencyOf(lat)
	return f, nil
}

// coldCommands are sent in turn to cold tickets.
var coldCommands = []string{"mark_unread", "mark_read", "reply"}

// ColdFigures are the latencies of commands on tickets among the oldest
// 10%, which the load has not touched since their first contact.
type ColdFigures struct {
	Pool      int                `json:"pool"`
	ByCommand map[string]Latency `json:"latency_by_command"`
	Errors    map[string]int64   `json:"errors"`
}

// cold sends n commands, one at a time, each to a ticket picked at random
// from pool, without repeating one before the pool is used up.
func (s *session) cold(ctx context.Context, pool []string, n int) (ColdFigures, error) {
	f := ColdFigures{Pool: len(pool), ByCommand: map[string]Latency{}, Errors: map[string]int64{}}
	if len(pool) == 0 {
		return f, fmt.Errorf("no ticket to send cold commands to")
	}
	order := rand.Perm(len(pool))
	lat := map[string][]time.Duration{}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return f, err
		}
		name := coldCommands[i%len(coldCommands)]
		body := map[string]any{"ticket_id": pool[order[i%len(order)]]}
		if name == "reply" {
			body["body"] = "Thanks for your patience, here is an update on your request."
		}
		t0 := time.Now()
		if _, code := s.cmds.send(name, body); code != "" {
			f.Errors[code]++
			continue
		}
		lat[name] = append(lat[name], time.Since(t0))
	}
	for name, ds := range lat {
		f.ByCommand[name] = latencyOf(ds)
	}
	return f, nil
}
