package projections

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

// benchStream writes a realistic stream straight to the log: profiles that
// come back for ticket after ticket, each ticket opened by a sealed inbound
// message and taken through assignment, replies, a snooze and a close.
// Going through the engine would take minutes; the events are the same.
func benchStream(b *testing.B, l *eventstore.Log, profiles, ticketsPerProfile int) uint64 {
	b.Helper()
	ctx := context.Background()
	agent := domain.Actor{UserID: uuid.NewString(), Role: domain.RoleSupport}
	customer := domain.Actor{UserID: uuid.NewString(), Role: domain.RoleIntegration}
	keys := make([]cipher.AEAD, profiles)
	keyIDs := make([]string, profiles)
	var wg sync.WaitGroup
	errs := make(chan error, profiles)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := w; p < profiles; p += 16 {
				key, err := l.Keys().GetOrCreate(ctx, base64.RawURLEncoding.EncodeToString([]byte(benchProfile(p))))
				if err != nil {
					errs <- err
					return
				}
				block, _ := aes.NewCipher(key.Secret)
				keys[p], _ = cipher.NewGCM(block)
				keyIDs[p] = key.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	at := clockStart
	var recs []eventstore.Record
	flush := func() {
		if _, err := l.Append(ctx, recs); err != nil {
			b.Fatal(err)
		}
		recs = recs[:0]
	}
	add := func(p int, ticket, typ string, actor domain.Actor, data any) {
		id := benchProfile(p)
		ev := domain.Event{ID: uuid.NewString(), Type: typ, At: at, Actor: actor, CommandID: uuid.NewString(),
			Aggregate: domain.ProfileKey(id), ProfileID: id, TicketID: ticket, Data: data}
		raw, err := domain.MarshalEvent(ev)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, eventstore.Record{Subject: eventstore.AggregateSubject(ev.Aggregate), Data: raw})
		if len(recs) == 1000 {
			flush()
		}
	}
	// The engine's sealing (eventstore/engine_seal.go): AES-256-GCM under
	// the profile's key, bound to profile and message id.
	sealed := func(p int, text string) *domain.MessageReceivedData {
		id := uuid.NewString()
		nonce := make([]byte, keys[p].NonceSize())
		rand.Read(nonce)
		return &domain.MessageReceivedData{MessageID: id, Channel: domain.ChannelSMS, Sealed: &domain.SealedBody{
			KeyID: keyIDs[p], Nonce: nonce,
			Ciphertext: keys[p].Seal(nil, nonce, []byte(text), []byte(benchProfile(p)+"\x00"+id))}}
	}
	for round := range ticketsPerProfile {
		for p := range profiles {
			at = at.Add(time.Millisecond)
			t := uuid.NewString()
			add(p, t, domain.TicketOpened, customer, &domain.TicketOpenedData{Channel: domain.ChannelSMS})
			add(p, t, domain.MessageReceived, customer, sealed(p, fmt.Sprintf("Hello, this is about my order %d-%d, it has not arrived yet.", p, round)))
			add(p, t, domain.TicketAssigned, agent, &domain.TicketAssignedData{AssigneeID: agent.UserID})
			add(p, t, domain.TicketMarkedRead, agent, nil)
			add(p, t, domain.ReplySent, agent, &domain.ReplySentData{MessageID: uuid.NewString(), Body: "Thanks for writing, we are looking into it right now."})
			add(p, t, domain.MessageReceived, customer, sealed(p, "Thank you, waiting for your answer."))
			add(p, t, domain.ReplySent, agent, &domain.ReplySentData{MessageID: uuid.NewString(), Body: "It ships tomorrow; I will check back then."})
			add(p, t, domain.TicketSnoozed, agent, &domain.TicketSnoozedData{Until: at.Add(24 * time.Hour)})
			add(p, t, domain.TicketWoke, agent, &domain.TicketWokeData{Reason: domain.WakeAgent})
			add(p, t, domain.TicketClosed, agent, &domain.TicketClosedData{Reason: domain.CloseAgent})
		}
	}
	if len(recs) > 0 {
		flush()
	}
	last, err := l.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return last
}

