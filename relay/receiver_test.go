package relay_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/relay"
	"github.com/ticketbus/ticketbus/webhooksig"
)

// received is one request a receiver took.
type received struct {
	EventID  string
	Attempt  string
	Body     relay.Delivery
	Raw      string
	SigError error
	// OtherSecretError is the verification with a secret that is not the
	// webhook's: it must fail.
	OtherSecretError error
	Status           int
}

// receiver is a webhook's HTTP endpoint. answer decides each request's
// status from the event and how many times it came (1, 2, ...); nil
// answers 200.
type receiver struct {
	*httptest.Server
	answer func(d relay.Delivery, n int) int

	mu     sync.Mutex
	secret string     // checks the signatures once set
	got    []received // every request, in the order answered
	tries  map[string]int
}

func newReceiver(t testing.TB, answer func(d relay.Delivery, n int) int) *receiver {
	rc := &receiver{answer: answer, tries: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// serve records each request once its answer is decided, so that the
// records are in the order the relay learnt the answers.
func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var d relay.Delivery
	_ = json.Unmarshal(raw, &d)
	rec := received{EventID: r.Header.Get(webhooksig.EventIDHeader), Attempt: r.Header.Get(webhooksig.AttemptHeader), Body: d, Raw: string(raw)}
	rc.mu.Lock()
	rec.SigError = webhooksig.Verify(rc.secret, r.Header.Get(webhooksig.SignatureHeader), raw, time.Now(), webhooksig.DefaultTolerance)
	rec.OtherSecretError = webhooksig.Verify(rc.secret+"x", r.Header.Get(webhooksig.SignatureHeader), raw, time.Now(), webhooksig.DefaultTolerance)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rec.SigError = fmt.Errorf("content type %q", ct)
	}
	rc.tries[rec.EventID]++
	n := rc.tries[rec.EventID]
	rc.mu.Unlock()
	rec.Status = http.StatusOK
	if rc.answer != nil {
		rec.Status = rc.answer(d, n)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, rec)
	rc.mu.Unlock()
	w.WriteHeader(rec.Status)
}

// idle reports whether every request taken so far was answered.
func (rc *receiver) idle() bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, c := range rc.tries {
		n += c
	}
	return n == len(rc.got)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// firstArrivals returns each event's first request, in arrival order.
func (rc *receiver) firstArrivals() []received {
	seen := map[string]bool{}
	var out []received
	for _, r := range rc.requests() {
		if !seen[r.EventID] {
			seen[r.EventID] = true
			out = append(out, r)
		}
	}
	return out
}

func (rc *receiver) count(eventID string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.tries[eventID]
}
