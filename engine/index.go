package engine

// The engine's index: what the command side looks up by key across the
// whole history (the first result of every command id, the command that
// first carried each gateway message id, the profile of every ticket, the
// pending snoozes, the blocked profiles whose key is still to check), kept
// on disk in SQLite so that memory does not grow with history. Like the
// views it is a projection of the log: the engine's tail writes it in
// batches, each committed with the log position it reaches, so a restart
// resumes from there, and deleting the file only costs a replay.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"
	"github.com/ticketbus/ticketbus/domain"
)

// indexSchema is the index's tables. Version bumps rebuild the file.
const (
	indexVersion = 3
	indexSchema  = `
CREATE TABLE IF NOT EXISTS meta (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	version  INTEGER NOT NULL,
	position INTEGER NOT NULL,
	last_at  INTEGER NOT NULL,
	log_id   TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS commands (
	id            TEXT PRIMARY KEY,
	ticket_id     TEXT NOT NULL,
	profile_id    TEXT NOT NULL,
	outcome       TEXT NOT NULL,
	position      INTEGER NOT NULL,
	profile_level INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS external_ids (
	profile_id TEXT NOT NULL,
	message_id TEXT NOT NULL,
	command_id TEXT NOT NULL,
	PRIMARY KEY (profile_id, message_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tickets (
	id         TEXT PRIMARY KEY,
	profile_id TEXT NOT NULL,
	position   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snoozes (
	ticket_id  TEXT PRIMARY KEY,
	profile_id TEXT NOT NULL,
	until      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS snoozes_due ON snoozes (until);
CREATE TABLE IF NOT EXISTS blocked_keys (
	profile_id TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS profiles (
	id       TEXT PRIMARY KEY,
	position INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
	profile_id TEXT PRIMARY KEY,
	seq        INTEGER NOT NULL,
	state      BLOB NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	token_hash TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replies (
	id        TEXT PRIMARY KEY,
	ticket_id TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhooks (
	id     TEXT PRIMARY KEY,
	record BLOB NOT NULL
) STRICT, WITHOUT ROWID;
`
)

// index is the engine's SQLite file: one writer connection, used by the
// tail only, and a pool of readers.
type index struct {
	w, r *sql.DB
	path string
	// Statements prepared once: preparing each time took as long as
	// running them (a CPU profile under a first-contact storm).
	rd indexReads
	wr indexWrites
}

// indexReads are the lookups, on the read pool.
type indexReads struct {
	result, external, ticket, profile, snapshot, reply *sql.Stmt
}

// openIndex opens (creating if needed) the index at path for the log
// identified by logID. A file of another version, or of another log (a
// store replaced, restored or started anew), is emptied: it is rebuilt
// from the log.
func openIndex(path, logID string) (*index, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath()
	common := "_busy_timeout=5000"
	w, err := sql.Open("sqlite3", dsn+"?_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate&_cache_size=-32768&"+common)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	// One writer: SQLite takes one at a time, and a connection that stays
	// keeps its prepared statements and its page cache.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	ix := &index{w: w, path: path}
	if err := ix.init(context.Background(), logID); err != nil {
		w.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if ix.r, err = sql.Open("sqlite3", dsn+"?mode=ro&_query_only=on&"+common); err != nil {
		w.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if err := ix.prepare(context.Background()); err != nil {
		ix.close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	return ix, nil
}

func (ix *index) prepare(ctx context.Context) error {
	var err error
	prep := func(db *sql.DB, dst **sql.Stmt, q string) {
		if err == nil {
			*dst, err = db.PrepareContext(ctx, q)
		}
	}
	prep(ix.r, &ix.rd.result, `SELECT ticket_id, profile_id, outcome, position, profile_level FROM commands WHERE id = ?`)
	prep(ix.r, &ix.rd.external, `SELECT command_id FROM external_ids WHERE profile_id = ? AND message_id = ?`)
	prep(ix.r, &ix.rd.ticket, `SELECT profile_id, position FROM tickets WHERE id = ?`)
	prep(ix.r, &ix.rd.profile, `SELECT position FROM profiles WHERE id = ?`)
	prep(ix.r, &ix.rd.snapshot, `SELECT seq, state FROM snapshots WHERE profile_id = ?`)
	prep(ix.r, &ix.rd.reply, `SELECT ticket_id FROM replies WHERE id = ?`)
	if err != nil {
		return err
	}
	return ix.prepareWrites(ctx)
}

func (ix *index) init(ctx context.Context, logID string) error {
	var version int
	var id string
	err := ix.w.QueryRowContext(ctx, `SELECT version, log_id FROM meta WHERE id = 1`).Scan(&version, &id)
	if err == nil && (version != indexVersion || id != logID) || err != nil && !errors.Is(err, sql.ErrNoRows) {
		if err := ix.drop(ctx); err != nil {
			return err
		}
	}
	return ix.create(ctx, logID)
}

// drop removes every table of the index.
func (ix *index) drop(ctx context.Context) error {
	for _, t := range []string{"meta", "commands", "external_ids", "tickets", "snoozes", "blocked_keys", "profiles", "snapshots", "users", "replies", "webhooks"} {
		if _, err := ix.w.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return err
		}
	}
	return nil
}

// create makes the index's tables where they are missing, at position 0.
func (ix *index) create(ctx context.Context, logID string) error {
	if _, err := ix.w.ExecContext(ctx, indexSchema); err != nil {
		return err
	}
	_, err := ix.w.ExecContext(ctx, `INSERT INTO meta (id, version, position, last_at, log_id) VALUES (1, ?, 0, 0, ?) ON CONFLICT DO NOTHING`, indexVersion, logID)
	return err
}

// reset empties the index, to be built again from the start of the log.
func (ix *index) reset(ctx context.Context, logID string) error {
	if err := ix.drop(ctx); err != nil {
		return err
	}
	return ix.create(ctx, logID)
}

func (ix *index) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{ix.rd.result, ix.rd.external, ix.rd.ticket, ix.rd.profile, ix.rd.snapshot, ix.rd.reply} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, ix.wr.close(), ix.r.Close(), ix.w.Close())
	return errors.Join(errs...)
}

