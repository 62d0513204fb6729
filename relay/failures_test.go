package relay_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/internal/metrictest"
	"github.com/ticketbus/ticketbus/relay"
)

// TestDeadLetters checks that an event that fails for good is kept as a
// dead letter, without its text, that the ticket's next events go on, and
// that Retry delivers it once the receiver takes it.
func TestDeadLetters(t *testing.T) {
	const text = "my card number is 4242 4242"
	tests := []struct {
		name     string
		status   int
		write    func(tk *ticket) domain.Event
		attempts func(n int) bool
		lastErr  string
	}{
		{"a 4xx fails at once", http.StatusBadRequest,
			func(tk *ticket) domain.Event { e, _ := tk.reply(text); return e },
			func(n int) bool { return n == 1 }, "answered 400 Bad Request"},
		{"a 410 fails at once", http.StatusGone,
			func(tk *ticket) domain.Event { e, _ := tk.inbound(text); return e },
			func(n int) bool { return n == 1 }, "answered 410 Gone"},
		{"a 500 fails once the retries run out", http.StatusInternalServerError,
			func(tk *ticket) domain.Event { e, _ := tk.inbound(text); return e },
			func(n int) bool { return n >= 2 }, "answered 500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			tk := newTicket(t, s.log, s.eng)
			var accept atomic.Bool
			var bad atomic.Value
			rc := newReceiver(t, func(d relay.Delivery, n int) int {
				if id, _ := bad.Load().(string); d.ID == id && !accept.Load() {
					return tt.status
				}
				return http.StatusOK
			})
			w := s.hook(t, rc, domain.WebhookAll)
			cfg := s.config(t, nil)
			cfg.RetryFor = 300 * time.Millisecond
			cfg.MaxRetryWait = 50 * time.Millisecond
			cfg.FirstRetry = 10 * time.Millisecond
			r := s.start(t, cfg)
			failing := tt.write(tk)
			bad.Store(failing.ID)
			// Written after: the failed event must not hold it back for good.
			next, _ := tk.assign("u-2")
			waitFor(t, "the next event taken", func() bool { return countOK(rc) == 1 && rc.count(next.ID) == 1 })

			ctx := testContext(t)
			var fs []relay.Failure
			waitFor(t, "a dead letter", func() bool {
				var err error
				fs, err = r.Failures(ctx, w.ID)
				if err != nil {
					t.Fatal(err)
				}
				return len(fs) == 1
			})
			f := fs[0]
			if f.WebhookID != w.ID || f.EventID != failing.ID || f.Type != failing.Type || f.TicketID != tk.id || f.Position == 0 ||
				!tt.attempts(f.Attempts) || f.LastError != tt.lastErr || f.At.IsZero() {
				t.Errorf("dead letter %+v, want event %s %s of ticket %s, error %q", f, failing.ID, failing.Type, tk.id, tt.lastErr)
			}
			if f.Attempts != rc.count(failing.ID) {
				t.Errorf("dead letter says %d attempts, the receiver saw %d", f.Attempts, rc.count(failing.ID))
			}
			checkNoText(t, s, w.ID, text)
			if n := metrictest.Sum(t, s.reg, "ticketbus_webhooks_dead_letters_total", "webhook", w.ID); n != 1 {
				t.Errorf("dead_letters_total = %v, want 1", n)
			}
			replyID := ""
			if failing.Type == domain.ReplySent {
				replyID = failing.Data.(*domain.ReplySentData).MessageID
				want := "failed: webhook " + w.ID + ": " + tt.lastErr
				waitFor(t, "the reply recorded as failed", func() bool { return len(s.eng.handedOver(replyID)) == 1 })
				if got := s.eng.handedOver(replyID); got[0] != want {
					t.Errorf("reply status %q, want %q", got[0], want)
				}
			}

			// Retry while the receiver still refuses: the dead letter stays.
			before := rc.count(failing.ID)
			err := r.Retry(ctx, w.ID, failing.ID)
			var serr *relay.StatusError
			if !errors.As(err, &serr) || serr.Code != tt.status {
				t.Fatalf("Retry while refused = %v, want status %d", err, tt.status)
			}
			if fs, _ := r.Failures(ctx, w.ID); len(fs) != 1 {
				t.Fatalf("after a failed retry, %d dead letters, want 1", len(fs))
			}
			accept.Store(true)
			if err := r.Retry(ctx, w.ID, failing.ID); err != nil {
				t.Fatalf("Retry: %v", err)
			}
			if got := rc.count(failing.ID); got != before+2 {
				t.Errorf("the receiver saw %d attempts, want %d", got, before+2)
			}
			last := rc.requests()[len(rc.requests())-1]
			if last.EventID != failing.ID || last.Status != http.StatusOK || last.SigError != nil {
				t.Errorf("last request %+v, want the retried event, signed", last)
			}
			if failing.Type == domain.MessageReceived && !strings.Contains(last.Raw, text) {
				t.Errorf("retried message without its text: %s", last.Raw)
			}
			if fs, _ := r.Failures(ctx, w.ID); len(fs) != 0 {
				t.Errorf("after a retry that succeeded, dead letters %+v", fs)
			}
			if err := r.Retry(ctx, w.ID, failing.ID); !errors.Is(err, relay.ErrNotFound) {
				t.Errorf("Retry of a retried event = %v, want ErrNotFound", err)
			}
			if replyID != "" {
				if got := s.eng.handedOver(replyID); len(got) != 2 || got[1] != "sent" {
					t.Errorf("reply statuses %q, want failed then sent", got)
				}
			}
		})
	}
}

// checkNoText reads the dead letter stream itself: nothing in it may hold
// the text.
func checkNoText(t testing.TB, s *setup, webhookID, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.log.JetStream().Stream(ctx, relay.FailuresStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 {
		t.Errorf("dead letters have %d replicas, the events 1", info.Config.Replicas)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m.Data), text) || strings.Contains(string(m.Data), "4242") {
			t.Errorf("dead letter %d holds the text: %s", seq, m.Data)
		}
		if !strings.HasSuffix(m.Subject, webhookID) {
			t.Errorf("dead letter on %s, want the webhook's subject", m.Subject)
		}
	}
}
