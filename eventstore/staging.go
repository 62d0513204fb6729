package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// nats-server stages every atomic batch of a single-replica file stream in
// a file store of its own, created and removed for each batch, so that it
// can finish a commit cut short by a crash. On an ext4 disk that costs
// several journal commits per batch, 5-20 ms whatever the batch holds,
// and the stream does nothing else meanwhile. On tmpfs it costs well
// under a millisecond. What tmpfs gives up is only the repair of a commit
// cut short by a power loss (a process crash keeps tmpfs): such a batch is
// never acknowledged, and void.go makes every reader skip it.

// stagingLink is where nats-server 2.15 stages the event stream's batches,
// relative to the store directory. It removes this path each time it
// loads the stream, so the link is made again after every start.
var stagingLink = filepath.Join("jetstream", "$G", "streams", EventsStream, "batches")

// MemoryStagingDir returns a staging directory on tmpfs for the store in
// storeDir, or "" when the machine has no /dev/shm on tmpfs: staging then
// stays on disk beside the stream.
func MemoryStagingDir(storeDir string) string {
	if !isTmpfs("/dev/shm") {
		return ""
	}
	abs, err := filepath.Abs(storeDir)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(strconv.Itoa(os.Getuid()) + ":" + abs))
	return filepath.Join("/dev/shm", "ticketbus-staging-"+hex.EncodeToString(sum[:8]))
}

// ErrStagingRefused says batch staging could not be moved to StagingDir;
// it stays on disk beside the stream, which is always safe, only slower.
var ErrStagingRefused = errors.New("eventstore: batch staging stays on disk")

// afterStart runs once the server accepts clients and before any of
// Ticketbus's own do: it voids an uncommitted batch left at the end of the
// log, then points batch staging at StagingDir.
func (s *Server) afterStart() error {
	nc, err := s.EngineConnect("ticketbus-start")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	found, err := sealUncommittedBatch(ctx, nc)
	if err != nil {
		return fmt.Errorf("check for an uncommitted batch: %w", err)
	}
	if found[0] != 0 {
		s.void = found
	}
	// A refusal is reported again by the caller's own StageBatches call,
	// which knows how to log it; staging on disk is no reason not to start.
	if err := s.StageBatches(); err != nil && !errors.Is(err, ErrStagingRefused) {
		return err
	}
	return nil
}

// StageBatches points the event stream's batch staging at StagingDir. The
// stream must exist for that, so it is called again once the log has
// created it; it does nothing when there is no StagingDir, no stream yet,
// or the link is in place. A staging directory the server made meanwhile
// is replaced only while empty, when no batch is in flight; otherwise
// staging stays on disk, which is always safe, and the next call retries.
func (s *Server) StageBatches() error {
	dir := s.cfg.StagingDir
	if dir == "" {
		return nil
	}
	link := filepath.Join(s.cfg.StoreDir, stagingLink)
	if _, err := os.Stat(filepath.Dir(link)); err != nil {
		return nil
	}
	if target, err := os.Readlink(link); err == nil && target == dir {
		return nil
	}
	// What the directory holds is left from before this start: the server
	// has already restored from it whatever it could. It is made anew, and
	// must then be this process's own: /dev/shm is shared by every user of
	// the machine, and a directory someone else made would let them read
	// or forge batches.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStagingRefused, dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrStagingRefused, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrStagingRefused, err)
	}
	if !ownPrivateDir(dir) {
		return fmt.Errorf("%w: %s is not a directory of this user's, private to it", ErrStagingRefused, dir)
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil // a batch is staged there right now
	}
	if err := os.Symlink(dir, link); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("staging: %w", err)
	}
	return nil
}

// StagesInMemory reports whether batches are staged in StagingDir rather
// than on the store's disk.
func (s *Server) StagesInMemory() bool { return s.cfg.StagingDir != "" }

// UncommittedBatch returns the positions of the uncommitted batch this
// start of the server found and voided, [0 0] if none.
func (s *Server) UncommittedBatch() [2]uint64 { return s.void }
