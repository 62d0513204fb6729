package engine_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
	"github.com/ticketbus/ticketbus/projections"
)

// TestUncommittedBatchIsVoid builds what a power loss during a commit
// leaves when batches are staged in memory: the start of a batch at the
// end of the log, its commit missing and nothing to restore it from. The
// server's next start must record those positions as void, and the engine
// must then neither see the batch's ticket nor trip over the sequences it
// left on the profile's subject.
func TestUncommittedBatchIsVoid(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The batch's events are real ones, written by another engine.
	src := newEnv(t)
	sh := src.startEngine()
	lost := mustOK(t, send(t, src.client(), src.owner, "inbound", map[string]any{"profile_id": "bob", "body": "never acknowledged"}))
	var recs []eventstore.Entry
	if err := sh.log.ReadRange(ctx, 1, 0, func(en eventstore.Entry) error {
		if en.Subject == eventstore.AggregateSubject(domain.ProfileKey("bob")) {
			recs = append(recs, en)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("bob's first message wrote no event on his subject")
	}

	e := newEnv(t)
	msgs := make([]eventstoretest.Message, len(recs))
	for i, r := range recs {
		msgs[i] = eventstoretest.Message{Subject: r.Subject, Data: r.Data}
	}
	first, last := eventstoretest.MustLeaveUncommittedBatch(t, e.srv, msgs)
	if first != 1 || last != uint64(len(recs)) {
		t.Fatalf("batch at %d..%d", first, last)
	}
	end := last + 1 // the deleted commit

	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, want := e.srv.UncommittedBatch(), [2]uint64{1, end + 1}; got != want {
		t.Fatalf("uncommitted batch found at %v, want %v", got, want)
	}
	// A second start finds the record, not a new batch.
	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.UncommittedBatch(); got != [2]uint64{} {
		t.Fatalf("second start found %v again", got)
	}

	h := e.startEngine()
	for seq := uint64(1); seq <= end+1; seq++ {
		if !h.log.Void(seq) {
			t.Errorf("position %d is not void", seq)
		}
	}
	if h.log.Void(end + 2) {
		t.Errorf("position %d, written after the record, is void", end+2)
	}
	var seen []uint64
	if err := h.log.ReadRange(ctx, 1, end+1, func(en eventstore.Entry) error {
		if en.Void {
			seen = append(seen, en.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != int(end) { // all but the deleted commit, plus the record
		t.Errorf("read %v as void, want every position of 1..%d but the deleted one", seen, end+1)
	}

	if _, err := h.engine.Ticket(ctx, lost.TicketID); domain.ErrorCode(err) != domain.ENotFound {
		t.Errorf("the uncommitted batch's ticket is visible: err %v", err)
	}
	// Bob writes again: a first message, on a subject whose last sequence
	// is void, without a conflict.
	r := mustOK(t, send(t, e.client(), e.owner, "inbound", map[string]any{"profile_id": "bob", "body": "hello again"}))
	if r.Outcome != domain.OutcomeOpened || r.TicketID == lost.TicketID {
		t.Fatalf("got %s on ticket %s, want a new ticket opened", r.Outcome, r.TicketID)
	}
	r2 := mustOK(t, send(t, e.client(), e.owner, "inbound", map[string]any{"profile_id": "bob", "body": "and again"}))
	if r2.Outcome != domain.OutcomeAppended || r2.TicketID != r.TicketID {
		t.Fatalf("got %s on ticket %s, want appended to %s", r2.Outcome, r2.TicketID, r.TicketID)
	}

	// The views, caught up from position 0, know bob's new ticket only.
	views, err := projections.OpenViews(ctx, filepath.Join(t.TempDir(), "views.db"), h.log,
		projections.ProjectorConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer views.Close()
	go func() { _ = views.Run(ctx) }()
	if err := views.WaitPosition(ctx, r2.Position); err != nil {
		t.Fatal(err)
	}
	p, err := views.Profile(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.TicketIDs) != 1 || p.TicketIDs[0] != r.TicketID {
		t.Errorf("views list bob's tickets %v, want only %s", p.TicketIDs, r.TicketID)
	}
	if diffs, err := views.Verify(ctx); err != nil || len(diffs) > 0 {
		t.Errorf("verify: %v %v", diffs, err)
	}
}
