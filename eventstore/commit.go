package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Record is one message to append.
type Record struct {
	Subject          string
	Data             []byte
	Header           nats.Header // extra headers (may be nil)
	ExpectSubjectSeq *uint64     // if non-nil: Nats-Expected-Last-Subject-Sequence for this message's subject (0 = no message on the subject yet)
}

// ErrConflict reports that an optimistic check failed: the subject moved on
// since the caller read it. Nothing of the call was written.
var ErrConflict = errors.New("eventstore: expected sequence does not match")

// ErrUnavailable reports that the log could not be written. The write did
// NOT happen, so the caller may retry it as it is.
var ErrUnavailable = errors.New("eventstore: log unavailable")

// ErrUnknownOutcome reports a timeout or disconnect after the commit was
// sent: the records may or may not be in the log. A caller must read the log
// before deciding to retry.
var ErrUnknownOutcome = errors.New("eventstore: outcome unknown")

// ErrInvalid reports records the log refuses before sending anything.
var ErrInvalid = errors.New("eventstore: invalid records")

const hdrExpectedLastSubjSeq = "Nats-Expected-Last-Subject-Sequence"

// call is one Append waiting for, or going through, a commit.
type call struct {
	n        int
	msgs     []*nats.Msg
	subjects []string // distinct, in first-use order

	// Guarded by Log.mu.
	taken bool

	// Written by the one goroutine that settles the call, read after done.
	seqs []uint64
	err  error
	done chan struct{}
}

func (c *call) finish(seqs []uint64, err error) {
	c.seqs, c.err = seqs, err
	close(c.done)
}

// Append writes recs atomically (all or none) and returns the stream
// sequence of each record, in order. Concurrent calls are grouped into
// shared atomic batches so that they share one fsync; two calls touching
// the same subject are never in flight together, and keep their order.
func (l *Log) Append(ctx context.Context, recs []Record) ([]uint64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	c, err := l.newCall(recs)
	if err != nil {
		return nil, fmt.Errorf("append %d records: %w", len(recs), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append %d records: %w", len(recs), err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("append %d records: %w: log closed", len(recs), ErrUnavailable)
	}
	l.queue = append(l.queue, c)
	l.cond.Signal()
	l.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		l.mu.Lock()
		if !c.taken {
			l.removeQueuedLocked(c)
			l.mu.Unlock()
			return nil, fmt.Errorf("append %d records: %w", len(recs), ctx.Err())
		}
		l.mu.Unlock()
		// Already sent or being sent: only the commit's answer tells what
		// happened, and it is bounded by PublishTimeout.
		<-c.done
	}
	if c.err != nil {
		return nil, fmt.Errorf("append %d records: %w", len(recs), c.err)
	}
	return c.seqs, nil
}

func (l *Log) newCall(recs []Record) (*call, error) {
	if len(recs) > l.cfg.MaxBatch {
		return nil, fmt.Errorf("%w: %d records exceed MaxBatch %d", ErrInvalid, len(recs), l.cfg.MaxBatch)
	}
	c := &call{n: len(recs), msgs: make([]*nats.Msg, len(recs)), done: make(chan struct{})}
	seen := make(map[string]struct{}, 2)
	for i, r := range recs {
		if !validEventSubject(r.Subject) {
			return nil, fmt.Errorf("%w: record %d: subject %q not under %s", ErrInvalid, i, r.Subject, eventsSubjectPrefix)
		}
		if int64(len(r.Data)) > l.nc.MaxPayload() {
			// Refused here rather than halfway through a batch, which would
			// leave the server holding the staged part until it times out.
			return nil, fmt.Errorf("%w: record %d: %d bytes exceed the server's max payload", ErrInvalid, i, len(r.Data))
		}
		_, again := seen[r.Subject]
		if r.ExpectSubjectSeq != nil && again {
			// The server checks a subject only before the batch first
			// writes it; a later check would always fail.
			return nil, fmt.Errorf("%w: record %d: expected sequence on a subject already written by record before it", ErrInvalid, i)
		}
		if !again {
			seen[r.Subject] = struct{}{}
			c.subjects = append(c.subjects, r.Subject)
		}
		h := make(nats.Header, len(r.Header)+4)
		for k, v := range r.Header {
			h[k] = v
		}
		if r.ExpectSubjectSeq != nil {
			h.Set(hdrExpectedLastSubjSeq, strconv.FormatUint(*r.ExpectSubjectSeq, 10))
		}
		c.msgs[i] = &nats.Msg{Subject: r.Subject, Data: r.Data, Header: h}
	}
	return c, nil
}

func validEventSubject(s string) bool {
	if len(s) <= len(eventsSubjectPrefix) || !strings.HasPrefix(s, eventsSubjectPrefix) {
		return false
	}
	if strings.ContainsAny(s, "*> \t\r\n") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	return true
}

func (l *Log) removeQueuedLocked(c *call) {
	for i, q := range l.queue {
		if q == c {
			copy(l.queue[i:], l.queue[i+1:])
			l.queue[len(l.queue)-1] = nil
			l.queue = l.queue[:len(l.queue)-1]
			return
		}
	}
}

// takeBatch blocks until it can hand a worker a non-empty batch, or returns
// nil once the log is closed.
func (l *Log) takeBatch() []*call {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.closed {
			return nil
		}
		if b := l.pickLocked(); len(b) > 0 {
			return b
		}
		l.cond.Wait()
	}
}

// pickLocked takes from the queue, oldest first, the calls that fit in one
// batch. A call is held back if one of its subjects is in flight, already
// in this batch, or belongs to an older call held back: the per-subject
// check only works on a subject's first message in a batch, and calls on
// one subject must reach the log in the order they were made.
func (l *Log) pickLocked() []*call {
	var (
		batch   []*call
		n       int
		inBatch map[string]struct{}
		held    map[string]struct{}
	)
	keep := l.queue[:0]
	for i, c := range l.queue {
		if n == l.cfg.MaxBatch {
			keep = append(keep, l.queue[i:]...)
			break
		}
		if n+c.n > l.cfg.MaxBatch || l.blockedLocked(c, inBatch, held) {
			if held == nil {
				held = make(map[string]struct{})
			}
			for _, s := range c.subjects {
				held[s] = struct{}{}
			}
			keep = append(keep, c)
			continue
		}
		if inBatch == nil {
			inBatch = make(map[string]struct{})
		}
		for _, s := range c.subjects {
			inBatch[s] = struct{}{}
			l.busy[s] = struct{}{}
		}
		c.taken = true
		batch = append(batch, c)
		n += c.n
	}
	clear(l.queue[len(keep):])
	l.queue = keep
	return batch
}

func (l *Log) blockedLocked(c *call, inBatch, held map[string]struct{}) bool {
	for _, s := range c.subjects {
		if _, ok := l.busy[s]; ok {
			return true
		}
		if _, ok := inBatch[s]; ok {
			return true
		}
		if _, ok := held[s]; ok {
			return true
		}
	}
	return false
}

// release frees the subjects of a settled batch so that held calls on them
// can go.
func (l *Log) release(batch []*call) {
	l.mu.Lock()
	for _, c := range batch {
		for _, s := range c.subjects {
			delete(l.busy, s)
		}
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}
