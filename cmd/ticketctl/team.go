package main

import (
	"encoding/json"
	"flag"
	"strings"
)

// Working the inbox as a team (spec section 8): internal notes, search,
// and teammates' names wherever a user id would be printed.

func runNote(r *runner, args []string) error {
	fs := r.newFlags("-ticket T -body B [-command-id UUID]")
	f := map[string]*string{
		"ticket": fs.String("ticket", "", "ticket id (required)"),
		"body":   fs.String("body", "", "the note, for the team only: never sent to the customer (required)"),
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

func runSearch(r *runner, args []string) error {
	fs := r.newFlags("TEXT... [-view all|mine|unassigned] [-status open|snoozed|closed] [-sort newest|waiting] [-limit N] [-cursor C] [-all-pages] [-min-position N]")
	view := fs.String("view", "all", "all, mine or unassigned")
	status := fs.String("status", "", "open, snoozed or closed (default: every status)")
	sort := sortFlag(fs)
	limit := fs.Int("limit", 0, "tickets per page (engine default 50, max 500)")
	cursor := fs.String("cursor", "", "continue from a previous page's next cursor")
	allPages := fs.Bool("all-pages", false, "follow the cursor to the last page")
	minPos := minPosition(fs)
	pos, err := r.parseWords(fs, args)
	if err != nil {
		return done(err)
	}
	text := strings.Join(pos, " ")
	if strings.TrimSpace(text) == "" {
		return usagef(r.name, "give the text to search for")
	}
	q, err := r.listQuery(*view, *status, *sort, *limit, *minPos)
	if err != nil {
		return err
	}
	q.Set("q", text)
	return r.listTickets(q, *cursor, *allPages, "(no ticket matches "+shellQuote(text)+")", func(next string) string {
		return "ticketctl search" + repeatFlags(fs, "cursor", "all-pages") + " -cursor " + shellQuote(next) + " " + shellQuote(text)
	})
}

// parseWords is parse for a command whose positional arguments are the
// words of one text, one or more of them, among its flags.
func (r *runner) parseWords(fs *flag.FlagSet, args []string) ([]string, error) {
	words, err := r.parseAll(fs, args)
	if err == nil && len(words) == 0 {
		err = usagef(r.name, "give the text to search for")
	}
	return words, err
}

// userNames maps user ids to names, from GET /v1/users, when any of ids
// is set; nil (ids printed as they are) when there is none or the engine
// cannot say, since a name is a convenience, never worth failing for.
func (r *runner) userNames(ids ...*string) names {
	need := false
	for _, id := range ids {
		need = need || id != nil && *id != ""
	}
	if !need {
		return nil
	}
	var users []userInfo
	raw, err := r.client.do(r.ctx, "GET", "/v1/users", nil, nil, true)
	if err != nil || json.Unmarshal(raw, &users) != nil {
		return nil
	}
	n := names{}
	for _, u := range users {
		if u.Name != "" {
			n[u.ID] = u.Name
		}
	}
	return n
}

// names is what userNames found.
type names map[string]string

// of prints a user id as its user's name, or as itself when unknown; "-"
// for none.
func (n names) of(id *string) string {
	if id == nil || *id == "" {
		return "-"
	}
	if name, ok := n[*id]; ok {
		return clean(name)
	}
	return clean(*id)
}
