package eventstore

import (
	"context"
	"fmt"
)

// nats-server stages every atomic batch of a file stream in a store of its
// own, beside the stream, so that it can finish a commit cut short by a
// crash. Where that store lives is the server's private business: the
// engine leaves it where the server puts it (docs/performance.md says what
// it costs).

// afterStart runs once the server accepts clients and before any of
// Ticketbus's own do: it voids an uncommitted batch left at the end of the
// log (void.go), which a store written by an older version, whose staging
// could be lost to a power cut, may hold.
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
	return nil
}

// UncommittedBatch returns the positions of the uncommitted batch this
// start of the server found and voided, [0 0] if none.
func (s *Server) UncommittedBatch() [2]uint64 { return s.void }
