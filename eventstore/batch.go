package eventstore

// Wire protocol of an atomic batch, as nats-server 2.15 implements it
// (stream.go, processJetStreamAtomicBatchMsg):
//   - every message carries Nats-Batch-Id and Nats-Batch-Sequence (1..n), the
//     last one also Nats-Batch-Commit: 1;
//   - a reply subject is optional on the messages before the commit: with one
//     the server answers an empty message once the message is staged, or an
//     error; without one it stays silent and a failure shows up at the commit
//     as "batch incomplete" (10176);
//   - the commit's ack is {"stream","seq","batch","count"} where seq is the
//     sequence of the last message; the batch's sequences are seq-count+1..seq;
//   - one failed check (wrong last sequence, 10071) rejects the whole batch.
// Only the first message asks for a reply: it is the one refused when too
// many batches are in flight (10210), which deserves a retry, and asking no
// more keeps a batch at two answers.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"

	// JetStream error codes the commit path acts on.
	errCodeWrongLastSeq         = 10071 // a Nats-Expected-* check failed
	errCodeWrongLastSeqConstant = 10164 // a check on a subject the batch already wrote
	errCodeBatchIncomplete      = 10176 // the server dropped part of the batch; nothing written
	errCodeTooManyInflight      = 10210 // too many batches open on the stream; nothing written

	maxBackoff = 200 * time.Millisecond
)

// errRetry marks a refusal that wrote nothing and may pass on a later try.
var errRetry = errors.New("eventstore: retry")

// worker publishes one batch at a time; each has its own reply inbox so
// that answers need no routing between workers.
type worker struct {
	cm     *committer
	inbox  string
	sub    *nats.Subscription
	acks   chan *nats.Msg
	status chan nats.Status
	tag    uint64
}

func newWorker(cm *committer) (*worker, error) {
	w := &worker{cm: cm, inbox: cm.nc.NewInbox(), acks: make(chan *nats.Msg, 256)}
	sub, err := cm.nc.ChanSubscribe(w.inbox+".>", w.acks)
	if err != nil {
		return nil, fmt.Errorf("worker inbox: %w: %w", ErrUnavailable, err)
	}
	w.sub = sub
	w.status = cm.nc.StatusChanged(nats.DISCONNECTED, nats.CLOSED)
	return w, nil
}

func (w *worker) run() {
	defer w.cm.wg.Done()
	defer func() {
		_ = w.sub.Unsubscribe()
		w.cm.nc.RemoveStatusListener(w.status)
	}()
	for {
		batch := w.cm.takeBatch()
		if batch == nil {
			return
		}
		w.commit(batch)
		w.cm.release(batch)
		for _, c := range batch {
			close(c.done)
		}
	}
}

// commit settles every call of calls, writing c.seqs or c.err. When a shared
// batch fails a check, halves are retried so that only the stale calls end
// with ErrConflict.
func (w *worker) commit(calls []*call) {
	if len(calls) > 1 && len(calls) <= w.cm.cfg.PlainMax && allSingle(calls) {
		w.commitEach(calls)
		return
	}
	start := time.Now()
	last, err := w.publishRetrying(calls)
	if err == nil {
		total := 0
		for _, c := range calls {
			total += c.n
		}
		seq := last - uint64(total) + 1
		for _, c := range calls {
			c.seqs = make([]uint64, c.n)
			for i := range c.seqs {
				c.seqs[i] = seq
				seq++
			}
		}
		if hook := w.cm.cfg.OnBatch; hook != nil {
			hook(len(calls), total, time.Since(start))
		}
		if len(calls) > 1 {
			w.cm.grouped.Add(int64(len(calls)))
		}
		return
	}
	if errors.Is(err, ErrConflict) && len(calls) > 1 {
		mid := len(calls) / 2
		w.commit(calls[:mid])
		w.commit(calls[mid:])
		return
	}
	for _, c := range calls {
		c.err = err
	}
}

