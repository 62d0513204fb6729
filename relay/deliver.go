package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/webhooksig"
)

// permanentError is a failure no retry can fix: the event goes to the dead
// letters at once.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// errAbandoned is the cause of a delivery given up by this instance:
// closing, or the webhook moved to another instance. It is no failure of
// the event, which stays in the log for whoever delivers it next, and
// wraps context.Canceled so that watermill does not log it as one.
var errAbandoned = fmt.Errorf("relay: delivery abandoned: %w", context.Canceled)

func abandoned(err error) bool { return errors.Is(err, context.Canceled) }

// StatusError is a receiver's answer other than 2xx.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("answered %d %s", e.Code, http.StatusText(e.Code))
}

// Permanent reports whether the answer is final: a 4xx other than 408
// (timeout) and 429 (too many requests).
func (e *StatusError) Permanent() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
}

// Metadata of the watermill messages the subscriber hands the router.
const (
	mdSeq      = "tb_position"
	mdEventID  = "tb_event_id"
	mdAttempts = "tb_attempts"
	// mdPosted marks a ReplySent the receiver took: a retry only has to
	// record that, not send it again.
	mdPosted = "tb_posted"
)

// hook is the relay's view of one webhook.
type hook struct {
	r *Relay
	w domain.Webhook

	mu     sync.Mutex
	secret string
}

// signingSecret returns the webhook's secret, asked once: it never changes.
func (h *hook) signingSecret(ctx context.Context) (string, error) {
	h.mu.Lock()
	s := h.secret
	h.mu.Unlock()
	if s != "" {
		return s, nil
	}
	s, err := h.r.cfg.Engine.WebhookSecret(ctx, h.w.ID)
	if err != nil {
		return "", fmt.Errorf("secret of webhook %s: %w", h.w.ID, err)
	}
	h.mu.Lock()
	h.secret = s
	h.mu.Unlock()
	return s, nil
}

// handle is the router's handler: one attempt at delivering one event.
func (h *hook) handle(msg *message.Message) error {
	ctx := msg.Context()
	attempt, _ := strconv.Atoi(msg.Metadata.Get(mdAttempts))
	attempt++
	msg.Metadata.Set(mdAttempts, strconv.Itoa(attempt))
	if attempt > 1 {
		h.r.m.retries.WithLabelValues(h.w.ID).Inc()
	}
	seq, _ := strconv.ParseUint(msg.Metadata.Get(mdSeq), 10, 64)
	e, err := decodeEnvelope(msg.Payload)
	if err != nil {
		h.r.m.outcome(h.w.ID, outcomeError)
		return permanent(fmt.Errorf("event at %d: %w", seq, err))
	}
	if msg.Metadata.Get(mdPosted) == "" {
		if err := h.deliver(ctx, e, seq, attempt); err != nil {
			return err
		}
		msg.Metadata.Set(mdPosted, "1")
	}
	if e.Type == domain.ReplySent {
		if err := h.r.cfg.Engine.ReplyHandedOver(ctx, e.replyID(), domain.ReplySentOut, ""); err != nil {
			if isPermanent(engineError(err)) {
				h.r.log.Error("relay: the engine refused a reply's sent status", "webhook", h.w.ID, "reply", e.replyID(), "err", err)
				return nil
			}
			return fmt.Errorf("record reply %s sent: %w", e.replyID(), err)
		}
	}
	return nil
}

// deliver builds the event's body and POSTs it once.
func (h *hook) deliver(ctx context.Context, e envelope, seq uint64, attempt int) error {
	outcome, err := h.try(ctx, e, seq, attempt)
	if abandoned(err) {
		return err
	}
	h.r.m.outcome(h.w.ID, outcome)
	switch {
	case err == nil:
		h.r.m.lag.WithLabelValues(h.w.ID).Set(h.r.cfg.Now().Sub(e.At).Seconds())
	case outcome == outcomeError:
		h.r.log.Warn("relay: cannot build a delivery", "webhook", h.w.ID, "event", e.ID, "position", seq, "attempt", attempt, "err", err)
	default:
		h.r.log.Warn("relay: delivery failed", "webhook", h.w.ID, "event", e.ID, "position", seq, "attempt", attempt, "err", err)
	}
	return err
}

// try makes one attempt and says how it went.
func (h *hook) try(ctx context.Context, e envelope, seq uint64, attempt int) (outcome string, err error) {
	body, err := buildBody(ctx, h.r.cfg.Engine, e, seq)
	if err != nil {
		return outcomeError, err
	}
	secret, err := h.signingSecret(ctx)
	if err != nil {
		return outcomeError, err
	}
	switch err := h.post(ctx, e.ID, attempt, secret, body); {
	case err == nil:
		return outcomeDelivered, nil
	case isPermanent(err):
		return outcomeRejected, err
	default:
		return outcomeFailed, err
	}
}

// post sends one attempt; a 2xx answer is success.
func (h *hook) post(ctx context.Context, eventID string, attempt int, secret string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.w.URL, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("request to webhook %s: %w", h.w.ID, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ticketbus-relay")
	req.Header.Set(webhooksig.EventIDHeader, eventID)
	req.Header.Set(webhooksig.AttemptHeader, strconv.Itoa(attempt))
	// Signed by the wall clock, which the receiver checks t against.
	req.Header.Set(webhooksig.SignatureHeader, webhooksig.Sign(secret, time.Now(), body))
	resp, err := h.r.cfg.HTTPClient.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
			return fmt.Errorf("post: no answer within %s: %w", h.r.cfg.AttemptTimeout, cause)
		} else if cause != nil {
			return fmt.Errorf("post: %w", cause)
		}
		// The url.Error repeats the URL, which the failure list already
		// names through its webhook.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	// Drained so that the connection is reused; what the receiver says is
	// not kept: it could echo the text.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := &StatusError{Code: resp.StatusCode}
	if serr.Permanent() {
		return permanent(serr)
	}
	return serr
}

// printable makes an error's text fit for a failure record and a reply's
// status reason: one line of at most n runes.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}
