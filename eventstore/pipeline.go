package eventstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

func allSingle(calls []*call) bool {
	for _, c := range calls {
		if c.n != 1 {
			return false
		}
	}
	return true
}

// commitEach settles single-record calls with one plain publish each, all
// in flight together. Each is atomic on its own, and a conflict stays with
// its call.
func (w *worker) commitEach(calls []*call) {
	start := time.Now()
	seqs, errs := w.publishEach(calls)
	committed := 0
	for i, c := range calls {
		if errs[i] != nil {
			c.err = errs[i]
			continue
		}
		c.seqs = []uint64{seqs[i]}
		committed++
	}
	if hook := w.cm.cfg.OnBatch; hook != nil && committed > 0 {
		hook(committed, committed, time.Since(start))
	}
}

func (w *worker) publishEach(calls []*call) ([]uint64, []error) {
	seqs, errs := make([]uint64, len(calls)), make([]error, len(calls))
	nc := w.cm.nc
	if !nc.IsConnected() {
		for i := range errs {
			errs[i] = fmt.Errorf("%w: %w", ErrUnavailable, nats.ErrConnectionClosed)
		}
		return seqs, errs
	}
	for len(w.status) > 0 {
		<-w.status
	}
	w.tag++
	prefix := w.inbox + "." + strconv.FormatUint(w.tag, 10) + "."
	sent := 0
	for i, c := range calls {
		m := c.msgs[0]
		m.Header.Del(hdrBatchID)
		m.Header.Del(hdrBatchSeq)
		m.Header.Del(hdrBatchCommit)
		m.Reply = prefix + strconv.Itoa(i)
		if err := nc.PublishMsg(m); err != nil {
			for j := i; j < len(calls); j++ {
				errs[j] = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			break
		}
		sent++
	}
	answered := make([]bool, sent)
	giveUp := func(err error) {
		for i := 0; i < sent; i++ {
			if !answered[i] {
				errs[i] = err
			}
		}
	}
	timer := time.NewTimer(w.cm.cfg.PublishTimeout)
	defer timer.Stop()
	for pending := sent; pending > 0; {
		select {
		case m := <-w.acks:
			if !strings.HasPrefix(m.Subject, prefix) {
				continue
			}
			i, err := strconv.Atoi(m.Subject[len(prefix):])
			if err != nil || i < 0 || i >= sent || answered[i] {
				continue
			}
			answered[i] = true
			pending--
			ack, err := parseAck(m)
			if errors.Is(err, errRetry) {
				err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			seqs[i], errs[i] = ack.Seq, err
		case st := <-w.status:
			giveUp(fmt.Errorf("%w: connection %s after the message was sent", ErrUnknownOutcome, st))
			return seqs, errs
		case <-timer.C:
			giveUp(fmt.Errorf("%w: no ack within %s", ErrUnknownOutcome, w.cm.cfg.PublishTimeout))
			return seqs, errs
		}
	}
	return seqs, errs
}
