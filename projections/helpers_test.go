package projections

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

var clockStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a real embedded server with the event log and an engine writing
// to it, as ticketd runs them.
type env struct {
	t     testing.TB
	srv   *eventstore.Server
	log   *eventstore.Log
	eng   *engine.Engine
	clock *engine.ManualClock
	owner domain.User
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := eventstoretest.MustOpenServer(t)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	clock := engine.NewManualClock(clockStart)
	ctx := testContext(t)
	eng, err := engine.Open(ctx, l, engine.Config{
		Now: clock.Now, Logger: quiet, WakeInterval: time.Hour})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(eng.Close)
	owner, _, created, err := eng.Bootstrap(ctx, "")
	if err != nil || !created {
		t.Fatalf("bootstrap: created=%v err=%v", created, err)
	}
	return &env{t: t, srv: srv, log: l, eng: eng, clock: clock, owner: owner}
}

// testContext bounds a test's waits, so that a hang fails instead of
// blocking the run.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// exec runs a command as the owner and fails the test on an error.
func (e *env) exec(cmd domain.Command) engine.Result {
	e.t.Helper()
	res, err := e.eng.Execute(testContext(e.t), e.owner, cmd)
	if err != nil {
		e.t.Fatalf("%s: %v", cmd.Name(), err)
	}
	return res
}

func (e *env) inbound(profile, body string) engine.Result {
	e.t.Helper()
	return e.exec(domain.Inbound{ProfileID: profile, Body: body, Channel: domain.ChannelSMS})
}

func (e *env) user(name string, role domain.Role) domain.User {
	e.t.Helper()
	u, _, err := e.eng.CreateUser(testContext(e.t), e.owner, name, role)
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

func ticketCmd(id string) domain.TicketCommand { return domain.TicketCommand{TicketID: id} }

// openViews opens views at path on the env's log and runs their projector
// until the test ends.
func (e *env) openViews(path string, cfg ProjectorConfig) *Views {
	e.t.Helper()
	v := e.views(path, cfg)
	e.run(v)
	return v
}

// views opens views at path on the env's log, closed when the test ends.
func (e *env) views(path string, cfg ProjectorConfig) *Views {
	e.t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	v, err := OpenViews(testContext(e.t), path, e.log, cfg)
	if err != nil {
		e.t.Fatalf("open views: %v", err)
	}
	e.t.Cleanup(func() { v.Close() })
	return v
}

// run runs the views' projector until the test ends.
func (e *env) run(v *Views) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			e.t.Errorf("views run: %v", err)
		}
	})
}

// sync waits until the views have applied everything in the log.
func (e *env) sync(v *Views) {
	e.t.Helper()
	ctx := testContext(e.t)
	last, err := e.log.LastSeq(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := v.WaitPosition(wctx, last); err != nil {
		e.t.Fatalf("views did not reach %d: %v", last, err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func mustTicket(t testing.TB, v *Views, id string, now time.Time) TicketDetail {
	t.Helper()
	d, err := v.Ticket(testContext(t), id, now)
	if err != nil {
		t.Fatalf("ticket %s: %v", id, err)
	}
	return d
}

func mustVerify(t testing.TB, v *Views) {
	t.Helper()
	checkCounts(t, v)
	diffs, err := v.Verify(testContext(t))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(diffs) > 0 {
		t.Fatalf("verify found %d differences:\n%s", len(diffs), joinLines(diffs))
	}
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// checkCounts compares the counts the triggers keep with a count of the
// tickets themselves.
func checkCounts(t testing.TB, v *Views) {
	t.Helper()
	db := v.Projector().DB()
	var diff int
	err := db.r.QueryRow(`SELECT count(*) FROM (
		SELECT assignee_id, status, n FROM ticket_counts
		EXCEPT SELECT coalesce(assignee_id, ''), status, count(*) FROM tickets GROUP BY 1, 2)`).Scan(&diff)
	if err != nil {
		t.Fatal(err)
	}
	var rows, groups int
	db.r.QueryRow(`SELECT count(*) FROM ticket_counts`).Scan(&rows)
	db.r.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY coalesce(assignee_id, ''), status)`).Scan(&groups)
	if diff != 0 || rows != groups {
		t.Fatalf("ticket_counts disagrees with the tickets: %d rows differ, %d rows for %d groups", diff, rows, groups)
	}
}
