package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
	return l.commit.append(ctx, recs)
}

// committer groups the concurrent appends to one stream into shared
// atomic batches (or plain publishes in flight together, see PlainMax):
// the events' group commit, and the keys' one, so that first contacts'
// keys share fsyncs as their events do.
type committer struct {
	nc     *nats.Conn
	cfg    LogConfig
	prefix string // every subject is under it
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []*call
	busy   map[string]struct{} // subjects of calls in flight
	closed bool
	wg     sync.WaitGroup
	// grouped counts the calls committed in an atomic batch with others.
	grouped atomic.Int64
}

// newCommitter starts a committer's workers.
func newCommitter(nc *nats.Conn, cfg LogConfig, prefix string) (*committer, error) {
	cm := &committer{nc: nc, cfg: cfg, prefix: prefix, busy: make(map[string]struct{})}
	cm.cond = sync.NewCond(&cm.mu)
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(cm)
		if err != nil {
			cm.close()
			return nil, err
		}
		cm.wg.Add(1)
		go w.run()
	}
	return cm, nil
}

// close stops the workers once their current batch is settled. Appends
// still queued, and any made later, fail with ErrUnavailable.
func (cm *committer) close() {
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return
	}
	cm.closed = true
	pending := cm.queue
	cm.queue = nil
	for _, c := range pending {
		c.taken = true
	}
	cm.cond.Broadcast()
	cm.mu.Unlock()
	for _, c := range pending {
		c.finish(nil, fmt.Errorf("append %d records: %w: log closed", c.n, ErrUnavailable))
	}
	cm.wg.Wait()
}

func (cm *committer) append(ctx context.Context, recs []Record) ([]uint64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	c, err := cm.newCall(recs)
	if err != nil {
		return nil, fmt.Errorf("append %d records: %w", len(recs), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append %d records: %w", len(recs), err)
	}
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return nil, fmt.Errorf("append %d records: %w: log closed", len(recs), ErrUnavailable)
	}
	cm.queue = append(cm.queue, c)
	cm.cond.Signal()
	cm.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		cm.mu.Lock()
		if !c.taken {
			cm.removeQueuedLocked(c)
			cm.mu.Unlock()
			return nil, fmt.Errorf("append %d records: %w", len(recs), ctx.Err())
		}
		cm.mu.Unlock()
		// Already sent or being sent: only the commit's answer tells what
		// happened, and it is bounded by PublishTimeout.
		<-c.done
	}
	if c.err != nil {
		return nil, fmt.Errorf("append %d records: %w", len(recs), c.err)
	}
	return c.seqs, nil
}

func (cm *committer) newCall(recs []Record) (*call, error) {
	if len(recs) > cm.cfg.MaxBatch {
		return nil, fmt.Errorf("%w: %d records exceed MaxBatch %d", ErrInvalid, len(recs), cm.cfg.MaxBatch)
	}
	c := &call{n: len(recs), msgs: make([]*nats.Msg, len(recs)), done: make(chan struct{})}
	seen := make(map[string]struct{}, 2)
	for i, r := range recs {
		if !validSubject(r.Subject, cm.prefix) {
			return nil, fmt.Errorf("%w: record %d: subject %q not under %s", ErrInvalid, i, r.Subject, cm.prefix)
		}
		if int64(len(r.Data)) > cm.nc.MaxPayload() {
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

func validSubject(s, prefix string) bool {
	if len(s) <= len(prefix) || !strings.HasPrefix(s, prefix) {
		return false
	}
	if strings.ContainsAny(s, "*> \t\r\n") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	return true
}

func (cm *committer) removeQueuedLocked(c *call) {
	for i, q := range cm.queue {
		if q == c {
			copy(cm.queue[i:], cm.queue[i+1:])
			cm.queue[len(cm.queue)-1] = nil
			cm.queue = cm.queue[:len(cm.queue)-1]
			return
		}
	}
}

// takeBatch blocks until it can hand a worker a non-empty batch, or returns
// nil once the log is closed.
func (cm *committer) takeBatch() []*call {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	for {
		if cm.closed {
			return nil
		}
		if b := cm.pickLocked(); len(b) > 0 {
			return b
		}
		cm.cond.Wait()
	}
}

// pickLocked takes from the queue, oldest first, the calls that fit in one
// batch. A call is held back if one of its subjects is in flight, already
// in this batch, or belongs to an older call held back: the per-subject
// check only works on a subject's first message in a batch, and calls on
// one subject must reach the log in the order they were made.
func (cm *committer) pickLocked() []*call {
	var (
		batch   []*call
		n       int
		inBatch map[string]struct{}
		held    map[string]struct{}
	)
	keep := cm.queue[:0]
	for i, c := range cm.queue {
		if n == cm.cfg.MaxBatch {
			keep = append(keep, cm.queue[i:]...)
			break
		}
		if n+c.n > cm.cfg.MaxBatch || cm.blockedLocked(c, inBatch, held) {
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
			cm.busy[s] = struct{}{}
		}
		c.taken = true
		batch = append(batch, c)
		n += c.n
	}
	clear(cm.queue[len(keep):])
	cm.queue = keep
	return batch
}

func (cm *committer) blockedLocked(c *call, inBatch, held map[string]struct{}) bool {
	for _, s := range c.subjects {
		if _, ok := cm.busy[s]; ok {
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
func (cm *committer) release(batch []*call) {
	cm.mu.Lock()
	for _, c := range batch {
		for _, s := range c.subjects {
			delete(cm.busy, s)
		}
	}
	cm.cond.Broadcast()
	cm.mu.Unlock()
}
