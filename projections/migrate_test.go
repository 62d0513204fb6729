package projections

import (
	"database/sql"
	"path/filepath"
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
