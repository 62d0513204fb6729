package domain

import (
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Webhook is a URL that receives the events it subscribed to (spec
// section 7). Its secret is not part of it: it stays sealed in the log.
type Webhook struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by,omitempty"`
	// Position is the log position of its WebhookCreated: it receives
	// the events after it.
	Position uint64 `json:"position"`
}

// WebhookAll subscribes a webhook to every deliverable event.
const WebhookAll = "*"

// WebhookEvents are the event types a webhook may subscribe to: what
// happens to tickets and profiles. Users and webhooks themselves are the
// engine's own business and never leave it.
var WebhookEvents = []string{TicketOpened, MessageReceived, ReplySent, ReplyStatusChanged, TicketAssigned,
	TicketSnoozed, TicketWoke, TicketMarkedUnread, TicketMarkedRead, TicketClosed, TicketReopened,
	ProfileBlocked, ProfileUnblocked, MessagesErased}

// Wants reports whether the webhook subscribed to events of type typ.
// "*" means every type of WebhookEvents, not every type of the log: an
// internal note shares the ticket's subject but never leaves the engine.
func (w Webhook) Wants(typ string) bool {
	for _, e := range w.Events {
		if e == typ || e == WebhookAll && slices.Contains(WebhookEvents, typ) {
			return true
		}
	}
	return false
}

// WebhookKey names a webhook's aggregate.
func WebhookKey(id string) AggregateKey { return AggregateKey{Kind: KindWebhook, ID: id} }

// MaxWebhookURL bounds a webhook's URL.
const MaxWebhookURL = 2048

// NewWebhook is what POST /v1/webhooks asks for.
type NewWebhook struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
}

// Validate checks a new webhook's fields.
func (w NewWebhook) Validate() error {
	if len(w.URL) > MaxWebhookURL {
		return Errorf(EInvalid, "url must be at most %d bytes", MaxWebhookURL)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Errorf(EInvalid, "url must be an http or https URL with a host, no credentials and no fragment, got %s", QuoteShort(w.URL))
	}
	if len(w.Events) == 0 {
		return Errorf(EInvalid, `events must list event types, or be ["*"]`)
	}
	seen := map[string]bool{}
	for _, e := range w.Events {
		if seen[e] {
			return Errorf(EInvalid, "events lists %s twice", QuoteShort(e))
		}
		seen[e] = true
		if e == WebhookAll {
			if len(w.Events) > 1 {
				return Errorf(EInvalid, `events is either ["*"] or a list of event types`)
			}
			continue
		}
		known := false
		for _, k := range WebhookEvents {
			known = known || e == k
		}
		if !known {
			return Errorf(EInvalid, "events: %s is not an event type a webhook may receive (%s)", QuoteShort(e), strings.Join(WebhookEvents, ", "))
		}
	}
	if utf8.RuneCountInString(w.Description) > 200 || strings.ContainsFunc(w.Description, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(EInvalid, "description must be at most 200 printable characters")
	}
	return nil
}

// DecideCreateWebhook adds a webhook whose secret the caller sealed. The
// caller checks that the actor may manage webhooks.
func DecideCreateWebhook(id string, w NewWebhook, secret *SealedBody, c Context) (Decision, error) {
	if err := w.Validate(); err != nil {
		return Decision{}, err
	}
	b := &builder{c: c, at: eventTime(c.Now)}
	b.add(WebhookCreated, WebhookKey(id), "", "", &WebhookCreatedData{WebhookID: id, URL: w.URL,
		Events: w.Events, Description: w.Description, Secret: secret})
	return Decision{Events: b.events, Outcome: OutcomeDone}, nil
}

// DecideRemoveWebhook removes a webhook; removing one removed already is
// not_found.
func DecideRemoveWebhook(w *Webhook, removed bool, c Context) (Decision, error) {
	if w == nil || removed {
		return Decision{}, Errorf(ENotFound, "webhook not found")
	}
	b := &builder{c: c, at: eventTime(c.Now, w.CreatedAt)}
	b.add(WebhookRemoved, WebhookKey(w.ID), "", "", &WebhookRemovedData{WebhookID: w.ID})
	return Decision{Events: b.events, Outcome: OutcomeDone}, nil
}

// WebhookFromEvent returns the webhook a WebhookCreated event adds, at
// log position seq.
func WebhookFromEvent(e Event, seq uint64) Webhook {
	d := e.Data.(*WebhookCreatedData)
	return Webhook{ID: d.WebhookID, URL: d.URL, Events: d.Events, Description: d.Description,
		CreatedAt: e.At, CreatedBy: e.Actor.UserID, Position: seq}
}
