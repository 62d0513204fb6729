package main

import (
	"context"
	"errors"
	"time"
)

// reportAttempts bounds how often a gateway tries one report.
const reportAttempts = 5

// replyStatusBody is the reply_status command a gateway sends (spec
// section 7); the engine takes a reason only with failed.
func replyStatusBody(replyID, status, reason string) map[string]any {
	body := map[string]any{"reply_id": replyID, "status": status}
	if reason != "" {
		body["reason"] = reason
	}
	return body
}

func runReplyStatus(r *runner, args []string) error {
	fs := r.newFlags("-reply R -status delivered|failed [-reason T] [-command-id UUID]")
	f := map[string]*string{
		"reply":  fs.String("reply", "", "the reply's id, as the ReplySent delivery's data.reply_id gives it (required)"),
		"status": fs.String("status", "", "delivered or failed (required)"),
		"reason": fs.String("reason", "", "why delivery failed (required with -status failed, refused otherwise)"),
	}
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "reply", "status"); err != nil {
		return err
	}
	// Checked here too so that the message names the flags.
	switch status, reason := *f["status"], *f["reason"]; {
	case status != "delivered" && status != "failed":
		return usagef(r.name, "-status must be delivered or failed, got %q", status)
	case status == "failed" && reason == "":
		return usagef(r.name, "-reason is required with -status failed")
	case status == "delivered" && reason != "":
		return usagef(r.name, "-reason is given only with -status failed")
	}
	return r.send(replyStatusBody(*f["reply"], *f["status"], *f["reason"]), *cid)
}

// reportReplyStatus sends reply_status for a program (the gateway) rather
// than a person: what may pass later (no answer, 5xx, 408, 429) is tried
// again with the same command_id, so that the engine acts on it once.
func reportReplyStatus(ctx context.Context, c *client, replyID, status, reason string) error {
	body := replyStatusBody(replyID, status, reason)
	body["command_id"] = newUUID()
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := c.do(ctx, "POST", "/v1/commands/reply_status", nil, body, true)
		var apiErr *APIError
		final := errors.As(err, &apiErr) && apiErr.Status < 500 && apiErr.Status != 408 && apiErr.Status != 429
		if err == nil || final || attempt == reportAttempts || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff *= 2
	}
}
