package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// ticketDetail is GET /v1/tickets/{id}: the summary and the thread.
type ticketDetail struct {
	ticketSummary
	Messages []struct {
		ID        string  `json:"id"`
		Direction string  `json:"direction"`
		Body      string  `json:"body"`
		At        string  `json:"at"`
		AuthorID  *string `json:"author_id"`
		// Status and StatusReason are a reply's delivery; nil for inbound.
		Status       *string `json:"status"`
		StatusReason *string `json:"status_reason"`
	} `json:"messages"`
}

// ticketEvent is one entry of GET /v1/tickets/{id}/events.
type ticketEvent struct {
	Position int64  `json:"position"`
	Type     string `json:"type"`
	At       string `json:"at"`
	Actor    struct {
		UserID string `json:"user_id"`
		Role   string `json:"role"`
		System string `json:"system"`
	} `json:"actor"`
	Data json.RawMessage `json:"data"`
}

// queryOne parses "<sub> ID [-min-position N]" and fetches the resource.
func (r *runner) queryOne(synopsis string, path func(id string) string, args []string, out any) ([]byte, error) {
	fs := r.newFlags(synopsis + " [-min-position N]")
	minPos := minPosition(fs)
	pos, err := r.parse(fs, args, 1)
	if err != nil {
		return nil, err
	}
	if pos[0] == "" {
		return nil, usagef(r.name, "the id must not be empty")
	}
	q := url.Values{}
	if err := r.addMinPosition(q, *minPos); err != nil {
		return nil, err
	}
	return r.call("GET", path(pos[0]), q, nil, out)
}

func runShow(r *runner, args []string) error {
	var t ticketDetail
	raw, err := r.queryOne("TICKET_ID", func(id string) string { return "/v1/tickets/" + seg(id) }, args, &t)
	if err != nil {
		return done(err)
	}
	if r.json {
		r.printRaw(raw)
		return nil
	}
	unread := "no"
	if t.Unread {
		unread = unreadDot + " yes"
	}
	ids := []*string{t.AssigneeID}
	for _, m := range t.Messages {
		ids = append(ids, m.AuthorID)
	}
	names := r.userNames(ids...)
	tw := newTable(r.stdout)
	for _, kv := range [][2]string{
		{"ticket", clean(t.ID)},
		{"profile", clean(t.ProfileID)},
		{"status", clean(t.Status)},
		{"assignee", names.of(t.AssigneeID)},
		{"unread", unread},
		{"snoozed until", fmtTime(t.SnoozedUntil)},
		{"closed at", fmtTime(t.ClosedAt)},
		{"last message", fmtTime(t.LastMessageAt)},
		{"waiting since", fmtTime(t.WaitingSince)},
		{"messages", fmt.Sprint(t.MessageCount)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(r.stdout)
	if len(t.Messages) == 0 {
		fmt.Fprintln(r.stdout, "(no messages)")
	}
	for _, m := range t.Messages {
		// Inbound messages have no author id: the customer wrote them, so
		// the profile stands in for the author. Replies and notes show
		// their agent's name; a note reads "note (Ana)".
		author := clean(t.ProfileID)
		if m.AuthorID != nil && *m.AuthorID != "" {
			author = names.of(m.AuthorID)
		}
		body := strings.ReplaceAll(cleanLines(m.Body), "\n", "\n    ")
		fmt.Fprintf(r.stdout, "[%s] %s (%s)%s: %s\n", fmtTime(&m.At), clean(m.Direction), author,
			replyStatus(m.Status, m.StatusReason), body)
	}
	return nil
}

func runHistory(r *runner, args []string) error {
	var events []ticketEvent
	raw, err := r.queryOne("TICKET_ID", func(id string) string { return "/v1/tickets/" + seg(id) + "/events" }, args, &events)
	if err != nil {
		return done(err)
	}
	if r.json {
		r.printRaw(raw)
		return nil
	}
	var ids []*string
	for _, e := range events {
		ids = append(ids, &e.Actor.UserID)
	}
	names := r.userNames(ids...)
	tw := newTable(r.stdout)
	fmt.Fprintln(tw, "POSITION\tAT\tTYPE\tACTOR\tDATA")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Position, fmtTimeNano(e.At), clean(e.Type), actorString(e, names), compactJSON(e.Data))
	}
	return tw.Flush()
}

// actorString shows who did it: a user by name, with the role they had
// then, or the engine's own part.
func actorString(e ticketEvent, names names) string {
	a := e.Actor
	switch {
	case a.System != "":
		return "system:" + clean(a.System)
	case a.UserID != "" && a.Role != "":
		return names.of(&a.UserID) + " (" + clean(a.Role) + ")"
	}
	return names.of(&a.UserID)
}

// compactJSON prints event data on one line; compact JSON escapes every
// control character inside strings, so the cell cannot break the table.
func compactJSON(data json.RawMessage) string {
	if len(data) == 0 || string(data) == "null" {
		return "-"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return clean(string(data))
	}
	return b.String()
}

func runProfile(r *runner, args []string) error {
	var p struct {
		ID        string   `json:"id"`
		Phones    []string `json:"phones"`
		Blocked   bool     `json:"blocked"`
		TicketIDs []string `json:"ticket_ids"`
		Erasure   string   `json:"erasure"`
	}
	raw, err := r.queryOne("PROFILE_ID", func(id string) string { return "/v1/profiles/" + seg(id) }, args, &p)
	if err != nil {
		return done(err)
	}
	if r.json {
		r.printRaw(raw)
		return nil
	}
	blocked := "no"
	if p.Blocked {
		blocked = "yes"
	}
	tw := newTable(r.stdout)
	fmt.Fprintf(tw, "profile\t%s\n", clean(p.ID))
	fmt.Fprintf(tw, "phones\t%s\n", orDash(clean(strings.Join(p.Phones, ", "))))
	fmt.Fprintf(tw, "blocked\t%s\n", blocked)
	fmt.Fprintf(tw, "erasure\t%s\n", orDash(clean(p.Erasure)))
	// One ticket per line, so ids can be copied whole into show.
	if len(p.TicketIDs) == 0 {
		fmt.Fprintln(tw, "tickets\t-")
	}
	for i, id := range p.TicketIDs {
		label := ""
		if i == 0 {
			label = "tickets"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, clean(id))
	}
	return tw.Flush()
}
