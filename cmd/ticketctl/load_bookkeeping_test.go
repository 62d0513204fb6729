package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLoadResendRetriedUntilAnswered: resends answered unavailable and
// conflict, as during a failover, are tried again until one gives the
// first answer; nothing is lost or unconfirmed.
func TestLoadResendRetriedUntilAnswered(t *testing.T) {
	f := newFakeCommandEngine(t)
	f.set(func(f *fakeCommandEngine) {
		f.onResend = func(first []byte, n int) []byte {
			switch n {
			case 1:
				return errorReply("unavailable")
			case 2:
				return errorReply("conflict")
			}
			return first
		}
	})
	s, out, err := runLoadAt(t, f)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	acked, fewest := f.counts()
	if s.Acked == 0 || int(s.Acked) != acked || s.Lost != 0 || s.Unconfirmed != 0 {
		t.Fatalf("summary %+v, want %d acked, none lost or unconfirmed", s, acked)
	}
	if fewest < 3 {
		t.Errorf("a command was resent %d times, want 3 (two unanswered, then its answer)", fewest)
	}
}

// TestLoadResendNeverAnsweredIsUnconfirmed: resends that keep getting
// unavailable prove nothing; after -confirm-for they are unconfirmed, not
// lost, and the run fails saying so.
func TestLoadResendNeverAnsweredIsUnconfirmed(t *testing.T) {
	f := newFakeCommandEngine(t)
	f.set(func(f *fakeCommandEngine) {
		f.onResend = func([]byte, int) []byte { return errorReply("unavailable") }
	})
	const budget = 300 * time.Millisecond
	s, out, err := runLoadAt(t, f, "-confirm-for", budget.String())
	if err == nil || ExitCode(err) != 1 {
		t.Fatalf("load: err %v, want a failure (exit status 1)\n%s", err, out)
	}
	if s.Acked == 0 || s.Unconfirmed != int(s.Acked) || s.Lost != 0 {
		t.Fatalf("summary %+v, want every acked command unconfirmed and none lost", s)
	}
	if !strings.Contains(err.Error(), "unconfirmed ") || !strings.Contains(err.Error(), "no resend was answered within "+budget.String()) {
		t.Errorf("error %q does not say which commands are unconfirmed and why", err)
	}
	if _, fewest := f.counts(); fewest < 2 {
		t.Errorf("a command was resent %d times, want retries within %s", fewest, budget)
	}
	if len(s.FirstProblems) == 0 || !strings.Contains(s.FirstProblems[0], "(last: unavailable)") {
		t.Errorf("first problems %q, want the unconfirmed commands with their last answer", s.FirstProblems)
	}

	// The text summary has the line too.
	env := map[string]string{"TICKETCTL_SERVER": f.HTTPURL, "TICKETCTL_TOKEN": "tok",
		"TICKETCTL_NATS_USER": fakeLoadUser, "TICKETCTL_NATS_PASSWORD": fakeLoadPassword}
	text, _, err := run(env, "load", "-nats-url", f.NATSURL, "-producers", "1", "-duration", "100ms", "-mix", "inbound=1", "-confirm-for", "50ms")
	if err == nil || !strings.Contains(text, "\nunconfirmed  ") || !strings.Contains(text, "\nlost         0\n") {
		t.Errorf("text summary (err %v):\n%s", err, text)
	}
}

// TestLoadResendDifferentAnswerIsLost: a resend answered with another
// result than the first is a real loss.
func TestLoadResendDifferentAnswerIsLost(t *testing.T) {
	f := newFakeCommandEngine(t)
	f.set(func(f *fakeCommandEngine) {
		f.onResend = func(first []byte, _ int) []byte {
			var rep loadReply
			_ = json.Unmarshal(first, &rep)
			rep.Position += 1000
			b, _ := json.Marshal(rep)
			return b
		}
	})
	s, out, err := runLoadAt(t, f, "-confirm-for", "100ms")
	if err == nil || !strings.Contains(err.Error(), "lost ") {
		t.Fatalf("load: err %v, want a failure naming lost\n%s", err, out)
	}
	if s.Acked == 0 || s.Lost != int(s.Acked) || s.Unconfirmed != 0 {
		t.Fatalf("summary %+v, want every acked command lost", s)
	}
}

