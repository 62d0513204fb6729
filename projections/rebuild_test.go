package projections

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

// TestRebuildWhileQuerying rebuilds the views twice while readers query
// them without pause and an engine keeps writing: no query may fail, the
// projector must go on on the new file, and the old one must go.
func TestRebuildWhileQuerying(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workload(3)
	dir := t.TempDir()
	path := filepath.Join(dir, "views.db")
	v := e.openViews(path, ProjectorConfig{BatchSize: 10})
	known := e.inbound("reader", "a ticket the readers look up").TicketID
	e.sync(v)

	var (
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		queries atomic.Int64
		mu      sync.Mutex
		failed  []error
	)
	fail := func(err error) {
		mu.Lock()
		failed = append(failed, err)
		mu.Unlock()
	}
	ctx := testContext(t)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch (r + i) % 5 {
				case 0:
					_, err = v.Tickets(ctx, TicketQuery{Status: StatusClosed, Now: clockStart})
				case 1:
					_, err = v.Counts(ctx, e.owner.ID, clockStart)
				case 2:
					_, err = v.Ticket(ctx, known, clockStart)
				case 3:
					_, err = v.Profile(ctx, "reader")
				case 4:
					_, err = v.TicketEvents(ctx, known)
				}
				if err != nil {
					fail(err)
				}
				queries.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.eng.Execute(ctx, e.owner, domain.Inbound{ProfileID: fmt.Sprintf("writer%d", i%7), Body: "more"}); err != nil {
				fail(err)
			}
		}
	}()

	for gen := 1; gen <= 2; gen++ {
		before := queries.Load()
		if err := v.Rebuild(ctx); err != nil {
			t.Fatalf("rebuild %d: %v", gen, err)
		}
		if queries.Load() == before {
			t.Errorf("rebuild %d: no query ran while it did", gen)
		}
		target, err := os.Readlink(path)
		if want := fmt.Sprintf("views.db.gen-%d", gen); err != nil || target != want {
			t.Fatalf("after rebuild %d the views path links to %q (%v), want %q", gen, target, err, want)
		}
	}
	// The projector goes on on the new file.
	res := e.inbound("after", "written after the rebuilds")
	e.sync(v)
	if _, err := v.Ticket(ctx, res.TicketID, clockStart); err != nil {
		t.Fatalf("ticket written after the rebuilds: %v", err)
	}
	close(stop)
	wg.Wait()
	for _, err := range failed {
		t.Errorf("failed during rebuild: %v", err)
	}
	e.sync(v)
	mustVerify(t, v)
	// Only the live generation is left beside the link.
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), "-wal") && !strings.HasSuffix(en.Name(), "-shm") {
			names = append(names, en.Name())
		}
		if strings.HasPrefix(en.Name(), "views.db-") || strings.HasPrefix(en.Name(), "views.db.gen-1") {
			t.Errorf("old file %s left behind", en.Name())
		}
	}
	if !slices.Equal(names, []string{"views.db", "views.db.gen-2"}) {
		t.Errorf("files in the views directory: %v", names)
	}
	// A restart opens the rebuilt file where it stood.
	pos := v.Position()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.views(path, ProjectorConfig{})
	if r.Position() != pos || r.Projector().DB().Path() != path+".gen-2" {
		t.Fatalf("reopened %s at %d, want %s at %d", r.Projector().DB().Path(), r.Position(), path+".gen-2", pos)
	}
}

// TestVerifyDetectsTampering changes the live views behind the projector's
// back: Verify must name each row that no longer matches the log.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workload(2)
	id := e.inbound("target", "original text").TicketID
	cases := []struct {
		name string
		sql  string
		want []string
	}{
		{"changed column", `UPDATE tickets SET unread = 1 - unread WHERE id = ?1`,
			[]string{"tickets[position=", fmt.Sprintf(`, id=%q]: unread is`, id)}},
		{"changed text", `UPDATE messages SET body = 'forged' WHERE ticket = (SELECT position FROM tickets WHERE id = ?1)`,
			[]string{`body is "forged" in the live views, "original text" in a replay of the log`}},
		{"missing row", `DELETE FROM history WHERE position = (SELECT position FROM tickets WHERE id = ?1)`,
			[]string{"history[ticket=", ", position=", "]: missing from the live views"}},
		{"changed reply status", `UPDATE messages SET status = 'sent' WHERE ?1 != '' AND position =
			(SELECT min(position) FROM messages WHERE status = 'delivered')`,
			[]string{`status is "sent" in the live views, "delivered" in a replay of the log`}},
		{"extra row", `INSERT INTO users (id, name, role) SELECT 'intruder', 'Eve', 'owner' WHERE ?1 != ''`,
			[]string{`users[id="intruder"]: in the live views but not in a replay of the log`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := e.views(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
			if err := v.Projector().CatchUp(testContext(t), 0); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, v)
			db, err := sql.Open("sqlite3", fileURI(v.Projector().DB().Path())+"?_busy_timeout=5000")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if res, err := db.Exec(c.sql, id); err != nil {
				t.Fatal(err)
			} else if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("tampering changed %d rows", n)
			}
			diffs, err := v.Verify(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != 1 {
				t.Fatalf("verify reported %d lines, want 1:\n%s", len(diffs), joinLines(diffs))
			}
			for _, w := range c.want {
				if !strings.Contains(diffs[0], w) {
					t.Fatalf("verify reported %q, want it to name %q", diffs[0], w)
				}
			}
		})
	}
}

// TestErasureLeavesNoText blocks a profile and looks for its message's text
// in every file of the views' directory: present before the block (so the
// search can see it), gone after, also from the -wal file.
func TestErasureLeavesNoText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	v := e.openViews(filepath.Join(dir, "views.db"), ProjectorConfig{})
	secret := "my card number is 4970 1234 5678 9012, expiry 03/29"
	id := e.inbound("victim", secret).TicketID
	e.exec(domain.Reply{TicketID: id, Body: "Please never send card numbers"})
	e.inbound("bystander", "an unrelated customer")
	e.sync(v)
	if files := filesHolding(t, dir, secret); len(files) == 0 {
		t.Fatal("the text is on no file before the block: this test could not see it stay")
	}
	if d := mustTicket(t, v, id, clockStart); len(d.Messages) != 2 || d.Messages[0].Body != secret {
		t.Fatalf("before the block: %+v", d.Messages)
	}

	e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "victim"}})
	e.sync(v)
	if files := filesHolding(t, dir, secret); len(files) > 0 {
		t.Fatalf("after the block the text is still in %v", files)
	}
	d := mustTicket(t, v, id, clockStart)
	if len(d.Messages) != 1 || d.Messages[0].Direction != "outbound" || d.MessageCount != 1 ||
		d.Preview != "Please never send card numbers" {
		t.Fatalf("after the block: %+v", d)
	}
	for _, h := range history(t, v, id) {
		if bytes.Contains(h.Data, []byte("4970")) {
			t.Fatalf("history holds the text: %s", h.Data)
		}
	}
	// A rebuild or a verify replays the log after the key is gone: neither
	// brings the text back.
	if err := v.Rebuild(testContext(t)); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, v)
	if files := filesHolding(t, dir, secret); len(files) > 0 {
		t.Fatalf("after a rebuild the text is in %v", files)
	}
}

// filesHolding lists the files under dir whose bytes contain text.
func filesHolding(t *testing.T, dir, text string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(text)) {
			found = append(found, filepath.Base(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
