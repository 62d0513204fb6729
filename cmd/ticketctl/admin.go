package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ticketbus/ticketbus/natsauth"
)

// subArgs splits "users add ..." style arguments into the action and the
// rest, checking the action against the known ones.
func (r *runner) subArgs(args []string, actions ...string) (string, []string, error) {
	want := strings.Join(actions, " | ")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintf(r.stdout, "usage: ticketctl %s %s\n", r.name, want)
			return "", nil, errHelpShown
		}
		return "", nil, usagef(r.name, "want %s", want)
	}
	for _, a := range actions {
		if args[0] == a {
			r.name += " " + a
			return a, args[1:], nil
		}
	}
	return "", nil, usagef(r.name, "unknown action %q, want %s", args[0], want)
}

func runUsers(r *runner, args []string) error {
	action, args, err := r.subArgs(args, "add", "list")
	if err != nil {
		return done(err)
	}
	if action == "add" {
		return usersAdd(r, args)
	}
	q, err := r.minPositionOnly(args)
	if err != nil {
		return done(err)
	}
	var users []userInfo
	if printed, err := r.fetch("GET", "/v1/users", q, nil, &users); printed || err != nil {
		return err
	}
	tw := newTable(r.stdout)
	fmt.Fprintln(tw, "ID\tNAME\tROLE")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", clean(u.ID), clean(u.Name), clean(u.Role))
	}
	return tw.Flush()
}

type userInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Role        string `json:"role"`
	InboxPrefix string `json:"nats_inbox_prefix,omitempty"`
}

func usersAdd(r *runner, args []string) error {
	fs := r.newFlags("-name N -role owner|admin|manager|support|analyst|campaign_coordinator|content_creator|integration")
	f := map[string]*string{
		"name": fs.String("name", "", "the user's name (required)"),
		"role": fs.String("role", "", "the user's role (required)"),
	}
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "name", "role"); err != nil {
		return err
	}
	var rep struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if printed, err := r.fetch("POST", "/v1/users", nil, map[string]string{"name": *f["name"], "role": *f["role"]}, &rep); printed || err != nil {
		return err
	}
	tw := newTable(r.stdout)
	fmt.Fprintf(tw, "id\t%s\n", clean(rep.ID))
	fmt.Fprintf(tw, "token\t%s\n", clean(rep.Token))
	if err := tw.Flush(); err != nil {
		return err
	}
	// The engine keeps only a hash of the token, so this is the one
	// chance to copy it.
	fmt.Fprintln(r.stdout, "The token is shown this once; store it now.")
	return nil
}

func runMe(r *runner, args []string) error {
	q, err := r.minPositionOnly(args)
	if err != nil {
		return done(err)
	}
	var u userInfo
	if printed, err := r.fetch("GET", "/v1/me", q, nil, &u); printed || err != nil {
		return err
	}
	tw := newTable(r.stdout)
	fmt.Fprintf(tw, "id\t%s\nname\t%s\nrole\t%s\nnats_inbox_prefix\t%s\n", clean(u.ID), clean(u.Name), clean(u.Role), clean(u.InboxPrefix))
	return tw.Flush()
}

// runCalloutKey makes the key pair of a NATS cluster's auth callout: the
// public key goes into the servers' configuration, the seed to ticketd
// alone (docs/operations.md).
func runCalloutKey(r *runner, args []string) error {
	if _, err := r.parse(r.newFlags(""), args, 0); err != nil {
		return done(err)
	}
	kp, err := natsauth.NewIssuer()
	if err != nil {
		return err
	}
	seed, err := kp.Seed()
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "NATS_CALLOUT_ISSUER=%s\nTICKETD_NATS_CALLOUT_SEED=%s\n", pub, seed)
	return nil
}

// ErrViewsDiffer is returned by views verify when the views do not match
// a replay of the log, so that the exit status tells scripts and CI.
var ErrViewsDiffer = errors.New("views differ from the log")

