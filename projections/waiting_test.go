package projections

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// waitSteps runs the steps of a ticket's story, one a minute, for
// profile: "in" (the customer writes; the first opens the ticket),
// "reply", "note", "close", "snooze", "assign", "read" and "block". It
// returns the ticket and the time of each step.
func waitSteps(t *testing.T, e *env, profile, steps string) (string, []time.Time) {
	t.Helper()
	var id string
	var at []time.Time
	for _, s := range strings.Fields(steps) {
		e.clock.Advance(time.Minute)
		at = append(at, e.clock.Now())
		switch s {
		case "in":
			res := e.inbound(profile, "a question from "+profile)
			if id == "" {
				id = res.TicketID
			} else if res.TicketID != id {
				t.Fatalf("%s: the message went to ticket %s, not %s (%s)", profile, res.TicketID, id, res.Outcome)
			}
		case "reply":
			e.exec(domain.Reply{TicketID: id, Body: "an answer"})
		case "note":
			e.exec(domain.Note{TicketID: id, Body: "for the team"})
		case "close":
			e.exec(domain.Close{TicketCommand: ticketCmd(id)})
		case "snooze":
			e.exec(domain.Snooze{TicketID: id, Duration: "24h"})
		case "assign":
			e.exec(domain.Assign{TicketID: id, AssigneeID: &e.owner.ID})
		case "read":
			e.exec(domain.MarkRead{TicketCommand: ticketCmd(id)})
		case "block":
			e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: profile}})
		default:
			t.Fatalf("unknown step %q", s)
		}
	}
	return id, at
}

// TestWaitingSince drives tickets through stories and checks when each
// one's customer has been waiting since: the step whose time it shows,
// or none. A replay of the log must give the same.
func TestWaitingSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
	cases := []struct {
		name, steps string
		want        int // the step whose time it is; -1 for none
	}{
		{"set by an inbound message", "in", 0},
		{"kept by a second message", "in in", 0},
		{"cleared by a reply", "in reply", -1},
		{"started again after a reply", "in reply in in", 2},
		{"not cleared by a note", "in note", 0},
		{"not started by a note", "in reply note", -1},
		{"kept by assigning and reading", "in assign read", 0},
		{"kept while snoozed", "in snooze", 0},
		{"kept when a message wakes the snooze", "in snooze in", 0},
		{"cleared by a close", "in close", -1},
		{"started again by a message reopening the ticket", "in close in", 2},
		{"a reopening message after an unanswered one", "in reply in close in", 4},
		{"cleared by a block, which closes", "in block", -1},
		{"cleared by a block after a reply and a message", "in reply in block", -1},
	}
	ids := make([]string, len(cases))
	wants := make([]*time.Time, len(cases))
	for i, c := range cases {
		id, at := waitSteps(t, e, fmt.Sprintf("waiter%02d", i), c.steps)
		ids[i] = id
		if c.want >= 0 {
			wants[i] = &at[c.want]
		}
	}
	e.sync(v)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mustTicket(t, v, ids[i], e.clock.Now())
			if !sameTime(d.WaitingSince, wants[i]) {
				t.Fatalf("waiting_since = %v, want %v (status %s)", d.WaitingSince, wants[i], d.Status)
			}
		})
	}
	mustVerify(t, v)
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// TestMigrateWaitingSince opens files written before migration 5: one
// made by hand, and one made by the projector then stripped of the
// column. Each ticket waits from its first inbound message after its last
// reply; a ticket reopened since its last reply is the one exception
// documented, which a rebuild makes exact.
func TestMigrateWaitingSince(t *testing.T) {
	t.Parallel()
	t.Run("rows", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "views.db")
		var script []string
		for _, name := range []string{"0001_views.sql", "0002_reply_status.sql", "0003_notes_search.sql", "0004_search_parts.sql"} {
			b, err := migrations.ReadFile("migrations/" + name)
			if err != nil {
				t.Fatal(err)
			}
			script = append(script, string(b))
		}
		oldFile(t, path, append(script, `PRAGMA user_version = 4`,
			`INSERT INTO profiles (id) VALUES ('p')`,
			`INSERT INTO tickets (position, id, profile_id, status, last_message_at) VALUES
				(1, 'waits', 'p', 'open', 40), (10, 'answered', 'p', 'open', 12), (20, 'closed', 'p', 'closed', 21),
				(30, 'snoozed', 'p', 'snoozed', 31), (40, 'noted', 'p', 'open', 41), (50, 'empty', 'p', 'open', 50)`,
			`INSERT INTO messages (position, ticket, id, direction, body, at) VALUES
				(2, 1, 'a', 'inbound', 'x', 2), (3, 1, 'b', 'outbound', 'x', 3), (4, 1, 'c', 'inbound', 'x', 4),
				(5, 1, 'd', 'note', 'x', 5), (6, 1, 'e', 'inbound', 'x', 6),
				(11, 10, 'f', 'inbound', 'x', 11), (12, 10, 'g', 'outbound', 'x', 12),
				(21, 20, 'h', 'inbound', 'x', 21), (31, 30, 'i', 'inbound', 'x', 31),
				(41, 40, 'j', 'inbound', 'x', 41), (42, 40, 'k', 'note', 'x', 42)`,
		)...)
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		want := map[string]sql.NullInt64{"waits": {Int64: 4, Valid: true}, "answered": {}, "closed": {},
			"snoozed": {Int64: 31, Valid: true}, "noted": {Int64: 41, Valid: true}, "empty": {}}
		for id, w := range want {
			var got sql.NullInt64
			if err := db.r.QueryRow(`SELECT waiting_since FROM tickets WHERE id = ?`, id).Scan(&got); err != nil || got != w {
				t.Errorf("%s: waiting_since %v (%v), want %v", id, got, err, w)
			}
		}
	})
	t.Run("projector's file", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		path := filepath.Join(t.TempDir(), "views.db")
		v := e.openViews(path, ProjectorConfig{})
		for i, steps := range []string{"in", "in in reply", "in reply in note", "in snooze", "in close", "in reply close in"} {
			waitSteps(t, e, fmt.Sprintf("old%d", i), steps)
		}
		reopened, _ := waitSteps(t, e, "reopened", "in reply in close in")
		e.sync(v)
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		oldFile(t, path, `DROP INDEX tickets_by_wait`, `DROP INDEX tickets_by_assignee_wait`,
			`ALTER TABLE tickets DROP COLUMN wait_key`, `ALTER TABLE tickets DROP COLUMN waiting_since`,
			`PRAGMA user_version = 4`)

		v = e.openViews(path, ProjectorConfig{})
		diffs, err := v.Verify(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(diffs) != 1 || !strings.Contains(diffs[0], "id="+`"`+reopened+`"`) || !strings.Contains(diffs[0], "waiting_since") {
			t.Fatalf("after the migration, verify found:\n%s\nwant only the reopened ticket's waiting_since", joinLines(diffs))
		}
		if err := v.Rebuild(testContext(t)); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, v)
	})
}

// oldFile runs statements on the views file at path, as an older build
// would have left it.
func oldFile(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open(driverName, fileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
}
