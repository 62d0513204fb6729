package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// freeAddr picks a free loopback TCP address once, so that a restarted
// engine can listen on the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// killNine sends SIGKILL to the engine and waits until the process is
// gone (reaped), so that its ports and its data directory are free again.
func killNine(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 ticketd: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	backoff := time.Millisecond
	for {
		// Until startTicketdIn's reader reaps it, the process is a zombie
		// and signal 0 still reaches it.
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ticketd (pid %d) still present 30s after SIGKILL", pid)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// TestKillNineDuringLoad runs ticketctl load while the engine is killed
// with SIGKILL three times and restarted on the same data directory and
// ports. Commands sent during an outage may fail, but nothing acknowledged
// may be lost or duplicated, and the views must match the log.
func TestKillNineDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts ticketd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildTicketd(ctx, t)
	token, dataDir := randomToken(), t.TempDir()
	httpAddr, natsAddr := freeAddr(t), freeAddr(t)
	start := func() (string, *exec.Cmd) {
		t.Helper()
		return startTicketdIn(ctx, t, bin, token, dataDir, "-http", httpAddr, "-nats-listen", natsAddr)
	}
	server, proc := start()

	h := fnv.New64a()
	_, _ = io.WriteString(h, t.Name())
	rng := rand.New(rand.NewPCG(h.Sum64(), 0))

	type result struct {
		out, errb string
		err       error
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			return map[string]string{"TICKETCTL_SERVER": server, "TICKETCTL_TOKEN": token}[k]
		}}
		err := m.Run(ctx, []string{"-json", "load", "-nats-url", "nats://" + natsAddr,
			"-producers", "8", "-duration", "12s", "-profiles", "20"})
		done <- result{out.String(), errb.String(), err}
	}()

	began := time.Now()
	var early *result
	for i := range 3 {
		delay := time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		select {
		case r := <-done:
			early = &r
		case <-time.After(delay):
		}
		if early != nil {
			t.Logf("the load ended after %d kills", i)
			break
		}
		killNine(t, proc)
		t.Logf("kill %d at %.1fs (after %s)", i+1, time.Since(began).Seconds(), delay.Round(time.Millisecond))
		var got string
		got, proc = start()
		if got != server {
			t.Fatalf("restarted ticketd serves %s, want %s", got, server)
		}
		t.Logf("restarted at %.1fs", time.Since(began).Seconds())
	}
	var r result
	if early != nil {
		r = *early
	} else {
		select {
		case r = <-done:
		case <-ctx.Done():
			t.Fatal("the load did not finish")
		}
	}
	if r.err != nil {
		t.Fatalf("load: %v\n%s%s", r.err, r.out, r.errb)
	}
	var s LoadSummary
	if err := json.Unmarshal([]byte(r.out), &s); err != nil {
		t.Fatalf("load -json: %v: %q", err, r.out)
	}
	t.Logf("load summary: attempted %d acked %d failed %d %v events %d lost %d unconfirmed %d duplicated %d unexpected %d views mismatched %d in %.1fs",
		s.Attempted, s.Acked, s.Failed, s.FailedByCode, s.EventsInLog, s.Lost, s.Unconfirmed, s.Duplicated, s.Unexpected, s.ViewsMismatch, s.Duration)
	if early != nil {
		t.Errorf("the load finished before the three kills")
	}
	if s.Acked == 0 || s.Lost != 0 || s.Unconfirmed != 0 || s.Duplicated != 0 || s.Unexpected != 0 || s.ViewsMismatch != 0 {
		t.Fatalf("load summary: %+v", s)
	}
	if s.Attempted != s.Acked+s.Failed {
		t.Fatalf("load counts do not add up: %+v", s)
	}
}

// apiCall sends one authenticated request to ticketd and decodes a 200
// reply into out.
func apiCall(t *testing.T, method, server, token, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, server+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// TestSnoozeDueWhileEverythingIsDown snoozes a ticket, kills the engine,
// and lets the snooze fall due while it is down (the clock moves after the
// restart). The restarted engine must wake the ticket exactly once, and a
// further kill and restart must not wake it again.
func TestSnoozeDueWhileEverythingIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts ticketd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildTicketd(ctx, t)
	token, dataDir := randomToken(), t.TempDir()
	server, proc := startTicketdIn(ctx, t, bin, token, dataDir, "-test-clock")

	var opened commandReply
	apiCall(t, "POST", server, token, "/v1/commands/inbound", map[string]any{
		"command_id": newUUID(), "profile_id": "snooze-" + newUUID()[:8], "body": "Where is my parcel?"}, &opened)
	if opened.TicketID == "" {
		t.Fatalf("inbound: %+v, want a ticket", opened)
	}
	id := opened.TicketID
	apiCall(t, "POST", server, token, "/v1/commands/mark_read", map[string]any{"command_id": newUUID(), "ticket_id": id}, nil)
	var snoozed commandReply
	apiCall(t, "POST", server, token, "/v1/commands/snooze", map[string]any{
		"command_id": newUUID(), "ticket_id": id, "duration": "1h"}, &snoozed)

	killNine(t, proc)
	server, proc = startTicketdIn(ctx, t, bin, token, dataDir, "-test-clock")

	advance := func() string {
		t.Helper()
		var adv struct {
			Position int64 `json:"position"`
		}
		apiCall(t, "POST", server, token, "/v1/test-clock/advance", map[string]string{"duration": "2h"}, &adv)
		return url.Values{"min_position": {fmt.Sprint(adv.Position)}}.Encode()
	}
	wokeCount := func(q string) int {
		t.Helper()
		var evs []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		apiCall(t, "GET", server, token, "/v1/tickets/"+id+"/events?"+q, nil, &evs)
		n := 0
		for _, e := range evs {
			if e.Type != "TicketWoke" {
				continue
			}
			n++
			var d struct {
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(e.Data, &d); err != nil || d.Reason != "timer" {
				t.Errorf("TicketWoke data %s, want reason timer", e.Data)
			}
		}
		return n
	}

	q := advance()
	var tk struct {
		Status string `json:"status"`
		Unread bool   `json:"unread"`
	}
	apiCall(t, "GET", server, token, "/v1/tickets/"+id+"?"+q, nil, &tk)
	if tk.Status != "open" || !tk.Unread {
		t.Errorf("after the snooze fell due: status %q unread %v, want open and unread", tk.Status, tk.Unread)
	}
	if n := wokeCount(q); n != 1 {
		t.Fatalf("%d TicketWoke events after the restart, want 1", n)
	}

	killNine(t, proc)
	server, _ = startTicketdIn(ctx, t, bin, token, dataDir, "-test-clock")
	if n := wokeCount(advance()); n != 1 {
		t.Fatalf("%d TicketWoke events after a second restart, want 1", n)
	}
}
