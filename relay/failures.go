package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
)

// FailuresStream holds the dead letters: the events that failed for good,
// one subject per webhook, "tb.whf.<webhook id>". A dead letter names its
// event and why it failed, never what the event said: the text is built at
// delivery time and an erased message must stay erased.
const FailuresStream = "TICKETBUS_WEBHOOK_FAILURES"

const failuresPrefix = "tb.whf."

func failureSubject(webhookID string) string { return failuresPrefix + token(webhookID) }

// ErrNotFound reports an unknown webhook, or no dead letter of the event.
var ErrNotFound = errors.New("relay: not found")

// Failure is a dead letter: an event that could not be delivered to a
// webhook, for good.
type Failure struct {
	WebhookID string    `json:"webhook_id"`
	EventID   string    `json:"event_id"`
	Position  uint64    `json:"position"`
	Type      string    `json:"type"`
	TicketID  string    `json:"ticket_id,omitempty"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	At        time.Time `json:"at"` // when it failed for good
}

// maxErrorChars bounds a failure's error, as the engine bounds a reply's
// status reason.
const maxErrorChars = domain.MaxReasonChars

func (r *Relay) ensureFailuresStream(ctx context.Context) (jetstream.Stream, error) {
	return r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              FailuresStream,
		Description:       "webhook deliveries that failed for good",
		Subjects:          []string{failuresPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          r.replicas,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgsPerSubject: int64(r.cfg.MaxFailures),
		Discard:           jetstream.DiscardOld,
	})
}

// poisonPublisher is the PoisonQueue's publisher: it keeps a dead letter
// of each message, and records a reply that failed for good as failed.
type poisonPublisher struct{ h *hook }

func (p poisonPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		if err := p.publish(topic, msg); err != nil {
			return err
		}
	}
	return nil
}

func (p poisonPublisher) Close() error { return nil }

func (p poisonPublisher) publish(topic string, msg *message.Message) error {
	r := p.h.r
	seq, _ := strconv.ParseUint(msg.Metadata.Get(mdSeq), 10, 64)
	attempts, _ := strconv.Atoi(msg.Metadata.Get(mdAttempts))
	e, _ := decodeEnvelope(msg.Payload)
	f := Failure{WebhookID: p.h.w.ID, EventID: msg.Metadata.Get(mdEventID), Position: seq, Type: e.Type,
		TicketID: e.TicketID, Attempts: attempts, At: r.cfg.Now().UTC(),
		LastError: printable(msg.Metadata.Get(middleware.ReasonForPoisonedKey), maxErrorChars)}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	gen := generation(msg.Context())
	// Written even while the instance winds down: the failure was decided.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(gen), 10*time.Second)
	defer cancel()
	if _, err := r.js.Publish(ctx, topic, data, jetstream.WithMsgID(p.h.w.ID+"/"+strconv.FormatUint(seq, 10))); err != nil {
		return fmt.Errorf("dead letter of %d: %w", seq, err)
	}
	r.m.deadLetters.WithLabelValues(p.h.w.ID).Inc()
	r.log.Warn("relay: an event failed for good", "webhook", p.h.w.ID, "event", f.EventID, "position", seq,
		"type", f.Type, "attempts", attempts, "err", f.LastError)
	// A reply the receiver took (only its status could not be recorded)
	// did not fail.
	if e.Type == domain.ReplySent && msg.Metadata.Get(mdPosted) == "" {
		reason := printable("webhook "+p.h.w.ID+": "+f.LastError, domain.MaxReasonChars)
		return p.h.replyStatus(gen, e.replyID(), domain.ReplyFailed, reason)
	}
	return nil
}

// replyStatus records a reply's status, trying again until the engine
// takes it or ctx ends: the lane waits, as a reply's status matters more
// than the next event's speed.
func (h *hook) replyStatus(ctx context.Context, replyID, status, reason string) error {
	wait := 100 * time.Millisecond
	for {
		err := h.r.cfg.Engine.ReplyHandedOver(ctx, replyID, status, reason)
		if err == nil {
			return nil
		}
		if isPermanent(engineError(err)) {
			h.r.log.Error("relay: the engine refused a reply's status", "webhook", h.w.ID, "reply", replyID, "status", status, "err", err)
			return nil
		}
		h.r.log.Warn("relay: cannot record a reply's status; trying again", "webhook", h.w.ID, "reply", replyID, "status", status, "err", err)
		if !sleep(ctx, wait) {
			return fmt.Errorf("record reply %s %s: %w", replyID, status, err)
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// storedFailure is a dead letter and its position in FailuresStream.
type storedFailure struct {
	seq uint64
	f   Failure
}

// readFailures returns every dead letter of a webhook, oldest first. Each
// is asked of the stream's leader, next by subject: an ordered consumer
// just made on a replicated stream may not answer yet ("no responders"),
// and a replica's direct get may not have the latest dead letter.
func (r *Relay) readFailures(ctx context.Context, webhookID string) ([]storedFailure, error) {
	subj := failureSubject(webhookID)
	var out []storedFailure
	for seq := uint64(1); ; {
		m, err := r.failures.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		seq = m.Sequence + 1
		var f Failure
		if err := json.Unmarshal(m.Data, &f); err != nil {
			r.log.Warn("relay: unreadable dead letter", "webhook", webhookID, "seq", m.Sequence, "err", err)
			continue
		}
		out = append(out, storedFailure{seq: m.Sequence, f: f})
	}
}

// Failures lists a webhook's dead letters by position, the latest of each
// event. A webhook unknown, or removed (its dead letters go with it), has
// none.
func (r *Relay) Failures(ctx context.Context, webhookID string) ([]Failure, error) {
	stored, err := r.readFailures(ctx, webhookID)
	if err != nil {
		return nil, fmt.Errorf("failures of webhook %s: %w", webhookID, err)
	}
	latest := map[string]Failure{}
	for _, s := range stored {
		latest[s.f.EventID] = s.f
	}
	out := make([]Failure, 0, len(latest))
	for _, f := range latest {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out, nil
}

// Retry delivers a dead letter's event to its webhook again, now, once. On
// a 2xx answer the dead letter is removed; otherwise the error is returned
// and the dead letter kept. The event goes out as it would have: its text
// built now, so an erased message goes without it.
func (r *Relay) Retry(ctx context.Context, webhookID, eventID string) error {
	stored, err := r.readFailures(ctx, webhookID)
	if err != nil {
		return fmt.Errorf("failures of webhook %s: %w", webhookID, err)
	}
	var (
		seqs []uint64
		last Failure
	)
	for _, s := range stored {
		if s.f.EventID == eventID {
			seqs, last = append(seqs, s.seq), s.f
		}
	}
	if len(seqs) == 0 {
		return fmt.Errorf("%w: no dead letter of event %s for webhook %s", ErrNotFound, eventID, webhookID)
	}
	h, err := r.activeHook(ctx, webhookID)
	if err != nil {
		return err
	}
	entry, err := r.cfg.Log.Get(ctx, last.Position)
	if err != nil {
		return fmt.Errorf("event at %d: %w", last.Position, err)
	}
	e, err := decodeEnvelope(entry.Data)
	if err != nil {
		return fmt.Errorf("event at %d: %w", last.Position, err)
	}
	actx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
	err = h.deliver(actx, e, last.Position, last.Attempts+1)
	cancel()
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		if err := r.failures.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("delivered, but the dead letter stays: %w", err)
		}
	}
	if e.Type == domain.ReplySent {
		return h.replyStatus(ctx, e.replyID(), domain.ReplySentOut, "")
	}
	return nil
}

// purgeFailures removes a webhook's dead letters.
func (r *Relay) purgeFailures(ctx context.Context, webhookID string) error {
	return r.failures.Purge(ctx, jetstream.WithPurgeSubject(failureSubject(webhookID)))
}
