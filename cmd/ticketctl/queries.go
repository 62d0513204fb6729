package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ticketSummary is one row of an inbox view (section 4).
type ticketSummary struct {
	ID            string  `json:"id"`
	ProfileID     string  `json:"profile_id"`
	Status        string  `json:"status"`
	AssigneeID    *string `json:"assignee_id"`
	Unread        bool    `json:"unread"`
	SnoozedUntil  *string `json:"snoozed_until"`
	ClosedAt      *string `json:"closed_at"`
	LastMessageAt *string `json:"last_message_at"`
	WaitingSince  *string `json:"waiting_since"`
	Preview       string  `json:"preview"`
	MessageCount  int     `json:"message_count"`
}

type inboxPage struct {
	Tickets    []json.RawMessage `json:"tickets"`
	NextCursor *string           `json:"next_cursor"`
}

func runInbox(r *runner, args []string) error {
	fs := r.newFlags("[-view all|mine|unassigned] [-status open|snoozed|closed] [-sort newest|waiting] [-limit N] [-cursor C] [-all-pages] [-min-position N]")
	view := fs.String("view", "all", "all, mine or unassigned")
	status := fs.String("status", "open", "open, snoozed or closed")
	sort := sortFlag(fs)
	limit := fs.Int("limit", 0, "tickets per page (engine default 50, max 500)")
	cursor := fs.String("cursor", "", "continue from a previous page's next cursor")
	allPages := fs.Bool("all-pages", false, "follow the cursor to the last page")
	minPos := minPosition(fs)
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	q, err := r.listQuery(*view, *status, *sort, *limit, *minPos)
	if err != nil {
		return err
	}
	return r.listTickets(q, *cursor, *allPages, fmt.Sprintf("(no %s tickets in view %s)", *status, *view),
		func(next string) string {
			return "ticketctl inbox" + repeatFlags(fs, "cursor", "all-pages") + " -cursor " + shellQuote(next)
		})
}

// sortFlag is the -sort flag of every ticket list.
func sortFlag(fs *flag.FlagSet) *string {
	return fs.String("sort", "newest", "newest (newest activity first) or waiting (longest waiting customer first)")
}

// listQuery checks the flags every ticket list has and makes its query;
// an empty status is left out (a search then looks in every status).
func (r *runner) listQuery(view, status, sort string, limit int, minPos int64) (url.Values, error) {
	if !slices.Contains([]string{"all", "mine", "unassigned"}, view) {
		return nil, usagef(r.name, "-view must be all, mine or unassigned")
	}
	if status != "" && !slices.Contains([]string{"open", "snoozed", "closed"}, status) {
		return nil, usagef(r.name, "-status must be open, snoozed or closed")
	}
	if !slices.Contains([]string{"newest", "waiting"}, sort) {
		return nil, usagef(r.name, "-sort must be newest or waiting")
	}
	if limit < 0 {
		return nil, usagef(r.name, "-limit must not be negative")
	}
	q := url.Values{"view": {view}}
	// The engine's default is left out, so that an engine from before
	// the sorts answers too.
	if sort != "newest" {
		q.Set("sort", sort)
	}
	if status != "" {
		q.Set("status", status)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if err := r.addMinPosition(q, minPos); err != nil {
		return nil, err
	}
	return q, nil
}

// listTickets fetches GET /v1/tickets with q, one page from cursor or all
// of them, and prints it as a table (or as the engine's JSON); next
// spells the command that continues from a cursor.
func (r *runner) listTickets(q url.Values, cursor string, allPages bool, none string, next func(string) string) error {
	var rows []json.RawMessage
	var nextCursor *string
	seen := map[string]bool{}
	c := cursor
	for {
		if c != "" {
			q.Set("cursor", c)
		}
		raw, err := r.call("GET", "/v1/tickets", q, nil, nil)
		if err != nil {
			return err
		}
		if r.json && !allPages {
			r.printRaw(raw)
			return nil
		}
		var page inboxPage
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("GET /v1/tickets: unexpected reply: %w", err)
		}
		rows = append(rows, page.Tickets...)
		nextCursor = page.NextCursor
		if !allPages || nextCursor == nil || *nextCursor == "" {
			break
		}
		// A cursor seen before would loop forever; the engine's cursors
		// only move forward, so this guards against a broken server only.
		if seen[*nextCursor] {
			return fmt.Errorf("GET /v1/tickets: the engine returned cursor %q twice", *nextCursor)
		}
		seen[*nextCursor] = true
		c = *nextCursor
	}
	if r.json {
		// All pages as one reply, in the engine's own shape, so that a
		// script reads -all-pages output the way it reads one page.
		if rows == nil {
			rows = []json.RawMessage{}
		}
		b, err := json.Marshal(inboxPage{Tickets: rows})
		if err != nil {
			return err
		}
		r.printRaw(b)
		return nil
	}
	tickets := make([]ticketSummary, len(rows))
	var assignees []*string
	for i, row := range rows {
		if err := json.Unmarshal(row, &tickets[i]); err != nil {
			return fmt.Errorf("GET /v1/tickets: unexpected ticket: %w", err)
		}
		assignees = append(assignees, tickets[i].AssigneeID)
	}
	names := r.userNames(assignees...)
	tw := newTable(r.stdout)
	fmt.Fprintln(tw, "ID\tPROFILE\tSTATUS\tASSIGNEE\tUNREAD\tWAITING SINCE\tSNOOZED UNTIL\tLAST MESSAGE\tMSGS\tPREVIEW")
	for _, t := range tickets {
		dot := ""
		if t.Unread {
			dot = unreadDot
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", clean(t.ID), clean(t.ProfileID), clean(t.Status),
			names.of(t.AssigneeID), dot, fmtTime(t.WaitingSince), fmtTime(t.SnoozedUntil), fmtTime(t.LastMessageAt),
			t.MessageCount, truncate(clean(t.Preview), previewRunes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(tickets) == 0 {
		fmt.Fprintln(r.stdout, none)
	}
	if nextCursor != nil && *nextCursor != "" && !allPages {
		fmt.Fprintf(r.stdout, "next: %s\n", next(*nextCursor))
	}
	return nil
}

// repeatFlags spells the flags the user set, so that the "next:" hint is a
// command that continues the same listing.
func repeatFlags(fs *flag.FlagSet, skip ...string) string {
	var b strings.Builder
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(skip, f.Name) {
			return
		}
		fmt.Fprintf(&b, " -%s %s", f.Name, shellQuote(f.Value.String()))
	})
	return b.String()
}

// statusCounts is one view's line of GET /v1/tickets/counts.
type statusCounts struct {
	Open    int `json:"open"`
	Snoozed int `json:"snoozed"`
	Closed  int `json:"closed"`
}

func runCounts(r *runner, args []string) error {
	q, err := r.minPositionOnly(args)
	if err != nil {
		return done(err)
	}
	var counts map[string]statusCounts
	if printed, err := r.fetch("GET", "/v1/tickets/counts", q, nil, &counts); printed || err != nil {
		return err
	}
	tw := newTable(r.stdout)
	fmt.Fprintln(tw, "VIEW\tOPEN\tSNOOZED\tCLOSED")
	for _, v := range []string{"all", "mine", "unassigned"} {
		c := counts[v]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", v, c.Open, c.Snoozed, c.Closed)
	}
	return tw.Flush()
}
