package relay_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/internal/metrictest"
	"github.com/ticketbus/ticketbus/relay"
)

// TestRetries checks that answers other than 2xx, timeouts and refused
// connections are tried again until the receiver takes the event.
func TestRetries(t *testing.T) {
	tests := []struct {
		name   string
		answer func(d relay.Delivery, n int) int
		// down: the receiver is not listening until the first attempt failed.
		down bool
	}{
		{"500 then 200", failFirst(http.StatusInternalServerError), false},
		{"408 then 200", failFirst(http.StatusRequestTimeout), false},
		{"429 then 200", failFirst(http.StatusTooManyRequests), false},
		{"302 then 200", failFirst(http.StatusFound), false},
		{"timeout then 200", func(_ relay.Delivery, n int) int {
			if n == 1 {
				time.Sleep(time.Second)
			}
			return http.StatusOK
		}, false},
		{"refused connection, then listening", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			rc := newReceiver(t, tt.answer)
			url := rc.URL
			if tt.down {
				// Nobody listens on this port until the relay has failed once.
				rc.Close()
				rc = &receiver{answer: tt.answer, tries: map[string]int{}}
				rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
				t.Cleanup(rc.Close)
				url = "http://" + freeAddr(t)
			}
			w := s.eng.addWebhook(t, url, domain.WebhookAll)
			rc.mu.Lock()
			rc.secret = s.eng.secret(w.ID)
			rc.mu.Unlock()
			cfg := s.config(t, nil)
			cfg.AttemptTimeout = 300 * time.Millisecond
			s.start(t, cfg)
			tk := newTicket(t, s.log, s.eng)
			first, _ := tk.inbound("first")
			second, _ := tk.assign("u-2")
			failed := func() bool {
				return metrictest.Sum(t, s.reg, "ticketbus_webhooks_deliveries_total", "webhook", w.ID, "outcome", "failed") >= 1
			}
			if tt.down {
				waitFor(t, "a refused attempt", failed)
				ln, err := net.Listen("tcp", url[len("http://"):])
				if err != nil {
					t.Fatal(err)
				}
				rc.Listener = ln
				rc.Start()
			}
			waitFor(t, "both events taken", func() bool { return countOK(rc) == 2 && rc.idle() })
			if !failed() {
				t.Error("no failed attempt counted")
			}
			if n := metrictest.Sum(t, s.reg, "ticketbus_webhooks_retries_total", "webhook", w.ID); n < 1 {
				t.Errorf("retries_total = %v, want at least 1", n)
			}
			checkWaits(t, rc, map[string][]string{tk.id: {first.ID, second.ID}})
			var attempts []int
			for _, r := range rc.requests() {
				if r.SigError != nil {
					t.Errorf("signature: %v", r.SigError)
				}
				a, _ := strconv.Atoi(r.Attempt)
				if r.EventID == first.ID {
					attempts = append(attempts, a)
				}
			}
			slices.Sort(attempts)
			if tt.down {
				// The refused attempts never reached the receiver.
				if len(attempts) == 0 || attempts[0] < 2 {
					t.Errorf("the first event came with attempts %v, want retries only", attempts)
				}
				return
			}
			if len(attempts) < 2 {
				t.Fatalf("the first event came %d times, want a retry", len(attempts))
			}
			for i, a := range attempts {
				if a != i+1 {
					t.Errorf("the first event came with attempts %v, want 1, 2, ...", attempts)
					break
				}
			}
		})
	}
}

func failFirst(status int) func(relay.Delivery, int) int {
	return func(_ relay.Delivery, n int) int {
		if n == 1 {
			return status
		}
		return http.StatusOK
	}
}

// freeAddr returns a loopback address nobody listens on a moment ago.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// panicky is an engine whose ReplyRoute panics the first time.
type panicky struct {
	*fakeEngine
	panicked atomic.Bool
}

func (p *panicky) ReplyRoute(ctx context.Context, ticketID string) (string, string, error) {
	if p.panicked.CompareAndSwap(false, true) {
		panic("route lost")
	}
	return p.fakeEngine.ReplyRoute(ctx, ticketID)
}

// TestPanicIsRetried checks that a panic while delivering is an attempt's
// failure like any other: recovered, then retried.
func TestPanicIsRetried(t *testing.T) {
	s := newSetup(t)
	rc := newReceiver(t, nil)
	w := s.hook(t, rc, domain.ReplySent)
	cfg := s.config(t, nil)
	eng := &panicky{fakeEngine: s.eng}
	cfg.Engine = eng
	s.start(t, cfg)
	tk := newTicket(t, s.log, s.eng)
	e, _ := tk.reply("sorry for the wait")
	waitFor(t, "the reply taken", func() bool { return countOK(rc) == 1 })
	if !eng.panicked.Load() || rc.count(e.ID) != 1 {
		t.Errorf("panicked %v, delivered %d times; want a panic, then one delivery", eng.panicked.Load(), rc.count(e.ID))
	}
	if r := rc.requests()[0]; r.Attempt != "2" {
		t.Errorf("delivered at attempt %s, want 2", r.Attempt)
	}
	if n := metrictest.Sum(t, s.reg, "ticketbus_webhooks_retries_total", "webhook", w.ID); n != 1 {
		t.Errorf("retries_total = %v, want 1", n)
	}
}