func benchProfile(p int) string { return fmt.Sprintf("customer-%05d", p) }

// catchUpBatch sets BenchmarkCatchUp's batch size: the default is a
// catch-up's, a small one is what a projector following a live log
// applies.
var catchUpBatch = flag.Int("catchup-batch", 0, "events per batch in BenchmarkCatchUp (0: the catch-up default)")

// BenchmarkCatchUp compares a projector's catch-up from 0 into a fresh file
// with a bare read of the same stream, which bounds it.
func BenchmarkCatchUp(b *testing.B) {
	srv := eventstoretest.MustOpenServer(b)
	l := eventstoretest.MustOpenLog(b, srv, eventstore.LogConfig{MaxBatch: 1000})
	const profiles, rounds = 2000, 10
	last := benchStream(b, l, profiles, rounds)
	if last < 200_000 {
		b.Fatalf("stream of %d events", last)
	}
	ctx := context.Background()
	var raw, catchUp time.Duration
	b.ResetTimer()
	for range b.N {
		start := b.Elapsed()
		n := 0
		if err := l.ReadRange(ctx, 1, last, func(eventstore.Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		raw += b.Elapsed() - start
		if uint64(n) != last {
			b.Fatalf("read %d of %d", n, last)
		}

		b.StopTimer()
		db, err := Open(filepath.Join(b.TempDir(), "views.db"))
		if err != nil {
			b.Fatal(err)
		}
		p := NewProjector(db, l, ProjectorConfig{Logger: quiet, BatchSize: *catchUpBatch, CatchUpBatchSize: *catchUpBatch})
		b.StartTimer()
		start = b.Elapsed()
		if err := p.CatchUp(ctx, last); err != nil {
			b.Fatal(err)
		}
		catchUp += b.Elapsed() - start
		b.StopTimer()
		var inbound int
		if err := db.r.QueryRow(`SELECT count(*) FROM messages WHERE direction = 'inbound'`).Scan(&inbound); err != nil ||
			inbound != 2*profiles*rounds {
			b.Fatalf("%d inbound messages opened, want %d (%v)", inbound, 2*profiles*rounds, err)
		}
		db.Close()
		b.StartTimer()
	}
	events := float64(last) * float64(b.N)
	b.ReportMetric(events/raw.Seconds(), "raw-events/s")
	b.ReportMetric(events/catchUp.Seconds(), "catchup-events/s")
	b.ReportMetric(raw.Seconds()/catchUp.Seconds(), "catchup/raw")
	b.ReportMetric(float64(last), "events")
}

// seedTickets inserts n tickets straight into the views: a year of inbox
// with ten agents, most tickets closed.
func seedTickets(b *testing.B, db *DB, n int, agents []string, now time.Time) {
	b.Helper()
	r := mrand.New(mrand.NewPCG(1, 2))
	tx, err := db.w.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	prof, _ := tx.Prepare(`INSERT INTO profiles (id) VALUES (?) ON CONFLICT DO NOTHING`)
	tick, _ := tx.Prepare(`INSERT INTO tickets (id, profile_id, position, status, assignee_id, unread,
		snoozed_until, closed_at, close_reason, last_message_at, preview, message_count, waiting_since)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	for i := range n {
		profile := fmt.Sprintf("customer-%06d", i/3)
		if _, err := prof.Exec(profile); err != nil {
			b.Fatal(err)
		}
		lm := now.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
		var assignee, until, closed, reason any
		if r.IntN(10) < 7 {
			assignee = agents[r.IntN(len(agents))]
		}
		status := StatusOpen
		switch x := r.IntN(100); {
		case x < 60:
			status, closed, reason = StatusClosed, nanos(lm.Add(time.Hour)), domain.CloseAgent
		case x < 75:
			// A few are due and not yet woken.
			status, until = StatusSnoozed, nanos(now.Add(time.Duration(r.Int64N(int64(30*24*time.Hour)))-time.Hour))
		}
		// Most tickets not closed wait for an answer, some since long
		// before their last message.
		var waiting any
		if status != StatusClosed && r.IntN(3) > 0 {
			waiting = nanos(lm.Add(-time.Duration(r.Int64N(int64(72 * time.Hour)))))
		}
		if _, err := tick.Exec(uuid.NewString(), profile, i+1, status, assignee, r.IntN(2), until, closed, reason,
			nanos(lm), "Hello, this is about my order, it has not arrived yet.", 1+r.IntN(8), waiting); err != nil {
			b.Fatal(err)
		}
	}
	// No ANALYZE: the engine never runs it, so the plans measured are
	// those a live file gets.
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// listTickets sets BenchmarkListTickets' inbox size.
var listTickets = flag.Int("list-tickets", 100_000, "tickets in BenchmarkListTickets' views")

// BenchmarkListTickets measures inbox queries over 100k tickets (or
// -list-tickets).
func BenchmarkListTickets(b *testing.B) {
	srv := eventstoretest.MustOpenServer(b)
	l := eventstoretest.MustOpenLog(b, srv, eventstore.LogConfig{})
	v, err := OpenViews(context.Background(), filepath.Join(b.TempDir(), "views.db"), l, ProjectorConfig{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	now := clockStart
	var agents []string
	for range 10 {
		agents = append(agents, uuid.NewString())
	}
	seedTickets(b, v.proj.DB(), *listTickets, agents, now)
	ctx := context.Background()
	// The third page of a list: two pages read, the second's cursor kept.
	third := func(q TicketQuery) string {
		q.Now = now
		for range 2 {
			page, err := v.Tickets(ctx, q)
			if err != nil || page.NextCursor == nil {
				b.Fatal(err)
			}
			q.Cursor = *page.NextCursor
		}
		return q.Cursor
	}
	unassigned := third(TicketQuery{View: ViewUnassigned})
	waiting := third(TicketQuery{View: ViewUnassigned, Sort: SortWaiting})
	cases := []struct {
		name string
		run  func() error
	}{
		{"default", func() error { _, err := v.Tickets(ctx, TicketQuery{Now: now}); return err }},
		{"mine-snoozed", func() error {
			_, err := v.Tickets(ctx, TicketQuery{View: ViewMine, UserID: agents[3], Status: StatusSnoozed, Now: now})
			return err
		}},
		{"unassigned-open-page3", func() error {
			_, err := v.Tickets(ctx, TicketQuery{View: ViewUnassigned, Now: now, Cursor: unassigned})
			return err
		}},
		{"waiting", func() error { _, err := v.Tickets(ctx, TicketQuery{Sort: SortWaiting, Now: now}); return err }},
		{"mine-waiting", func() error {
			_, err := v.Tickets(ctx, TicketQuery{View: ViewMine, UserID: agents[3], Sort: SortWaiting, Now: now})
			return err
		}},
		{"unassigned-waiting-page3", func() error {
			_, err := v.Tickets(ctx, TicketQuery{View: ViewUnassigned, Sort: SortWaiting, Now: now, Cursor: waiting})
			return err
		}},
		{"closed-waiting-limit500", func() error {
			_, err := v.Tickets(ctx, TicketQuery{Status: StatusClosed, Sort: SortWaiting, Limit: 500, Now: now})
			return err
		}},
		{"closed-limit500", func() error {
			_, err := v.Tickets(ctx, TicketQuery{Status: StatusClosed, Limit: 500, Now: now})
			return err
		}},
		{"counts", func() error { _, err := v.Counts(ctx, agents[3], now); return err }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			iters := max(b.N, 1000)
			lat := make([]time.Duration, 0, iters)
			for range iters {
				start := b.Elapsed()
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, b.Elapsed()-start)
			}
			slices.Sort(lat)
			b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "p50-ms")
			b.ReportMetric(lat[len(lat)*99/100].Seconds()*1000, "p99-ms")
		})
	}
}
