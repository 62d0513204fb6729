package eventstore_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
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
	// The commit, taken away below, is one more message.
	recs = append(recs, recs[len(recs)-1])

	// A stream that still allows deletes, so that the commit can be taken
	// away once the batch is in.
	e := newEnv(t)
	nc, err := e.srv.EngineConnect("setup")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: eventstore.EventsStream, Subjects: []string{"tb.ev.>"},
		Storage: jetstream.FileStorage, AllowAtomicPublish: true, AllowDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	id := "lostbatch"
	var ack *nats.Msg
	for i, r := range recs {
		m := nats.NewMsg(r.Subject)
		m.Data = r.Data
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i == len(recs)-1 {
			m.Header.Set("Nats-Batch-Commit", "1")
			if ack, err = nc.RequestMsgWithContext(ctx, m); err != nil {
				t.Fatal(err)
			}
			break
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(ack.Data), `"count":`+strconv.Itoa(len(recs))) {
		t.Fatalf("batch not committed: %s", ack.Data)
	}
	end := uint64(len(recs))
	if err := st.DeleteMsg(ctx, end); err != nil {
		t.Fatal(err)
	}
	nc.Close()

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
	if len(seen) != int(end) { // the deleted commit is not read at all
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