// TestLoadAckedInboundMissingFromLogIsLost: an acknowledged inbound
// message without its MessageReceived in the log is lost, whatever a
// resend says.
func TestLoadAckedInboundMissingFromLogIsLost(t *testing.T) {
	f := newFakeCommandEngine(t)
	var hidden string
	f.set(func(f *fakeCommandEngine) {
		f.omitFromLog = func(id string) bool {
			if hidden == "" {
				hidden = id
			}
			return id == hidden
		}
	})
	s, out, err := runLoadAt(t, f)
	if err == nil || s.Lost != 1 || s.Unconfirmed != 0 {
		t.Fatalf("load: err %v, summary %+v, want exactly one lost\n%s", err, s, out)
	}
	if !strings.Contains(strings.Join(s.FirstProblems, "\n"), hidden+" (opened) has no MessageReceived") {
		t.Errorf("first problems %q do not name %s", s.FirstProblems, hidden)
	}
}

// TestLoadUnansweredResendsAreUnconfirmed drives the bookkeeping itself
// through the two ways a resend gets no answer at all: a timeout (the
// engine took the request and never replied) and no responders (no engine
// subscribed, as with every instance down).
func TestLoadUnansweredResendsAreUnconfirmed(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		down       func(f *fakeCommandEngine)
	}{
		{"timeout", "timeout", func(f *fakeCommandEngine) {
			f.set(func(f *fakeCommandEngine) { f.onResend = func([]byte, int) []byte { return nil } })
		}},
		{"no responders", "transport", func(f *fakeCommandEngine) {
			if err := f.sub.Unsubscribe(); err != nil {
				t.Fatal(err)
			}
			if err := f.nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCommandEngine(t)
			nc, err := nats.Connect(f.NATSURL, nats.UserInfo(fakeLoadUser, fakeLoadPassword))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			r := &runner{ctx: context.Background(), name: "load", stdout: io.Discard, stderr: io.Discard,
				getenv: func(string) string { return "" }, client: &client{base: f.HTTPURL, token: "tok", http: &http.Client{}}}
			lg := newLoadGen(r, nc, "unit", []mixEntry{{"inbound", 1}}, 1, 10, userA)
			lg.timeout, lg.confirmFor, lg.resenders = 100*time.Millisecond, 300*time.Millisecond, 2
			for i := range 3 {
				body, _ := json.Marshal(map[string]any{"command_id": newUUID(), "profile_id": lg.profile(i), "body": "hi"})
				rep, code := lg.send(r.ctx, "inbound", body, time.Minute)
				if code != "" {
					t.Fatalf("first send: %s", code)
				}
				var c struct {
					CommandID string `json:"command_id"`
				}
				_ = json.Unmarshal(body, &c)
				lg.attemptedIDs[c.CommandID] = true
				lg.acks = append(lg.acks, loadAck{name: "inbound", id: c.CommandID, body: body, reply: rep})
			}
			tc.down(f)
			s := LoadSummary{}
			start := time.Now()
			unconfirmed, err := lg.check(&s)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if s.Unconfirmed != 3 || len(unconfirmed) != 3 || s.Lost != 0 {
				t.Fatalf("summary %+v (unconfirmed %v), want 3 unconfirmed, none lost", s, unconfirmed)
			}
			if !strings.Contains(s.FirstProblems[0], "(last: "+tc.code+")") {
				t.Errorf("problem %q, want the last answer %s", s.FirstProblems[0], tc.code)
			}
			// One round of request timeouts, then the budget: bounded, with
			// room for a loaded machine.
			if limit := 3*lg.timeout + lg.confirmFor + 10*time.Second; took > limit {
				t.Errorf("check took %s, want at most %s", took, limit)
			}
		})
	}
}

// TestLoadUnexpectedOnItsOwnProfilesOnly: an event the run never sent is
// unexpected on one of its own profiles, and none of its business on
// another one, as other traffic may share the log.
func TestLoadUnexpectedOnItsOwnProfilesOnly(t *testing.T) {
	f := newFakeCommandEngine(t)
	stray := func(profile, cmd string) fakeLogEvent {
		e := fakeLogEvent{Type: "TicketClosed", CommandID: cmd}
		e.Aggregate.Kind, e.Aggregate.ID = "profile", profile
		return e
	}
	f.set(func(f *fakeCommandEngine) {
		f.stray = []fakeLogEvent{stray("load-fixed-0", "sent-by-no-one"), stray("a-live-customer", "an-agent-tool")}
	})
	s, out, err := runLoadAt(t, f, "-run-id", "fixed", "-profiles", "1")
	if err == nil || s.Unexpected != 1 {
		t.Fatalf("load: err %v, unexpected %d; want one, on the run's own profile\n%s", err, s.Unexpected, out)
	}
	if !strings.Contains(strings.Join(s.FirstProblems, "\n"), "sent-by-no-one") || strings.Contains(strings.Join(s.FirstProblems, "\n"), "an-agent-tool") {
		t.Errorf("problems %q", s.FirstProblems)
	}
}