func runViews(r *runner, args []string) error {
	action, args, err := r.subArgs(args, "rebuild", "verify")
	if err != nil {
		return done(err)
	}
	fs := r.newFlags("")
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	var rep struct {
		Position    int64    `json:"position"`
		Differences []string `json:"differences"`
	}
	raw, err := r.call("POST", "/v1/views/"+action, nil, struct{}{}, &rep)
	if err != nil {
		return err
	}
	if r.json {
		r.printRaw(raw)
	}
	switch {
	case action == "rebuild":
		if !r.json {
			fmt.Fprintf(r.stdout, "ok  views rebuilt from the log up to position %d\n", rep.Position)
		}
	case len(rep.Differences) > 0:
		if !r.json {
			for _, d := range rep.Differences {
				fmt.Fprintln(r.stdout, clean(d))
			}
		}
		return fmt.Errorf("%w at position %d: %d difference(s)", ErrViewsDiffer, rep.Position, len(rep.Differences))
	case !r.json:
		fmt.Fprintf(r.stdout, "ok  views match the log at position %d\n", rep.Position)
	}
	return nil
}

func runClock(r *runner, args []string) error {
	_, args, err := r.subArgs(args, "advance")
	if err != nil {
		return done(err)
	}
	fs := r.newFlags("DURATION (e.g. 73h)")
	pos, err := r.parse(fs, args, 1)
	if err != nil {
		return done(err)
	}
	if d, err := time.ParseDuration(pos[0]); err != nil || d <= 0 {
		return usagef(r.name, "%q is not a positive duration such as 90m or 73h", pos[0])
	}
	var rep struct {
		Now      string `json:"now"`
		Woke     int    `json:"woke"`
		Position int64  `json:"position"`
	}
	if printed, err := r.fetch("POST", "/v1/test-clock/advance", nil, map[string]string{"duration": pos[0]}, &rep); printed || err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "now  %s  woke=%d  position=%d\n", fmtTimeNano(rep.Now), rep.Woke, rep.Position)
	return nil
}

// runHealth asks both probes even when the first fails, since "alive but
// not ready" and "not answering" call for different fixes.
func runHealth(r *runner, args []string) error {
	fs := r.newFlags("")
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	type probe struct {
		Status string `json:"status"`
		Body   string `json:"body"`
	}
	results := map[string]probe{}
	var failed []string
	tw := newTable(r.stdout)
	for _, path := range []string{"/healthz", "/readyz"} {
		name := strings.TrimPrefix(path, "/")
		raw, err := r.client.do(r.ctx, "GET", path, nil, nil, false)
		p := probe{Status: "ok", Body: strings.TrimSpace(string(raw))}
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr):
			p.Status = fmt.Sprintf("failing (HTTP %d)", apiErr.Status)
		case err != nil:
			p.Status, p.Body = "unreachable", err.Error()
		}
		if p.Status != "ok" {
			failed = append(failed, name)
		}
		results[name] = p
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, p.Status, truncate(clean(p.Body), 100))
	}
	if r.json {
		b, _ := json.Marshal(results)
		r.printRaw(b)
	} else if err := tw.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s failing on %s", strings.Join(failed, " and "), r.client.base)
	}
	return nil
}

// ErrErasurePending is returned by erasure while a block's erasure is not
// yet complete on every replica, so that scripts can wait for it.
var ErrErasurePending = errors.New("erasure pending")

// erasureStatus is GET /v1/erasure's reply.
type erasureStatus struct {
	Pending     int      `json:"pending"`
	WaitingFor  []string `json:"waiting_for"`
	Generation  uint64   `json:"keyring_generation"`
	Confirmed   uint64   `json:"last_note_confirmed"`
	ConfirmedAt *string  `json:"confirmed_at"`
}

func runErasure(r *runner, args []string) error {
	fs := r.newFlags("")
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	var st erasureStatus
	printed, err := r.fetch("GET", "/v1/erasure", nil, nil, &st)
	if err != nil {
		return err
	}
	if !printed {
		tw := newTable(r.stdout)
		fmt.Fprintf(tw, "pending\t%d\n", st.Pending)
		fmt.Fprintf(tw, "waiting for\t%s\n", orDash(clean(strings.Join(st.WaitingFor, ", "))))
		at := "-"
		if st.ConfirmedAt != nil {
			at = clean(*st.ConfirmedAt)
		}
		fmt.Fprintf(tw, "last confirmed\t%s\n", at)
		fmt.Fprintf(tw, "keyring\tgeneration %d\n", st.Generation)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if st.Pending > 0 {
		return fmt.Errorf("%w: %d block(s) not yet erased on every replica", ErrErasurePending, st.Pending)
	}
	return nil
}
