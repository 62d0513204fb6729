package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sort"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// webhookRecord is an active webhook and its sealed secret, as the engine
// keeps it (memory, and its index): a team's few webhooks, not history.
type webhookRecord struct {
	Webhook domain.Webhook     `json:"webhook"`
	Secret  *domain.SealedBody `json:"secret"`
}

func newWebhookRecord(e domain.Event, seq uint64) webhookRecord {
	return webhookRecord{Webhook: domain.WebhookFromEvent(e, seq), Secret: e.Data.(*domain.WebhookCreatedData).Secret}
}

// webhookSecretPrefix marks a webhook's signing secret, as a token's
// prefix marks a token, so that a leaked one is easy to spot.
const webhookSecretPrefix = "whsec_"

// CreateWebhook adds a webhook (owner, admin). It returns the webhook and
// its signing secret, which is shown this once and stored only sealed.
func (e *Engine) CreateWebhook(ctx context.Context, by domain.User, w domain.NewWebhook) (domain.Webhook, string, error) {
	if err := by.Role.Authorize(domain.PermManageWebhooks, "manage webhooks"); err != nil {
		return domain.Webhook{}, "", err
	}
	if err := w.Validate(); err != nil {
		return domain.Webhook{}, "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return domain.Webhook{}, "", err
	}
	secret := webhookSecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	id := e.cfg.NewID()
	sealed, err := e.log.SealSecret(ctx, eventstore.WebhookKeyToken(id), secret)
	if err != nil {
		return domain.Webhook{}, "", unavailable(err)
	}
	c := domain.Context{Now: e.cfg.Now(), Actor: domain.Actor{UserID: by.ID, Role: by.Role}, CommandID: e.cfg.NewID(), NewID: e.cfg.NewID}
	dec, err := domain.DecideCreateWebhook(id, w, sealed, c)
	if err != nil {
		return domain.Webhook{}, "", err
	}
	seq, err := e.appendOne(ctx, dec.Events[0], 0)
	if err != nil {
		return domain.Webhook{}, "", err
	}
	rec := newWebhookRecord(dec.Events[0], seq)
	e.st.mu.Lock()
	e.st.applyLocked(seq, dec.Events[0])
	e.st.mu.Unlock()
	return rec.Webhook, secret, nil
}

// RemoveWebhook removes a webhook (owner, admin) and destroys the key of
// its secret: deliveries stop, and the secret is gone from the data.
func (e *Engine) RemoveWebhook(ctx context.Context, by domain.User, id string) error {
	if err := by.Role.Authorize(domain.PermManageWebhooks, "manage webhooks"); err != nil {
		return err
	}
	rec, err := lookupCatchingUp(ctx, e, func() (webhookRecord, bool) {
		r, ok := e.st.webhooks[id]
		return r, ok
	}, func() error { return domain.Errorf(domain.ENotFound, "webhook %s not found", domain.QuoteShort(id)) })
	if err != nil {
		return err
	}
	c := domain.Context{Now: e.cfg.Now(), Actor: domain.Actor{UserID: by.ID, Role: by.Role}, CommandID: e.cfg.NewID(), NewID: e.cfg.NewID}
	dec, err := domain.DecideRemoveWebhook(&rec.Webhook, false, c)
	if err != nil {
		return err
	}
	seq, err := e.appendOne(ctx, dec.Events[0], rec.Webhook.Position)
	if errors.Is(err, errStale) {
		return domain.Errorf(domain.ENotFound, "webhook %s not found", domain.QuoteShort(id))
	}
	if err != nil {
		return err
	}
	e.st.mu.Lock()
	e.st.applyLocked(seq, dec.Events[0])
	e.st.mu.Unlock()
	if _, err := e.log.Keys().Destroy(context.WithoutCancel(ctx), eventstore.WebhookKeyToken(id)); err != nil {
		// The webhook is removed; its sealed secret stays readable until
		// the key goes. Logged: an operator may remove it again.
		e.cfg.Logger.Error("webhook removed, but its secret's key could not be destroyed", "webhook", id, "err", err)
	}
	return nil
}

// appendOne appends one event on its aggregate's subject, whose last
// message must be at expect (0: none).
func (e *Engine) appendOne(ctx context.Context, ev domain.Event, expect uint64) (uint64, error) {
	data, err := domain.MarshalEvent(ev)
	if err != nil {
		return 0, err
	}
	seqs, err := e.log.Append(ctx, []eventstore.Record{{Subject: eventstore.AggregateSubject(ev.Aggregate), Data: data, ExpectSubjectSeq: &expect}})
	if errors.Is(err, eventstore.ErrConflict) {
		return 0, errStale
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return seqs[0], nil
}

// Webhooks lists the active webhooks, oldest first.
func (e *Engine) Webhooks(ctx context.Context) ([]domain.Webhook, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.st.mu.Lock()
	out := make([]domain.Webhook, 0, len(e.st.webhooks))
	for _, r := range e.st.webhooks {
		w := r.Webhook
		w.Events = slices.Clone(w.Events)
		out = append(out, w)
	}
	e.st.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out, nil
}

// WebhookSecret returns a webhook's signing secret, for the relay.
func (e *Engine) WebhookSecret(ctx context.Context, id string) (string, error) {
	e.st.mu.Lock()
	rec, ok := e.st.webhooks[id]
	secret, cached := e.st.secrets[id]
	e.st.mu.Unlock()
	switch {
	case !ok:
		return "", domain.Errorf(domain.ENotFound, "webhook %s not found", domain.QuoteShort(id))
	case cached:
		return secret, nil
	}
	secret, err := e.log.OpenSecret(ctx, eventstore.WebhookKeyToken(id), rec.Secret)
	if err != nil {
		return "", unavailable(err)
	}
	e.st.mu.Lock()
	if _, still := e.st.webhooks[id]; still {
		e.st.secrets[id] = secret
	}
	e.st.mu.Unlock()
	return secret, nil
}

// applyWebhookLocked keeps the active webhooks as the log changes them.
func (s *state) applyWebhookLocked(seq uint64, e domain.Event) {
	switch e.Type {
	case domain.WebhookCreated:
		if _, ok := s.webhooks[e.Aggregate.ID]; !ok && !s.removedWebhooks[e.Aggregate.ID] {
			s.webhooks[e.Aggregate.ID] = newWebhookRecord(e, seq)
		}
	case domain.WebhookRemoved:
		delete(s.webhooks, e.Aggregate.ID)
		delete(s.secrets, e.Aggregate.ID)
		s.removedWebhooks[e.Aggregate.ID] = true
	}
}
