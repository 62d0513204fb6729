package relay_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/relay"
)

// TestErasedMessageGoesWithoutText checks that a message whose profile
// was blocked is delivered without its text, whether the block came before
// its first attempt or between two attempts.
func TestErasedMessageGoesWithoutText(t *testing.T) {
	const text = "please call me at home, 12 rue des Lilas"
	tests := []struct {
		name string
		// blockFirst: the profile is blocked before the relay starts;
		// otherwise once the receiver refused the first attempt.
		blockFirst bool
	}{
		{"blocked before the first attempt", true},
		{"blocked between two attempts", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			// from is the first attempt sure to have begun after the block:
			// one under way while the key was destroyed read the text before.
			var from atomic.Int64
			from.Store(1 << 30)
			rc := newReceiver(t, func(d relay.Delivery, n int) int {
				if d.Type == domain.MessageReceived && int64(n) < from.Load() {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			s.hook(t, rc, domain.MessageReceived)
			tk := newTicket(t, s.log, s.eng)
			msg, _ := tk.inbound(text)
			if tt.blockFirst {
				tk.erase()
				from.Store(1)
			}
			s.start(t, s.config(t, nil))
			if !tt.blockFirst {
				waitFor(t, "a refused attempt", func() bool { return rc.count(msg.ID) >= 1 })
				tk.erase()
				from.Store(int64(rc.count(msg.ID)) + 2)
			}
			waitFor(t, "the message taken", func() bool { return countOK(rc) == 1 })
			for _, r := range rc.requests() {
				if r.Status != http.StatusOK {
					continue
				}
				if strings.Contains(r.Raw, text) {
					t.Errorf("the text went out after the block: %s", r.Raw)
				}
				var d relay.MessageData
				if err := json.Unmarshal(r.Body.Data, &d); err != nil {
					t.Fatal(err)
				}
				if !d.Erased || d.Body != "" || d.MessageID != msg.Data.(*domain.MessageReceivedData).MessageID {
					t.Errorf("data %s, want the message erased, without body", r.Body.Data)
				}
				if strings.Contains(string(r.Body.Data), `"body"`) {
					t.Errorf("data %s has a body field", r.Body.Data)
				}
			}
		})
	}
}
