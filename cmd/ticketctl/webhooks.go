package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// webhookInfo is one webhook as GET /v1/webhooks lists it (no secret).
type webhookInfo struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	CreatedAt   *string  `json:"created_at"`
	CreatedBy   string   `json:"created_by"`
	Position    uint64   `json:"position"`
}

// webhookFailure is one dead-lettered delivery. Its fields are read
// leniently (any JSON value), since the route's shape may still grow.
type webhookFailure struct {
	EventID   any `json:"event_id"`
	Position  any `json:"position"`
	Type      any `json:"type"`
	TicketID  any `json:"ticket_id"`
	Attempts  any `json:"attempts"`
	LastError any `json:"last_error"`
	FailedAt  any `json:"failed_at"`
}

func runWebhooks(r *runner, args []string) error {
	action, args, err := r.subArgs(args, "add", "list", "remove", "failures", "retry")
	if err != nil {
		return done(err)
	}
	switch action {
	case "add":
		err = webhooksAdd(r, args)
	case "list":
		err = webhooksList(r, args)
	case "remove":
		err = webhooksRemove(r, args)
	case "failures":
		err = webhooksFailures(r, args)
	default:
		err = webhooksRetry(r, args)
	}
	return done(err)
}

// splitEvents reads -events: a comma-separated list, or * for all.
func splitEvents(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func webhooksAdd(r *runner, args []string) error {
	fs := r.newFlags("-url U -events E1,E2|* [-description D]")
	f := map[string]*string{
		"url":         fs.String("url", "", "the http or https URL deliveries are POSTed to (required)"),
		"events":      fs.String("events", "", "event types, comma-separated (ReplySent,MessageReceived), or * for all (required)"),
		"description": fs.String("description", "", "what the webhook is for"),
	}
	if _, err := r.parse(fs, args, 0); err != nil {
		return err
	}
	if err := r.require(f, "url", "events"); err != nil {
		return err
	}
	events := splitEvents(*f["events"])
	if len(events) == 0 {
		return usagef(r.name, "-events lists no event type")
	}
	body := map[string]any{"url": *f["url"], "events": events}
	if d := *f["description"]; d != "" {
		body["description"] = d
	}
	var rep struct {
		webhookInfo
		Secret string `json:"secret"`
	}
	if printed, err := r.fetch("POST", "/v1/webhooks", nil, body, &rep); printed || err != nil {
		return err
	}
	tw := newTable(r.stdout)
	fmt.Fprintf(tw, "id\t%s\n", clean(rep.ID))
	fmt.Fprintf(tw, "url\t%s\n", clean(rep.URL))
	fmt.Fprintf(tw, "events\t%s\n", clean(strings.Join(rep.Events, ",")))
	fmt.Fprintf(tw, "secret\t%s\n", clean(rep.Secret))
	if err := tw.Flush(); err != nil {
		return err
	}
	// The engine keeps the secret sealed and never shows it again.
	fmt.Fprintln(r.stdout, "The secret is shown this once; store it now to check the deliveries' signatures.")
	return nil
}

func webhooksList(r *runner, args []string) error {
	if _, err := r.parse(r.newFlags(""), args, 0); err != nil {
		return err
	}
	var hooks []webhookInfo
	if printed, err := r.fetch("GET", "/v1/webhooks", nil, nil, &hooks); printed || err != nil {
		return err
	}
	tw := newTable(r.stdout)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED\tDESCRIPTION")
	for _, h := range hooks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(h.ID), clean(h.URL), clean(strings.Join(h.Events, ",")),
			fmtTime(h.CreatedAt), orDash(truncate(clean(h.Description), previewRunes)))
	}
	return tw.Flush()
}

func webhooksRemove(r *runner, args []string) error {
	pos, err := r.parse(r.newFlags("ID"), args, 1)
	if err != nil {
		return err
	}
	if printed, err := r.fetch("DELETE", "/v1/webhooks/"+seg(pos[0]), nil, nil, nil); printed || err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "ok  webhook %s removed\n", clean(pos[0]))
	return nil
}

func webhooksFailures(r *runner, args []string) error {
	pos, err := r.parse(r.newFlags("ID"), args, 1)
	if err != nil {
		return err
	}
	raw, err := r.call("GET", "/v1/webhooks/"+seg(pos[0])+"/failures", nil, nil, nil)
	if err != nil {
		return err
	}
	if r.json {
		r.printRaw(raw)
		return nil
	}
	fails, err := decodeFailures(raw)
	if err != nil {
		return fmt.Errorf("GET /v1/webhooks/%s/failures: unexpected reply: %w", pos[0], err)
	}
	if len(fails) == 0 {
		fmt.Fprintf(r.stdout, "no failed deliveries for webhook %s\n", clean(pos[0]))
		return nil
	}
	tw := newTable(r.stdout)
	fmt.Fprintln(tw, "EVENT_ID\tPOSITION\tTYPE\tTICKET\tATTEMPTS\tFAILED_AT\tLAST_ERROR")
	for _, f := range fails {
		at := loose(f.FailedAt)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", loose(f.EventID), loose(f.Position), loose(f.Type), loose(f.TicketID),
			loose(f.Attempts), fmtTime(&at), truncate(loose(f.LastError), 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "send one again: ticketctl webhooks retry %s EVENT_ID\n", shellQuote(pos[0]))
	return nil
}

// decodeFailures accepts a bare list or one wrapped as {"failures": [...]}.
func decodeFailures(raw []byte) ([]webhookFailure, error) {
	// Numbers are kept as sent: a position may exceed a float's exact range.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		var wrapped struct {
			Failures []webhookFailure `json:"failures"`
		}
		err := dec.Decode(&wrapped)
		return wrapped.Failures, err
	}
	var fails []webhookFailure
	err := dec.Decode(&fails)
	return fails, err
}

// loose prints a JSON value of any type as a table cell.
func loose(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return orDash(clean(v))
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return clean(string(b))
	}
}

func webhooksRetry(r *runner, args []string) error {
	pos, err := r.parse(r.newFlags("ID EVENT_ID"), args, 2)
	if err != nil {
		return err
	}
	path := "/v1/webhooks/" + seg(pos[0]) + "/failures/" + seg(pos[1]) + "/retry"
	if printed, err := r.fetch("POST", path, nil, struct{}{}, nil); printed || err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "ok  event %s queued for delivery to webhook %s again\n", clean(pos[1]), clean(pos[0]))
	return nil
}
