package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// ErrClosed reports a use of views or a projector after Close.
var ErrClosed = errors.New("projections: closed")

// ErrSchema reports a views file this version cannot use: written by a
// newer version, or with migrations it does not know.
var ErrSchema = errors.New("projections: unsupported schema")

// driverName is go-sqlite3 with automatic checkpoints turned off: the
// writer would run them inside its commits, fsyncs included, and a catch-up
// spent much of its time there. A goroutine of the DB runs them instead,
// on a connection of its own, beside the writer. The WAL file is cut back
// to journalSizeLimit whenever it starts over, so that a long catch-up
// does not leave a large one behind.
const driverName = "sqlite3_ticketbus_views"

const journalSizeLimit = 64 << 20

// mmapSize maps up to this much of the file into memory (the build's
// ceiling is just under 2 GiB): a read then costs no system call nor copy,
// which halved the time of a search, one seek per bucket of the index.
// Writes still go through the file, so secure_delete and the WAL work as
// before; the views never shrink the file under a reader (no auto_vacuum,
// no VACUUM), the case in which memory-mapped reads fail.
const mmapSize = 2_000_000_000

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(`PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = `+strconv.Itoa(journalSizeLimit)+
			`; PRAGMA mmap_size = `+strconv.Itoa(mmapSize), nil)
		return err
	}})
}

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

	// bulk holds checkpoints off while a catch-up far behind the log runs:
	// copying the same hot pages into the file after every large batch
	// took CPU from the catch-up, which ends with one checkpoint instead.
	bulk atomic.Int32
	// c is the checkpointer's connection; kick wakes it after a commit.
	c        *sql.DB
	kick     chan struct{}
	stopCkpt chan struct{}
	ckptDone chan struct{}

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
	db := &DB{path: real, closed: make(chan struct{}), kick: make(chan struct{}, 1),
		stopCkpt: make(chan struct{}), ckptDone: make(chan struct{})}
	db.idle = sync.NewCond(&db.mu)
	// Pragmas that hold per connection go in the DSN, so that every
	// connection the pools ever open gets them. synchronous=NORMAL may
	// lose the last batches on a power cut, never on a crash: the position
	// goes back with them and they are applied again. The writer's 64 MiB
	// page cache keeps what a batch touches in memory.
	common := "_secure_delete=on&_foreign_keys=on&_busy_timeout=" + strconv.Itoa(busyTimeoutMS)
	db.w, err = sql.Open(driverName, fileURI(real)+
		"?_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate&_cache_size=-65536&"+common)
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
	db.r, err = sql.Open(driverName, fileURI(real)+"?mode=ro&_query_only=on&_cache_size=-65536&"+common)
	if err != nil {
		db.stmts.close()
		db.w.Close()
		return nil, fmt.Errorf("open views %s: %w", real, err)
	}
	db.c, err = sql.Open(driverName, fileURI(real)+"?"+common)
	if err != nil {
		db.r.Close()
		db.stmts.close()
		db.w.Close()
		return nil, fmt.Errorf("open views %s: %w", real, err)
	}
	db.c.SetMaxOpenConns(1)
	go db.checkpointer()
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
	if db.c != nil {
		close(db.stopCkpt)
		<-db.ckptDone
		errs = append(errs, db.c.Close())
	}
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

// committed tells the checkpointer there is something new in the WAL.
func (db *DB) committed() {
	select {
	case db.kick <- struct{}{}:
	default:
	}
}

// startBulk holds checkpoints off until the returned func is called.
func (db *DB) startBulk() (end func()) {
	db.bulk.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			db.bulk.Add(-1)
			db.committed()
		})
	}
}

// checkpointer copies committed pages from the WAL into the file while the
// writer goes on (a PASSIVE checkpoint never waits for it), so that the
// WAL stays small and the writer never pays for the copy and its fsyncs.
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-db.kick:
		}
		if db.bulk.Load() > 0 {
			continue
		}
		// A failure leaves the pages in the WAL, where readers find them;
		// the next commit tries again.
		_, _ = db.c.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// truncateWAL copies the WAL into the file and truncates it, so that no old
// page image (an erased message's text) stays in the -wal file. It reports
// false when readers or another checkpoint kept it from finishing; the
// caller tries again later.
func (db *DB) truncateWAL(ctx context.Context) (bool, error) {
	var busy, logFrames, done int
	err := db.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
	if err != nil {
		return false, fmt.Errorf("checkpoint %s: %w", db.path, err)
	}
	return busy == 0, nil
}