func (w *worker) publishRetrying(calls []*call) (uint64, error) {
	deadline := time.Now().Add(w.cm.cfg.PublishTimeout)
	backoff := 5 * time.Millisecond
	for {
		last, err := w.publish(calls)
		if !errors.Is(err, errRetry) {
			return last, err
		}
		if time.Now().Add(backoff).After(deadline) {
			return 0, fmt.Errorf("%w: gave up retrying: %w", ErrUnavailable, err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, maxBackoff)
	}
}

// publish sends calls as one atomic batch, or as a plain publish when they
// hold a single message (a batch would add a staging store and its fsyncs),
// and returns the sequence of the last message.
func (w *worker) publish(calls []*call) (uint64, error) {
	var msgs []*nats.Msg
	for _, c := range calls {
		msgs = append(msgs, c.msgs...)
	}
	nc := w.cm.nc
	if !nc.IsConnected() {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, nats.ErrConnectionClosed)
	}
	for len(w.status) > 0 {
		<-w.status
	}
	w.tag++
	prefix := w.inbox + "." + strconv.FormatUint(w.tag, 10) + "."
	commitReply := prefix + "c"

	id := ""
	if len(msgs) == 1 {
		m := msgs[0]
		m.Header.Del(hdrBatchID)
		m.Header.Del(hdrBatchSeq)
		m.Header.Del(hdrBatchCommit)
		m.Reply = commitReply
		if err := nc.PublishMsg(m); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	} else {
		id = strings.ReplaceAll(uuid.NewString(), "-", "")
		for i, m := range msgs {
			m.Header.Set(hdrBatchID, id)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
			m.Header.Del(hdrBatchCommit)
			m.Reply = ""
			switch i {
			case 0:
				m.Reply = prefix + "f"
			case len(msgs) - 1:
				m.Header.Set(hdrBatchCommit, "1")
				m.Reply = commitReply
			}
			// A failure here comes before the commit left: nothing is written,
			// and the server drops the staged part once it idles.
			if err := nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
		}
	}
	return w.awaitAck(prefix, id, len(msgs))
}

func (w *worker) awaitAck(prefix, id string, n int) (uint64, error) {
	timer := time.NewTimer(w.cm.cfg.PublishTimeout)
	defer timer.Stop()
	var firstErr error
	for {
		select {
		case m := <-w.acks:
			if !strings.HasPrefix(m.Subject, prefix) {
				continue // answer to an earlier batch given up on
			}
			kind := m.Subject[len(prefix):]
			ack, err := parseAck(m)
			if kind == "f" {
				if err != nil {
					firstErr = err
				}
				continue
			}
			if err != nil {
				if errors.Is(err, errRetry) && firstErr != nil {
					err = firstErr
				}
				return 0, err
			}
			if ack.Seq == 0 {
				return 0, fmt.Errorf("%w: ack without a sequence", ErrUnknownOutcome)
			}
			if id != "" && (ack.Batch != id || ack.Count != n) {
				return 0, fmt.Errorf("%w: ack for batch %q of %d, sent %q of %d", ErrUnknownOutcome, ack.Batch, ack.Count, id, n)
			}
			return ack.Seq, nil
		case st := <-w.status:
			return 0, fmt.Errorf("%w: connection %s after the commit was sent", ErrUnknownOutcome, st)
		case <-timer.C:
			return 0, fmt.Errorf("%w: no ack within %s", ErrUnknownOutcome, w.cm.cfg.PublishTimeout)
		}
	}
}

type pubAck struct {
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Batch  string `json:"batch,omitempty"`
	Count  int    `json:"count,omitempty"`
}

// parseAck reads one server answer. An empty answer is a staging ack.
func parseAck(m *nats.Msg) (pubAck, error) {
	var ack pubAck
	if status := m.Header.Get("Status"); status != "" {
		if status == "503" {
			return ack, fmt.Errorf("%w: %w", ErrUnavailable, nats.ErrNoResponders)
		}
		return ack, fmt.Errorf("%w: status %s %s", ErrUnavailable, status, m.Header.Get("Description"))
	}
	if len(m.Data) == 0 {
		return ack, nil
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return ack, fmt.Errorf("%w: unreadable ack: %w", ErrUnknownOutcome, err)
	}
	if e := ack.Error; e != nil {
		switch e.ErrCode {
		case errCodeWrongLastSeq, errCodeWrongLastSeqConstant:
			return ack, fmt.Errorf("%w: %s", ErrConflict, e.Description)
		case errCodeTooManyInflight, errCodeBatchIncomplete:
			return ack, fmt.Errorf("%w: %s (%d)", errRetry, e.Description, e.ErrCode)
		}
		return ack, fmt.Errorf("%w: %s (%d)", ErrUnavailable, e.Description, e.ErrCode)
	}
	return ack, nil
}
