package projections

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// TestMigrateReplyStatus opens a file that only the first migration made,
// holding an inbound message and a reply: the reply becomes pending, the
// inbound message has no status.
func TestMigrateReplyStatus(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "views.db")
	old, err := sql.Open(driverName, fileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	script, err := migrations.ReadFile("migrations/0001_views.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(script), `PRAGMA user_version = 1`,
		`INSERT INTO profiles (id) VALUES ('p')`,
		`INSERT INTO tickets (position, id, profile_id, status, last_message_at) VALUES (1, 't', 'p', 'open', 0)`,
		`INSERT INTO messages (position, ticket, id, direction, body, at) VALUES (2, 1, 'm1', 'inbound', 'hi', 0)`,
		`INSERT INTO messages (position, ticket, id, direction, body, at, author_id) VALUES (3, 1, 'm2', 'outbound', 'hello', 0, 'u')`,
	} {
		if _, err := old.Exec(q); err != nil {
			old.Close()
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	old.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := []struct {
		id             string
		status, reason sql.NullString
	}{
		{"m1", sql.NullString{}, sql.NullString{}},
		{"m2", sql.NullString{String: "pending", Valid: true}, sql.NullString{}},
	}
	for _, c := range cases {
		var status, reason sql.NullString
		if err := db.r.QueryRow(`SELECT status, status_reason FROM messages WHERE id = ?`, c.id).Scan(&status, &reason); err != nil {
			t.Fatal(err)
		}
		if status != c.status || reason != c.reason {
			t.Errorf("%s: status %v, reason %v; want %v, %v", c.id, status, reason, c.status, c.reason)
		}
	}
	if _, err := db.w.Exec(`UPDATE messages SET status = 'lost' WHERE id = 'm2'`); err == nil {
		t.Error("a status outside the four was stored")
	}
}

// TestMigrateSearchIndex opens files written before notes and search, and
// with migration 3's index: messages keep their rows, a note may now be
// stored, and the search index is made from what the file holds, nothing
// of the old index kept.
func TestMigrateSearchIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		from  []string
		extra []string
	}{
		{"before search", []string{"0001_views.sql", "0002_reply_status.sql"}, nil},
		{"first index", []string{"0001_views.sql", "0002_reply_status.sql", "0003_notes_search.sql"},
			[]string{`INSERT INTO search_postings (bucket, term, tickets) VALUES (0, 'stale', x'0102')`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			migrateSearchIndexFrom(t, tc.from, tc.extra)
		})
	}
}

func migrateSearchIndexFrom(t *testing.T, from, extra []string) {
	path := filepath.Join(t.TempDir(), "views.db")
	old, err := sql.Open(driverName, fileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	var script []string
	for _, name := range from {
		b, err := migrations.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		script = append(script, string(b))
	}
	script = append(script, extra...)
	const tk = "0f8b5f52-8a3c-4a55-9d54-3c2b7b8e1a01"
	for _, q := range append(script, fmt.Sprintf(`PRAGMA user_version = %d`, len(from)),
		`INSERT INTO profiles (id) VALUES ('vera'), ('walt')`,
		`INSERT INTO profile_phones (profile_id, phone, position) VALUES ('vera', '+33699887766', 2)`,
		`INSERT INTO tickets (position, id, profile_id, status, last_message_at) VALUES (1, '`+tk+`', 'vera', 'open', 0)`,
		`INSERT INTO tickets (position, id, profile_id, status, last_message_at) VALUES (70000, 'other', 'walt', 'closed', 1)`,
		`INSERT INTO messages (position, ticket, id, direction, body, at) VALUES (2, 1, 'm1', 'inbound', 'Où est ma Commande ?', 0)`,
		`INSERT INTO messages (position, ticket, id, direction, body, at, author_id, status) VALUES (3, 1, 'm2', 'outbound', 'En route', 0, 'u', 'sent')`,
		`INSERT INTO messages (position, ticket, id, direction, body, at) VALUES (70001, 70000, 'm3', 'inbound', 'commande annulée', 1)`,
	) {
		if _, err := old.Exec(q); err != nil {
			old.Close()
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	old.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.r.QueryRow(`SELECT count(*) FROM messages WHERE status = 'sent' OR status IS NULL`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d messages kept (%v), want 3", n, err)
	}
	v := &Views{proj: NewProjector(db, nil, ProjectorConfig{Logger: quiet})}
	for q, want := range map[string][]string{
		"commande": {"other", tk}, "ou est": {tk}, "route": {tk}, "33699": {tk}, "vera": {tk},
		tk[:8]: {tk}, "annulee walt": {"other"}, "commande nothing": {}, "stale": {},
	} {
		page, err := v.Tickets(testContext(t), TicketQuery{Q: q})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range page.Tickets {
			got = append(got, s.ID)
		}
		if !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Errorf("search %q after the migration: %v, want %v", q, got, want)
		}
	}
	if _, err := db.w.Exec(`INSERT INTO messages (position, ticket, id, direction, body, at, author_id) VALUES (4, 1, 'n1', 'note', 'x', 0, 'u')`); err != nil {
		t.Errorf("a note cannot be stored: %v", err)
	}
	if _, err := db.w.Exec(`UPDATE messages SET direction = 'sideways' WHERE id = 'm1'`); err == nil {
		t.Error("a direction outside the three was stored")
	}
}
