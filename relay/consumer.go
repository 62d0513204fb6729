package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Each webhook reads the events through a durable consumer of its own, so
// that its progress survives restarts of ticketd and of NATS. All
// instances pull from it in one priority group with the pinned policy: the
// server hands its events to one instance at a time, the one it pinned,
// and pins another once that one has not pulled for PinnedTTL. One
// instance per webhook is what keeps a ticket's events in order; two
// pulling side by side would deliver neighbours concurrently.
const (
	consumerPrefix = "tb_wh_"
	pinGroup       = "relay"
	// deliverable is every ticket and profile event; users' and webhooks'
	// own events are on other subjects and never leave the engine.
	deliverable = "tb.ev.p.>"
	// metaWebhook names, in a consumer's metadata, the webhook it serves.
	metaWebhook = "ticketbus_webhook"
)

var safeToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// token is a webhook id as a subject token and a consumer name part: the
// id itself when it is safe there, else a digest of it.
func token(id string) string {
	if safeToken.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:20])
}

// ConsumerName is the name of a webhook's consumer on the event stream.
func ConsumerName(webhookID string) string { return consumerPrefix + token(webhookID) }

func (r *Relay) consumerConfig(w domain.Webhook) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName(w.ID),
		Description:   "webhook delivery relay",
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   w.Position + 1,
		FilterSubject: deliverable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		// Never given up on: failing for good is the relay's decision, with
		// a dead letter to show for it.
		MaxDeliver:     -1,
		MaxAckPending:  r.cfg.MaxPending,
		Replicas:       r.replicas,
		PriorityGroups: []string{pinGroup},
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PinnedTTL:      r.cfg.PinnedTTL,
		Metadata:       map[string]string{metaWebhook: w.ID},
	}
}

// deleteConsumer removes a webhook's consumer; one already gone is fine.
func (r *Relay) deleteConsumer(ctx context.Context, id string) error {
	err := r.js.DeleteConsumer(ctx, eventstore.EventsStream, ConsumerName(id))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	return err
}

// orphanAge is how old a consumer of no listed webhook must be before it
// is removed: a webhook created a moment ago may be listed by another
// instance's engine before this one's.
const orphanAge = time.Minute

// removeOrphans deletes the consumers and dead letters of webhooks removed
// while no instance was there to do it.
func (r *Relay) removeOrphans(ctx context.Context, active map[string]bool) {
	lister := r.events.ListConsumers(ctx)
	var orphans []string
	for info := range lister.Info() {
		id, ok := info.Config.Metadata[metaWebhook]
		if !ok || active[id] || time.Since(info.Created) < orphanAge {
			continue
		}
		orphans = append(orphans, id)
	}
	if err := lister.Err(); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("relay: cannot list consumers", "err", err)
		}
		return
	}
	for _, id := range orphans {
		r.log.Info("relay: removing the consumer of a removed webhook", "webhook", id)
		if err := r.deleteConsumer(ctx, id); err != nil {
			r.log.Warn("relay: cannot remove a consumer", "webhook", id, "err", err)
		}
		if err := r.purgeFailures(ctx, id); err != nil {
			r.log.Warn("relay: cannot remove dead letters", "webhook", id, "err", err)
		}
	}
}
