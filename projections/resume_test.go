package projections

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// workload writes a varied log through the engine: every kind of ticket
// event, users, a block by phone and a block by id, replies' delivery
// statuses, internal notes (on open and closed tickets), and a webhook the
// views ignore, over rounds of profiles.
func (e *env) workload(rounds int) {
	e.t.Helper()
	agent := e.user(fmt.Sprintf("agent %d", rounds), domain.RoleSupport)
	hook, _, err := e.eng.CreateWebhook(testContext(e.t), e.owner, domain.NewWebhook{URL: "https://example.com/hook", Events: []string{"*"}})
	if err != nil {
		e.t.Fatal(err)
	}
	for r := range rounds {
		for p := range 4 {
			e.clock.Advance(time.Minute)
			profile := fmt.Sprintf("w%d", p)
			res := e.exec(domain.Inbound{ProfileID: profile, Body: fmt.Sprintf("round %d from %s", r, profile),
				Phone: fmt.Sprintf("+3361000000%d", p)})
			if res.Outcome == domain.OutcomeDroppedBlocked {
				continue
			}
			id := res.TicketID
			switch (r + p) % 4 {
			case 0:
				e.exec(domain.Reply{TicketID: id, Body: "on it"})
				e.replyStatuses(id, r)
				e.exec(domain.Assign{TicketID: id, AssigneeID: &agent.ID})
				e.exec(domain.Note{TicketID: id, Body: fmt.Sprintf("round %d: checked the carrier for %s", r, profile)})
			case 1:
				e.exec(domain.MarkRead{TicketCommand: ticketCmd(id)})
				e.exec(domain.Snooze{TicketID: id, Duration: "30m"})
			case 2:
				e.exec(domain.Close{TicketCommand: ticketCmd(id)})
				e.exec(domain.Note{TicketID: id, Body: "closed after a refund, Zoë agreed"})
			case 3:
				e.exec(domain.MarkUnread{TicketCommand: ticketCmd(id)})
			}
		}
		switch r {
		case 1:
			e.exec(domain.Block{BlockTarget: domain.BlockTarget{Phone: "+33610000001"}})
			if err := e.eng.RemoveWebhook(testContext(e.t), e.owner, hook.ID); err != nil {
				e.t.Fatal(err)
			}
		case 2:
			e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "w2"}})
			e.exec(domain.Unblock{BlockTarget: domain.BlockTarget{Phone: "+33610000001"}})
		}
		e.clock.Advance(time.Hour)
		if _, err := e.eng.Wake(testContext(e.t)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// replyStatuses moves the ticket's pending replies on, one way per round:
// left pending, sent then delivered, or failed.
func (e *env) replyStatuses(ticketID string, round int) {
	e.t.Helper()
	ctx := testContext(e.t)
	tk, err := e.eng.Ticket(ctx, ticketID)
	if err != nil {
		e.t.Fatal(err)
	}
	for id, status := range tk.ReplyStatus {
		if status != domain.ReplyPending {
			continue
		}
		switch round % 3 {
		case 1:
			if err := e.eng.ReplyHandedOver(ctx, id, domain.ReplySentOut, ""); err != nil {
				e.t.Fatal(err)
			}
			e.exec(domain.ReplyStatus{ReplyID: id, Status: domain.ReplyDelivered})
		case 2:
			e.exec(domain.ReplyStatus{ReplyID: id, Status: domain.ReplyFailed, Reason: fmt.Sprintf("round %d bounced", round)})
		}
	}
}

func (e *env) last() uint64 {
	e.t.Helper()
	last, err := e.log.LastSeq(testContext(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return last
}

// TestResume stops a projector part way and starts again from what the file
// holds: the result must be exactly a replay of the log.
func TestResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workload(5)
	last := e.last()
	if last < 60 {
		t.Fatalf("workload wrote only %d events", last)
	}
	mid := last / 2

	t.Run("closed between batches", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "views.db")
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		p := NewProjector(db, e.log, ProjectorConfig{BatchSize: 7, Logger: quiet})
		if err := p.CatchUp(testContext(t), mid); err != nil {
			t.Fatal(err)
		}
		if p.Position() != mid {
			t.Fatalf("position %d after catching up to %d", p.Position(), mid)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		v := e.views(path, ProjectorConfig{BatchSize: 7})
		if got := v.Position(); got != mid {
			t.Fatalf("reopened at %d, want %d", got, mid)
		}
		e.run(v)
		e.sync(v)
		mustVerify(t, v)
	})

	t.Run("copy of a running projector's files", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.workload(2)
		dir := t.TempDir()
		v := e.openViews(filepath.Join(dir, "views.db"), ProjectorConfig{BatchSize: 3})
		e.sync(v)
		// Paused between batches, the files are what a kill would leave:
		// the WAL holding committed batches not yet checkpointed.
		resume := v.Projector().Pause()
		at := v.Position()
		copyDir := t.TempDir()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			copyFile(t, filepath.Join(dir, "views.db"+suffix), filepath.Join(copyDir, "views.db"+suffix))
		}
		resume()
		e.workload(2)
		c := e.views(filepath.Join(copyDir, "views.db"), ProjectorConfig{BatchSize: 5})
		if got := c.Position(); got != at {
			t.Fatalf("copy opened at %d, the projector was at %d", got, at)
		}
		e.run(c)
		e.sync(c)
		e.sync(v)
		if c.Position() <= at {
			t.Fatal("the copy did not resume")
		}
		mustVerify(t, c)
		mustVerify(t, v)
	})

	t.Run("stopped by its context", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "views.db")
		v, err := OpenViews(testContext(t), path, e.log, ProjectorConfig{BatchSize: 2, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- v.Run(ctx) }()
		waitFor(t, "some progress", func() bool { return v.Position() > 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
		stopped := v.Position()
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		r := e.views(path, ProjectorConfig{})
		if got := r.Position(); got != stopped {
			t.Fatalf("reopened at %d, stopped at %d", got, stopped)
		}
		e.run(r)
		e.sync(r)
		mustVerify(t, r)
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWaitPosition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
	e.sync(v)
	ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
	defer cancel()
	if err := v.WaitPosition(ctx, e.last()+1); err == nil {
		t.Fatal("waited for a position that was never written")
	}
	done := make(chan error, 1)
	go func() { done <- v.WaitPosition(testContext(t), e.last()+1) }()
	res := e.inbound("late", "hi")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := v.Ticket(testContext(t), res.TicketID, clockStart); err != nil {
		t.Fatalf("read after WaitPosition: %v", err)
	}
}
