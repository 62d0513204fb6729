package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const replyA = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03"

func replyStatusRoute() map[string]reply {
	return map[string]reply{"POST /v1/commands/reply_status": {200, `{"ok":true,"ticket_id":"` + ticketA + `","profile_id":"alice","outcome":"done","position":8}`}}
}

func TestReplyStatus(t *testing.T) {
	tests := []struct {
		name string
		args []string
		body string
	}{
		{"delivered", []string{"reply-status", "-reply", replyA, "-status", "delivered", "-command-id", cid},
			`{"reply_id":"` + replyA + `","status":"delivered","command_id":"` + cid + `"}`},
		{"failed with a reason", []string{"reply_status", "-status", "failed", "-reason", "number unreachable", "-reply", replyA, "-command-id", cid},
			`{"reply_id":"` + replyA + `","status":"failed","reason":"number unreachable","command_id":"` + cid + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t, replyStatusRoute())
			out, _, err := runAt(f, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if out != "ok  outcome=done  ticket="+ticketA+"  position=8\n" {
				t.Errorf("output %q", out)
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/commands/reply_status" {
				t.Fatalf("requests %+v", reqs)
			}
			assertJSONEqual(t, reqs[0].Body, tt.body)
		})
	}
}

func TestReplyStatusUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"reply-status", "-status", "delivered"}, "-reply is required"},
		{[]string{"reply-status", "-reply", replyA}, "-status is required"},
		{[]string{"reply-status", "-reply", replyA, "-status", "sent"}, `-status must be delivered or failed, got "sent"`},
		{[]string{"reply-status", "-reply", replyA, "-status", "failed"}, "-reason is required with -status failed"},
		{[]string{"reply-status", "-reply", replyA, "-status", "delivered", "-reason", "x"}, "-reason is given only with -status failed"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			f := newFakeEngine(t, replyStatusRoute())
			_, _, err := runAt(f, tt.args...)
			var u *UsageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error mentioning %q", err, tt.want)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent for a usage error", n)
			}
		})
	}
}

// TestReportReplyStatusRetries checks what a gateway's report tries again
// and that every attempt carries one command_id.
func TestReportReplyStatusRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // the engine's answers in turn; the last repeats
		wantN    int
		wantErr  bool
	}{
		{"accepted", []int{200}, 1, false},
		{"unavailable then accepted", []int{503, 200}, 2, false},
		{"refused is final", []int{400}, 1, true},
		{"forbidden is final", []int{403}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var ids []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body map[string]any
				raw, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(raw, &body)
				mu.Lock()
				ids = append(ids, body["command_id"].(string))
				st := tt.statuses[min(len(ids), len(tt.statuses))-1]
				mu.Unlock()
				w.WriteHeader(st)
				if st == 200 {
					_, _ = io.WriteString(w, `{"ok":true,"outcome":"done"}`)
				} else {
					_, _ = io.WriteString(w, `{"ok":false,"error":{"code":"x","message":"no"}}`)
				}
			}))
			defer srv.Close()
			c := &client{base: srv.URL, token: "tok", http: srv.Client()}
			err := reportReplyStatus(context.Background(), c, replyA, "delivered", "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ids) != tt.wantN {
				t.Fatalf("%d attempts, want %d", len(ids), tt.wantN)
			}
			for _, id := range ids {
				if id != ids[0] || !uuidRe.MatchString(id) {
					t.Errorf("command_ids %v, want one UUID", ids)
				}
			}
		})
	}
}
