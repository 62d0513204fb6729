package relay_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/relay"
)

// TestRemovedWebhook checks that a removed webhook gets nothing more, and
// that its consumer and dead letters are gone, on every instance.
func TestRemovedWebhook(t *testing.T) {
	s := newSetup(t)
	rc := newReceiver(t, func(d relay.Delivery, _ int) int {
		if d.Type == domain.TicketAssigned {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	w := s.hook(t, rc, domain.WebhookAll)
	r := s.start(t, s.config(t, nil))
	s.start(t, s.config(t, nil)) // a second instance, standing by
	tk := newTicket(t, s.log, s.eng)
	tk.assign("u-1") // a dead letter
	first, _ := tk.inbound("first")
	ctx := testContext(t)
	waitFor(t, "the first message taken", func() bool { return rc.count(first.ID) == 1 })
	if fs, err := r.Failures(ctx, w.ID); err != nil || len(fs) != 1 {
		t.Fatalf("failures %+v, %v; want one", fs, err)
	}

	s.eng.removeWebhook(w.ID)
	js := s.log.JetStream()
	waitFor(t, "the consumer removed", func() bool {
		_, err := js.Consumer(ctx, eventstore.EventsStream, relay.ConsumerName(w.ID))
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	later, _ := tk.inbound("after the removal")
	polls := s.eng.pollCount()
	waitFor(t, "ten more listings of the webhooks", func() bool { return s.eng.pollCount() >= polls+10 })
	if _, err := js.Consumer(ctx, eventstore.EventsStream, relay.ConsumerName(w.ID)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("the consumer of the removed webhook is back: %v", err)
	}
	if n := rc.count(later.ID); n != 0 {
		t.Errorf("an event after the removal was delivered %d times", n)
	}
	if fs, err := r.Failures(ctx, w.ID); err != nil || len(fs) != 0 {
		t.Errorf("failures of a removed webhook %+v, %v; want none", fs, err)
	}
	if err := r.Retry(ctx, w.ID, first.ID); !errors.Is(err, relay.ErrNotFound) {
		t.Errorf("Retry on a removed webhook = %v, want ErrNotFound", err)
	}
}
