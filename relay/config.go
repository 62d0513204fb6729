package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
)

// Engine is what the relay needs from the engine; *engine.Engine has it.
type Engine interface {
	// Webhooks lists the active webhooks.
	Webhooks(ctx context.Context) ([]domain.Webhook, error)
	// WebhookSecret returns the secret a webhook's deliveries are signed with.
	WebhookSecret(ctx context.Context, id string) (string, error)
	// OpenBody returns the text of the inbound message d at position seq,
	// or an error wrapping eventstore.ErrErased once it was erased.
	OpenBody(ctx context.Context, profileID string, d *domain.MessageReceivedData, seq uint64) (string, error)
	// ReplyRoute says where a ticket's replies go.
	ReplyRoute(ctx context.Context, ticketID string) (channel, phone string, err error)
	// ReplyHandedOver records that a webhook took a reply ("sent") or that
	// one could not, for good ("failed", with the reason). Idempotent.
	ReplyHandedOver(ctx context.Context, replyID, status, reason string) error
}

// Config configures a Relay. Zero values take the defaults.
type Config struct {
	Log    *eventstore.Log // required: the event log, and the JetStream it is on
	Engine Engine          // required
	// HTTPClient sends the deliveries. Default: a client with
	// AttemptTimeout as its timeout that does not follow redirects (a
	// redirected POST would turn into a GET).
	HTTPClient *http.Client
	// Registerer receives the metrics; nil keeps them unexported.
	Registerer prometheus.Registerer
	Logger     *slog.Logger // default: discards
	// Now is the clock of the lag gauge and of the dead letters' times;
	// default time.Now. Signatures use the wall clock, as receivers do.
	Now func() time.Time

	// AttemptTimeout bounds one delivery attempt. Default 10s.
	AttemptTimeout time.Duration
	// FirstRetry is the wait before the first retry, jittered by ±50%;
	// each wait doubles up to MaxRetryWait. Default 10s.
	FirstRetry time.Duration
	// MaxRetryWait caps each wait, jitter included. Default 15m.
	MaxRetryWait time.Duration
	// RetryFor is how long an event is retried before it fails for good;
	// the last attempt is at least RetryFor after the first. Default 24h.
	RetryFor time.Duration

	// Concurrency bounds the attempts in flight to one webhook. Default 8.
	Concurrency int
	// MaxPending bounds the events held unacknowledged for one webhook
	// (its consumer's MaxAckPending): queued in their ticket's lane, in
	// delivery, or waiting for a retry. Default 1000.
	MaxPending int
	// AckWait is how long the server waits for a sign of life on an event
	// handed to an instance before handing it to another. Default 30s.
	AckWait time.Duration
	// PullExpiry is how long one pull request waits on the server.
	// Default 10s, at least 1s.
	PullExpiry time.Duration
	// PinnedTTL is how long an instance keeps a webhook without pulling
	// before another instance takes it over. It must exceed AckWait plus
	// PullExpiry, so that by the time another instance takes over, every
	// event the silent one held has been handed back (see subscriber.go).
	// Default 2*(AckWait+PullExpiry).
	PinnedTTL time.Duration
	// PollInterval is how often the webhooks are listed. Default 1s.
	PollInterval time.Duration
	// MaxFailures bounds the dead letters kept per webhook; the oldest go
	// first. Default 10000.
	MaxFailures int
}

func (c *Config) setDefaults() error {
	if c.Log == nil || c.Engine == nil {
		return errors.New("relay: Config.Log and Config.Engine are required")
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.AttemptTimeout, 10*time.Second)
	setDur(&c.FirstRetry, 10*time.Second)
	setDur(&c.MaxRetryWait, 15*time.Minute)
	setDur(&c.RetryFor, 24*time.Hour)
	setDur(&c.AckWait, 30*time.Second)
	setDur(&c.PullExpiry, 10*time.Second)
	setDur(&c.PinnedTTL, 2*(c.AckWait+c.PullExpiry))
	setDur(&c.PollInterval, time.Second)
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1000
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 10000
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			Timeout:       c.AttemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.PullExpiry < time.Second:
		return fmt.Errorf("relay: PullExpiry %s below 1s", c.PullExpiry)
	case c.PinnedTTL <= c.AckWait+c.PullExpiry:
		return fmt.Errorf("relay: PinnedTTL %s must exceed AckWait+PullExpiry (%s)", c.PinnedTTL, c.AckWait+c.PullExpiry)
	case c.FirstRetry > c.MaxRetryWait:
		return fmt.Errorf("relay: FirstRetry %s above MaxRetryWait %s", c.FirstRetry, c.MaxRetryWait)
	}
	return nil
}
