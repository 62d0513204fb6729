package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"strings"
	"time"
)

// commandReply is the engine's answer to every command (section 3).
type commandReply struct {
	TicketID  string `json:"ticket_id"`
	ProfileID string `json:"profile_id"`
	Outcome   string `json:"outcome"`
	Position  int64  `json:"position"`
}

// apiName turns a subcommand's spelling (mark-read) into the API's
// command name (mark_read).
func apiName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// newUUID returns a random (version 4) UUID. Every command carries one, so
// that the engine records which command caused which events, and so that
// a user who retries with -command-id set to the same value is answered
// with the first result instead of acting twice.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func commandIDFlag(fs *flag.FlagSet) *string {
	return fs.String("command-id", "", "command_id, for a retry that must not act twice (default: a new random UUID)")
}

// send posts a command and prints the engine's answer.
func (r *runner) send(body map[string]any, commandID string) error {
	if commandID == "" {
		commandID = newUUID()
	}
	body["command_id"] = commandID
	var rep commandReply
	if printed, err := r.fetch("POST", "/v1/commands/"+apiName(r.name), nil, body, &rep); printed || err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "ok  outcome=%s  ticket=%s  position=%d\n", rep.Outcome, orDash(rep.TicketID), rep.Position)
	return nil
}

func runInbound(r *runner, args []string) error {
	fs := r.newFlags("-profile P -body B [-phone +33...] [-message-id ID] [-channel sms|email|chat] [-command-id UUID]")
	f := map[string]*string{
		"profile":    fs.String("profile", "", "the customer's profile_id (required)"),
		"body":       fs.String("body", "", "the message text (required)"),
		"phone":      fs.String("phone", "", "the sender's phone, E.164"),
		"message-id": fs.String("message-id", "", "the gateway's own message id, deduplicated per profile"),
		"channel":    fs.String("channel", "", "sms, email or chat"),
	}
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "profile", "body"); err != nil {
		return err
	}
	body := map[string]any{"profile_id": *f["profile"], "body": *f["body"]}
	for flagName, field := range map[string]string{"phone": "phone", "message-id": "message_id", "channel": "channel"} {
		if v := *f[flagName]; v != "" {
			body[field] = v
		}
	}
	return r.send(body, *cid)
}

func runReply(r *runner, args []string) error {
	fs := r.newFlags("-ticket T -body B [-command-id UUID]")
	f := map[string]*string{
		"ticket": fs.String("ticket", "", "ticket id (required)"),
		"body":   fs.String("body", "", "the reply text (required)"),
	}
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "ticket", "body"); err != nil {
		return err
	}
	return r.send(map[string]any{"ticket_id": *f["ticket"], "body": *f["body"]}, *cid)
}

func runAssign(r *runner, args []string) error {
	fs := r.newFlags("-ticket T -user U|none [-command-id UUID]")
	f := map[string]*string{
		"ticket": fs.String("ticket", "", "ticket id (required)"),
		"user":   fs.String("user", "", "user id of the new assignee, or none to unassign (required)"),
	}
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "ticket", "user"); err != nil {
		return err
	}
	// An explicit word for "nobody" rather than an empty -user, so that a
	// forgotten value never unassigns a ticket by accident.
	var assignee any = *f["user"]
	if *f["user"] == "none" {
		assignee = nil
	}
	return r.send(map[string]any{"ticket_id": *f["ticket"], "assignee_id": assignee}, *cid)
}

func runSnooze(r *runner, args []string) error {
	fs := r.newFlags("-ticket T (-until 2026-01-02T09:00:00Z | -for 90m) [-command-id UUID]")
	f := map[string]*string{
		"ticket": fs.String("ticket", "", "ticket id (required)"),
		"until":  fs.String("until", "", "wake-up time, RFC 3339"),
		"for":    fs.String("for", "", "snooze length, Go duration syntax (90m, 72h)"),
	}
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "ticket"); err != nil {
		return err
	}
	until, dur := *f["until"], *f["for"]
	if (until == "") == (dur == "") {
		return usagef(r.name, "give exactly one of -until and -for")
	}
	body := map[string]any{"ticket_id": *f["ticket"]}
	// Both forms are checked here so the message names ticketctl's flag;
	// the engine still decides the bounds (R4) on its own clock.
	if until != "" {
		if _, err := time.Parse(time.RFC3339, until); err != nil {
			return usagef(r.name, "-until %q is not an RFC 3339 time such as 2026-01-02T09:00:00Z", until)
		}
		body["until"] = until
	} else {
		if _, err := time.ParseDuration(dur); err != nil {
			return usagef(r.name, "-for %q is not a duration such as 90m or 72h", dur)
		}
		body["duration"] = dur
	}
	return r.send(body, *cid)
}

// runTicketOnly runs a command whose body is just the ticket id.
func runTicketOnly(r *runner, args []string) error {
	fs := r.newFlags("-ticket T [-command-id UUID]")
	f := map[string]*string{"ticket": fs.String("ticket", "", "ticket id (required)")}
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "ticket"); err != nil {
		return err
	}
	return r.send(map[string]any{"ticket_id": *f["ticket"]}, *cid)
}

// runBlockTarget runs block or unblock, which name a profile or a phone.
func runBlockTarget(r *runner, args []string) error {
	fs := r.newFlags("(-profile P | -phone +33...) [-command-id UUID]")
	profile := fs.String("profile", "", "profile_id")
	phone := fs.String("phone", "", "phone number, E.164")
	cid := commandIDFlag(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if (*profile == "") == (*phone == "") {
		return usagef(r.name, "give exactly one of -profile and -phone")
	}
	body := map[string]any{}
	if *profile != "" {
		body["profile_id"] = *profile
	} else {
		body["phone"] = *phone
	}
	return r.send(body, *cid)
}
