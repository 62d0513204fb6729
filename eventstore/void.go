package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A single-replica stream stages each atomic batch in a store of its own
// and, at the commit, copies it into the stream and fsyncs once. Earlier
// versions kept that staging store in memory (tmpfs), where a power loss
// in the middle of a commit could leave the first part of a batch in the
// stream with nothing to complete it from: a batch whose commit never came.
// No writer was told it succeeded, but the stream refuses deletes, so its
// messages stay. The embedded server finds such a batch when it starts
// (only the tail can hold one, and nothing can append before the check)
// and appends a record of it right after, on voidSubject. Every reader of
// the log treats the positions named there, that record's own included,
// as void: not events, but still positions, so that an aggregate's
// expected sequence and a reader's position move past them.

// voidSubject holds the log's record of its void positions. Each record
// lists every void range so far, so the last one is all a reader needs.
const voidSubject = eventsSubjectPrefix + "_log.void"

// voidRecord is the body of a record on voidSubject.
type voidRecord struct {
	// Ranges are inclusive [first, last] positions, in order.
	Ranges [][2]uint64 `json:"ranges"`
	// Batch is the id of the uncommitted batch this record was written for.
	Batch string `json:"batch"`
}

// Void reports whether position seq holds no event: part of a batch that
// was never committed, or the log's record of one. Readers skip it but
// count it as read.
func (l *Log) Void(seq uint64) bool {
	r := l.void
	i := sort.Search(len(r), func(i int) bool { return r[i][1] >= seq })
	return i < len(r) && r[i][0] <= seq
}

// loadVoid reads the void ranges once, when the log opens: they are only
// ever written before any reader or writer starts.
func (l *Log) loadVoid(ctx context.Context) error {
	m, err := l.lastOnSubject(ctx, EventsStream, voidSubject)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("void positions: %w", err)
	}
	var rec voidRecord
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return fmt.Errorf("void positions: unreadable record at %d: %w", m.Seq, err)
	}
	l.void = rec.Ranges
	return nil
}

// markVoid sets e.Void from the log's void ranges.
func (l *Log) markVoid(e Entry) Entry {
	e.Void = l.Void(e.Seq)
	return e
}

// sealUncommittedBatch looks at the end of the event log for a batch whose
// commit never came and, if there is one, records its positions as void.
// It must run before anything else appends: the server has just started
// and restored every batch its staging store still held, so a batch still
// open at the end is one it could not restore. It returns the range found.
func sealUncommittedBatch(ctx context.Context, nc *nats.Conn) ([2]uint64, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return [2]uint64{}, err
	}
	stream, err := js.Stream(ctx, EventsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return [2]uint64{}, nil
	}
	if err != nil {
		return [2]uint64{}, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return [2]uint64{}, err
	}
	end := info.State.LastSeq
	if end == 0 {
		return [2]uint64{}, nil
	}
	// The last message still there: a deleted tail leaves LastSeq behind.
	last, err := stream.GetLastMsgForSubject(ctx, eventsSubjectPrefix+">")
	if err != nil {
		return [2]uint64{}, err
	}
	id := last.Header.Get(hdrBatchID)
	if id == "" || last.Header.Get(hdrBatchCommit) != "" || last.Subject == voidSubject {
		return [2]uint64{}, nil
	}
	n, err := strconv.ParseUint(last.Header.Get(hdrBatchSeq), 10, 64)
	if err != nil || n == 0 || n > last.Sequence {
		return [2]uint64{}, fmt.Errorf("uncommitted batch %s at %d: bad batch sequence %q", id, last.Sequence, last.Header.Get(hdrBatchSeq))
	}
	first := last.Sequence - n + 1
	var rec voidRecord
	if prev, err := stream.GetLastMsgForSubject(ctx, voidSubject); err == nil {
		if err := json.Unmarshal(prev.Data, &rec); err != nil {
			return [2]uint64{}, fmt.Errorf("void record at %d: %w", prev.Sequence, err)
		}
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return [2]uint64{}, err
	}
	// The record lands right after the end, and voids itself too.
	found := [2]uint64{first, end + 1}
	rec.Ranges = append(rec.Ranges, found)
	rec.Batch = id
	data, err := json.Marshal(rec)
	if err != nil {
		return [2]uint64{}, err
	}
	if _, err := js.Publish(ctx, voidSubject, data, jetstream.WithExpectLastSequence(end)); err != nil {
		return [2]uint64{}, fmt.Errorf("record uncommitted batch %s at %d..%d: %w", id, first, last.Sequence, err)
	}
	return found, nil
}
