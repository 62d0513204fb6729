package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ticketbus/ticketbus/eventstore"
)

// File layout. The views live at the path the caller names until the first
// Rebuild; from then on that path is a symbolic link to the current
// generation, "<path>.gen-<n>", in the same directory. A rebuild writes the
// next generation beside the live one and swaps the link with a rename, so
// at every instant the path names one complete, consistent file, and a
// restart opens whichever generation was live. SQLite names the -wal and
// -shm files after the file it opens, and Open follows the link first, so
// no generation ever shares them with another.
const (
	genSuffix    = ".gen-"
	verifySuffix = ".verify"
	linkSuffix   = ".link"
)

// Views is what queries hold: the live DB, reached through the projector's
// atomic pointer for each query, and the projector that keeps it current.
// Rebuild and Verify run one at a time beside the live projector.
type Views struct {
	path string
	log  *eventstore.Log
	cfg  ProjectorConfig
	proj *Projector
	// maint serializes Rebuild and Verify.
	maint sync.Mutex
}

// OpenViews opens the views at path (creating them if needed) with a
// projector on log. Call Run to keep them current.
func OpenViews(ctx context.Context, path string, log *eventstore.Log, cfg ProjectorConfig) (*Views, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open views: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	v := &Views{path: path, log: log, cfg: cfg, proj: NewProjector(db, log, cfg)}
	v.removeLeftovers(db.path)
	return v, nil
}

// Run keeps the views current until ctx ends (then it returns nil) or
// Close is called (ErrClosed).
func (v *Views) Run(ctx context.Context) error { return v.proj.Run(ctx) }

// Close stops the projector, waits for the queries in progress and closes
// the file. Rebuild and Verify in progress are abandoned.
func (v *Views) Close() error {
	v.proj.close()
	return v.proj.DB().Close()
}

// Position returns the last log position the views have applied.
func (v *Views) Position() uint64 { return v.proj.Position() }

// WaitPosition blocks until the views have applied position pos or ctx
// ends (read-your-writes: a query's min_position).
func (v *Views) WaitPosition(ctx context.Context, pos uint64) error {
	return v.proj.WaitPosition(ctx, pos)
}

// Projector returns the projector that keeps the views current.
func (v *Views) Projector() *Projector { return v.proj }

// read runs fn on the live DB, which cannot be closed under it: a reader
// that took the pointer just before a Rebuild swapped it either registers
// in time (and the old file waits for it) or takes the new one.
func (v *Views) read(ctx context.Context, fn func(*DB) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		db := v.proj.DB()
		if db.acquire() {
			defer db.release()
			return fn(db)
		}
		if v.proj.DB() == db {
			return ErrClosed
		}
	}
}

// readTx runs fn in one read transaction, so that a query of several
// statements sees one position of the log.
func (v *Views) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return v.read(ctx, func(db *DB) error {
		tx, err := db.r.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		return fn(tx)
	})
}

// opContext returns a context for Rebuild and Verify that Close cancels.
func (v *Views) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-v.proj.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Rebuild replays the whole log into a fresh file beside the live one,
// brings it to the live position while the projector is paused, and swaps
// it in: queries go on throughout, each on the file that was live when it
// started, and the projector continues on the new file. The old file is
// removed once its last query ends.
func (v *Views) Rebuild(ctx context.Context) error {
	v.maint.Lock()
	defer v.maint.Unlock()
	ctx, cancel := v.opContext(ctx)
	defer cancel()
	next := v.nextGeneration(v.proj.DB().path)
	if err := removeDBFiles(next); err != nil {
		return fmt.Errorf("rebuild views: %w", err)
	}
	ndb, err := Open(next)
	if err != nil {
		return fmt.Errorf("rebuild views: %w", err)
	}
	abandon := func(err error) error {
		ndb.Close()
		removeDBFiles(next)
		return fmt.Errorf("rebuild views: %w", err)
	}
	np := NewProjector(ndb, v.log, ProjectorConfig{BatchSize: v.cfg.BatchSize, Logger: v.cfg.Logger})
	// The long replay runs while the live projector goes on; only the
	// last stretch, up to where it stands now, runs with it paused.
	if err := np.CatchUp(ctx, v.proj.Position()); err != nil {
		return abandon(err)
	}
	resume := v.proj.Pause()
	if v.proj.closed {
		resume()
		return abandon(ErrClosed)
	}
	if err := np.CatchUp(ctx, v.proj.Position()); err != nil {
		resume()
		return abandon(err)
	}
	// The link moves first: if that fails nothing has changed, and once it
	// has, a restart opens the new file whatever happens next.
	if err := relink(v.path, next); err != nil {
		resume()
		return abandon(err)
	}
	old := v.proj.DB()
	v.proj.setDBLocked(ndb)
	resume()
	if err := old.Close(); err != nil {
		v.cfg.Logger.Warn("closing the replaced views file", "path", old.path, "err", err)
	}
	if err := v.removeReplaced(old.path); err != nil {
		v.cfg.Logger.Warn("removing the replaced views file", "path", old.path, "err", err)
	}
	return nil
}

// nextGeneration names the file after cur.
func (v *Views) nextGeneration(cur string) string {
	n := 0
	if i := strings.LastIndex(cur, genSuffix); i >= 0 {
		n, _ = strconv.Atoi(cur[i+len(genSuffix):])
	}
	return v.path + genSuffix + strconv.Itoa(n+1)
}

// removeReplaced deletes a file Rebuild replaced. The first generation
// was the path itself, now the link: only its -wal and -shm files remain,
// the file's own name went with the rename.
func (v *Views) removeReplaced(old string) error {
	if filepath.Clean(old) == filepath.Clean(v.path) {
		return errors.Join(removeIfExists(old+"-wal"), removeIfExists(old+"-shm"))
	}
	return removeDBFiles(old)
}

// removeLeftovers deletes what an interrupted Rebuild or Verify left
// beside the views: any generation but the live one, any verify file.
func (v *Views) removeLeftovers(live string) {
	dir, base := filepath.Split(v.path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	liveBase := filepath.Base(live)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base+genSuffix) && !strings.HasPrefix(name, base+verifySuffix) &&
			name != base+linkSuffix {
			continue
		}
		if name == liveBase || name == liveBase+"-wal" || name == liveBase+"-shm" {
			continue
		}
		if err := removeIfExists(filepath.Join(dir, name)); err != nil {
			v.cfg.Logger.Warn("removing a leftover views file", "file", name, "err", err)
		}
	}
}

// relink points the link at target (in the same directory) atomically.
func relink(link, target string) error {
	tmp := link + linkSuffix
	if err := removeIfExists(tmp); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Base(target), tmp); err != nil {
		return fmt.Errorf("link views: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link views: %w", err)
	}
	// The rename is durable once the directory is.
	d, err := os.Open(filepath.Dir(link))
	if err != nil {
		return fmt.Errorf("link views: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("link views: sync directory: %w", err)
	}
	return nil
}

// removeDBFiles deletes an SQLite file with its journals.
func removeDBFiles(path string) error {
	return errors.Join(removeIfExists(path), removeIfExists(path+"-wal"),
		removeIfExists(path+"-shm"), removeIfExists(path+"-journal"))
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
