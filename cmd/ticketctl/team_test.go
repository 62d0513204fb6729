package main

import (
	"net/url"
	"strings"
	"testing"
)

// TestSearchOutput: search prints the matches as inbox does, names the
// assignees, says when nothing matched, and its next hint repeats the
// text.
func TestSearchOutput(t *testing.T) {
	f := newFakeEngine(t, nil)
	out, _, err := runAt(f, "search", "-limit", "2", "parcel", "late")
	if err != nil {
		t.Fatal(err)
	}
	got := lines(out)
	if len(got) != 4 || !strings.HasPrefix(got[0], "ID ") || fields(got[2])[3] != "Ann" {
		t.Fatalf("search printed:\n%s", out)
	}
	if want := "next: ticketctl search -limit 2 -cursor c2 'parcel late'"; got[3] != want {
		t.Errorf("next hint %q, want %q", got[3], want)
	}
	q, _ := url.ParseQuery(f.requests()[0].Query)
	if q.Get("q") != "parcel late" || q.Has("status") {
		t.Errorf("query %v: want the text, and no status (every status)", q)
	}

	none := newFakeEngine(t, map[string]reply{"GET /v1/tickets": {200, `{"tickets":[],"next_cursor":null}`}})
	out, _, err = runAt(none, "search", "zeppelin")
	if err != nil || out != "ID  PROFILE  STATUS  ASSIGNEE  UNREAD  WAITING SINCE  SNOOZED UNTIL  LAST MESSAGE  MSGS  PREVIEW\n(no ticket matches zeppelin)\n" {
		t.Errorf("no match: %v\n%q", err, out)
	}
	for _, args := range [][]string{{"search"}, {"search", "-status", "lost", "x"}, {"search", "-view", "everyone", "x"}} {
		if _, _, err := runAt(f, args...); ExitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestNamesFallBackToIDs: where the engine does not list users, ids are
// printed as they are, and the command still succeeds.
func TestNamesFallBackToIDs(t *testing.T) {
	thread := cannedTicket + `,"messages":[{"id":"n1","direction":"note","body":"VIP","at":"2026-03-01T08:06:00Z","author_id":"` + userA + `"}]}`
	for _, c := range []struct {
		users reply
		want  string
	}{
		{reply{200, `[{"id":"` + userA + `","name":"Ann","role":"support"}]`}, "[2026-03-01T08:06:00Z] note (Ann): VIP"},
		{reply{403, `{"ok":false,"error":{"code":"forbidden","message":"no"}}`}, "[2026-03-01T08:06:00Z] note (" + userA + "): VIP"},
		{reply{200, `[]`}, "[2026-03-01T08:06:00Z] note (" + userA + "): VIP"},
	} {
		f := newFakeEngine(t, map[string]reply{"GET /v1/tickets/" + ticketA: {200, thread}, "GET /v1/users": c.users})
		out, _, err := runAt(f, "show", ticketA)
		if err != nil {
			t.Fatal(err)
		}
		if got := lines(out); got[len(got)-1] != c.want {
			t.Errorf("users %d: last line %q, want %q", c.users.Status, got[len(got)-1], c.want)
		}
	}
}
