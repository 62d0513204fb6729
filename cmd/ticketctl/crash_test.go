package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestKillNineMidStream kills a real ticketd process with SIGKILL while
// commands are being written and applied, starts it again on the same data
// directory, and checks that every acknowledged command is in the log
// (a resend with its command_id returns the first result) and that the
// views equal a fresh replay of the log (views verify finds nothing).
func TestKillNineMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts ticketd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildTicketd(ctx, t)
	token, dataDir := randomToken(), t.TempDir()
	server, proc := startTicketdIn(ctx, t, bin, token, dataDir)

	type ack struct {
		body     []byte
		position int64
		ticket   string
	}
	var (
		mu    sync.Mutex
		acked []ack
		n     atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				body, _ := json.Marshal(map[string]any{"command_id": newUUID(),
					"profile_id": fmt.Sprintf("crash-%d", (p*7+i)%11), "body": fmt.Sprintf("message %d/%d", p, i)})
				rep, ok := postCommand(server, token, body)
				if !ok {
					continue // the engine is gone; nothing is counted
				}
				mu.Lock()
				acked = append(acked, ack{body, rep.Position, rep.TicketID})
				mu.Unlock()
				n.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(time.Minute)
	for n.Load() < 150 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	if len(acked) < 150 {
		t.Fatalf("only %d commands acknowledged before the kill", len(acked))
	}

	server, _ = startTicketdIn(ctx, t, bin, token, dataDir)
	for _, a := range acked {
		rep, ok := postCommand(server, token, a.body)
		if !ok || rep.Position != a.position || rep.TicketID != a.ticket {
			t.Fatalf("acknowledged command %s came back as %+v (ok=%v), first answer was position %d", a.body, rep, ok, a.position)
		}
	}
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		return map[string]string{"TICKETCTL_SERVER": server, "TICKETCTL_TOKEN": token}[k]
	}}
	if err := m.Run(ctx, []string{"views", "verify"}); err != nil {
		t.Fatalf("views verify after kill -9: %v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "match") {
		t.Fatalf("views verify: %s", out.String())
	}
}

// postCommand sends an inbound command over HTTP and reports whether it was
// acknowledged.
func postCommand(server, token string, body []byte) (commandReply, bool) {
	req, _ := http.NewRequest("POST", server+"/v1/commands/inbound", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return commandReply{}, false
	}
	defer resp.Body.Close()
	var rep commandReply
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&rep) != nil {
		return rep, false
	}
	return rep, true
}
