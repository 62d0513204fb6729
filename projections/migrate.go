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
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrations embed.FS

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
		if step := migrationSteps[i+1]; step != nil {
			if err := step(ctx, tx); err != nil {
				return fmt.Errorf("migration %s: %w", e.Name(), err)
			}
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

// migrationSteps are what a migration does that SQL cannot, run after its
// script in the same transaction: the search index of the rows a file
// already holds is made by the tokenizer that keeps it. Migration 3's
// rows are dropped by migration 4, which makes them in their final shape.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	4: indexExisting,
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