// position returns the log position the index has applied, and the
// latest event time it has seen.
func (ix *index) position(ctx context.Context) (uint64, time.Time, error) {
	var pos, at int64
	if err := ix.r.QueryRowContext(ctx, `SELECT position, last_at FROM meta WHERE id = 1`).Scan(&pos, &at); err != nil {
		return 0, time.Time{}, fmt.Errorf("index position: %w", err)
	}
	var last time.Time
	if at != 0 {
		last = time.Unix(0, at).UTC()
	}
	return uint64(pos), last, nil
}

// result returns a command's first result.
func (ix *index) result(ctx context.Context, cmdID string) (Result, bool, error) {
	var r Result
	var level int
	err := ix.rd.result.QueryRowContext(ctx, cmdID).Scan(&r.TicketID, &r.ProfileID, &r.Outcome, &r.Position, &level)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("index: command %s: %w", cmdID, err)
	}
	r.profileLevel = level != 0
	return r, true, nil
}

// externalCommand returns the command that first carried a gateway's
// message id for a profile.
func (ix *index) externalCommand(ctx context.Context, profileID, messageID string) (string, bool, error) {
	var id string
	err := ix.rd.external.QueryRowContext(ctx, profileID, messageID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("index: message %s: %w", messageID, err)
	}
	return id, true, nil
}

// ticket returns a ticket's profile and the position of its last event.
func (ix *index) ticket(ctx context.Context, ticketID string) (ticketRef, bool, error) {
	var t ticketRef
	err := ix.rd.ticket.QueryRowContext(ctx, ticketID).Scan(&t.profileID, &t.seq)
	if errors.Is(err, sql.ErrNoRows) {
		return ticketRef{}, false, nil
	}
	if err != nil {
		return ticketRef{}, false, fmt.Errorf("index: ticket %s: %w", ticketID, err)
	}
	return t, true, nil
}

// profilePosition returns the position of the profile's last event the
// index has seen; false when it has seen none.
func (ix *index) profilePosition(ctx context.Context, profileID string) (uint64, bool, error) {
	var pos int64
	err := ix.rd.profile.QueryRowContext(ctx, profileID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("index: profile %s: %w", profileID, err)
	}
	return uint64(pos), true, nil
}

// dueSnoozes returns the snoozes due at or before now, oldest first.
func (ix *index) dueSnoozes(ctx context.Context, now int64, limit int) ([]dueSnooze, error) {
	rows, err := ix.r.QueryContext(ctx, `SELECT ticket_id, profile_id, until FROM snoozes WHERE until <= ? ORDER BY until LIMIT ?`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("index: due snoozes: %w", err)
	}
	defer rows.Close()
	var out []dueSnooze
	for rows.Next() {
		var d dueSnooze
		if err := rows.Scan(&d.ticketID, &d.profileID, &d.until); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// blockedKeys returns the blocked profiles whose key is still to check.
func (ix *index) blockedKeys(ctx context.Context, limit int) ([]string, error) {
	rows, err := ix.r.QueryContext(ctx, `SELECT profile_id FROM blocked_keys LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("index: blocked keys: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// keyChecked removes a profile from blocked_keys once its key is known
// destroyed (or the profile unblocked).
func (ix *index) keyChecked(ctx context.Context, profileID string) error {
	_, err := ix.w.ExecContext(ctx, `DELETE FROM blocked_keys WHERE profile_id = ?`, profileID)
	return err
}

// ticketRef is a ticket's profile and last event position.
type ticketRef struct {
	profileID string
	seq       uint64
}

// dueSnooze is a snooze that has fallen due.
type dueSnooze struct {
	ticketID, profileID string
	until               int64
}

// replyTicket returns the ticket of a reply; false when the index has
// not seen it.
func (ix *index) replyTicket(ctx context.Context, replyID string) (string, bool, error) {
	var t string
	err := ix.rd.reply.QueryRowContext(ctx, replyID).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("index: reply %s: %w", replyID, err)
	}
	return t, true, nil
}

// loadWebhooks reads every active webhook.
func (ix *index) loadWebhooks(ctx context.Context, into map[string]webhookRecord) error {
	rows, err := ix.r.QueryContext(ctx, `SELECT record FROM webhooks`)
	if err != nil {
		return fmt.Errorf("index: webhooks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var w webhookRecord
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := json.Unmarshal(b, &w); err != nil {
			return fmt.Errorf("index: webhook: %w", err)
		}
		into[w.Webhook.ID] = w
	}
	return rows.Err()
}

// loadUsers reads every user into users and tokens (by token hash).
func (ix *index) loadUsers(ctx context.Context, users map[string]domain.User, tokens map[string]string) error {
	rows, err := ix.r.QueryContext(ctx, `SELECT id, name, role, token_hash FROM users`)
	if err != nil {
		return fmt.Errorf("index: users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u domain.User
		var role string
		if err := rows.Scan(&u.ID, &u.Name, &role, &u.TokenHash); err != nil {
			return err
		}
		u.Role = domain.Role(role)
		users[u.ID] = u
		tokens[u.TokenHash] = u.ID
	}
	return rows.Err()
}
