// Package projections builds Ticketbus's read side: SQLite views of the
// event log (inbox lists, counts, ticket threads, audit history, profiles,
// users) kept current by a Projector, and served by Views, which can also
// rebuild them from the log and verify them against it.
//
// The views are a pure function of the log: nothing here reads a clock.
// Queries whose answer depends on the time (a snooze past its until reads
// as open, R4) take the caller's clock reading as an argument.
package projections

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// ErrClosed reports a use of views or a projector after Close.
var ErrClosed = errors.New("projections: closed")

// ErrSchema reports a views file this version cannot use: written by a
// newer version, or with migrations it does not know.
var ErrSchema = errors.New("projections: unsupported schema")

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeoutMS bounds how long a connection waits for a lock: the
// writer's checkpoint waiting for readers, or a second process opening the
// file.
const busyTimeoutMS = 5000

// DB is one SQLite file of views: a single writer connection, which only
// the projector uses, and a pool of read-only connections for queries. In
// WAL mode readers never wait for the writer nor the writer for them.
type DB struct {
	path string
	w    *sql.DB
	r    *sql.DB

	// pos is the position stored in projector_position, as of the last
	// commit; only the projector holding the DB changes it.
	pos atomic.Uint64
	// stmts are the projector's statements, prepared once on the writer.
	stmts *statements

	mu      sync.Mutex
	idle    *sync.Cond // signalled when readers drops to 0
	readers int
	closing bool
	closed  chan struct{}
	errs    error
}

// Open opens (creating if needed) the views file at path and brings its
// schema up to date. A symbolic link is followed first, so that every
// process names the file, and therefore its -wal and -shm files, the same
// way (Views.Rebuild swaps files behind such a link).
func Open(path string) (*DB, error) {
	real, err := resolve(path)
	if err != nil {
		return nil, fmt.Errorf("open views %s: %w", path, err)
	}
	db := &DB{path: real, closed: make(chan struct{})}
	db.idle = sync.NewCond(&db.mu)
	// Pragmas that hold per connection go in the DSN, so that every
	// connection the pools ever open gets them.
	common := "_secure_delete=on&_foreign_keys=on&_busy_timeout=" + strconv.Itoa(busyTimeoutMS)
	db.w, err = sql.Open("sqlite3", fileURI(real)+"?_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate&"+common)
	if err != nil {
		return nil, fmt.Errorf("open views %s: %w", real, err)
	}
	// One writer: SQLite allows one at a time anyway, and a single
	// connection keeps the prepared statements alive between batches.
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if err := migrate(ctx, db.w); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open views %s: %w", real, err)
	}
	if db.stmts, err = prepare(ctx, db.w); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open views %s: %w", real, err)
	}
	// The readers are opened after the writer has created the file and
	// switched it to WAL, which a read-only connection cannot do.
	db.r, err = sql.Open("sqlite3", fileURI(real)+"?mode=ro&_query_only=on&"+common)
	if err != nil {
		db.stmts.close()
		db.w.Close()
		return nil, fmt.Errorf("open views %s: %w", real, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	var pos uint64
	if err := db.r.QueryRowContext(ctx, `SELECT position FROM projector_position WHERE id = 1`).Scan(&pos); err != nil {
		db.closeNow()
		return nil, fmt.Errorf("open views %s: read position: %w", real, err)
	}
	db.pos.Store(pos)
	return db, nil
}

// Path returns the file the views live in (after following links).
func (db *DB) Path() string { return db.path }

// Position returns the last log position applied to the file, as stored
// in it.
func (db *DB) Position(ctx context.Context) (uint64, error) {
	if !db.acquire() {
		return 0, ErrClosed
	}
	defer db.release()
	var pos uint64
	if err := db.r.QueryRowContext(ctx, `SELECT position FROM projector_position WHERE id = 1`).Scan(&pos); err != nil {
		return 0, fmt.Errorf("views position: %w", err)
	}
	return pos, nil
}

// Close waits for the queries in progress, then closes the file. The last
// connection to close checkpoints the WAL into the file and removes it.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closing {
		db.mu.Unlock()
		<-db.closed
		return db.errs
	}
	db.closing = true
	for db.readers > 0 {
		db.idle.Wait()
	}
	db.mu.Unlock()
	db.closeNow()
	return db.errs
}

func (db *DB) closeNow() {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.stmts != nil {
		db.stmts.close()
	}
	// Truncate the WAL before letting go, in case a checkpoint after an
	// erasure could not finish (docs/erasure.md).
	_, _ = db.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	errs = append(errs, db.w.Close())
	db.errs = errors.Join(errs...)
	close(db.closed)
}

// acquire registers a query on the DB; false once it is closing, so that a
// reader holding an old pointer after a swap takes the new one instead.
func (db *DB) acquire() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closing {
		return false
	}
	db.readers++
	return true
}

func (db *DB) release() {
	db.mu.Lock()
	db.readers--
	if db.readers == 0 {
		db.idle.Broadcast()
	}
	db.mu.Unlock()
}

// checkpoint copies the WAL into the file and truncates it, so that no old
// page image (an erased message's text) stays in the -wal file. It reports
// false when readers kept it from finishing; the caller tries again later.
func (db *DB) checkpoint(ctx context.Context) (bool, error) {
	var busy, logFrames, done int
	err := db.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
	if err != nil {
		return false, fmt.Errorf("checkpoint %s: %w", db.path, err)
	}
	return busy == 0, nil
}

// migrate applies, in one transaction, every embedded migration above the
// file's user_version. Files are named NNNN_what.sql, numbered from 1
// without gaps; user_version holds the last one applied.
func migrate(ctx context.Context, w *sql.DB) error {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if have > len(entries) {
		return fmt.Errorf("%w: file is at version %d, this build knows %d", ErrSchema, have, len(entries))
	}
	for i, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if n, err := strconv.Atoi(num); err != nil || n != i+1 {
			return fmt.Errorf("%w: migration %s out of sequence", ErrSchema, e.Name())
		}
		if i+1 <= have {
			continue
		}
		script, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			return fmt.Errorf("migration %s: %w", e.Name(), err)
		}
	}
	// PRAGMA takes no parameters; the number is ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(entries))); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// fileURI turns a path into an SQLite URI filename, escaping the
// characters a URI gives a meaning to.
func fileURI(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(path))
}

// resolve follows symbolic links in path; a path that does not exist yet
// is returned as it is.
func resolve(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			// A link to a file that is gone: create the file it names.
			target, err := os.Readlink(path)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(path), target)
			}
			return target, nil
		}
		return path, nil
	}
	return real, err
}
