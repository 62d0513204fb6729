package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// indexWrites are the writer's statements, prepared once on its single
// connection; each transaction uses them through Tx.StmtContext.
type indexWrites struct {
	upsertCommand, readCommand, external, ticket, profile, snooze, unsnooze, blocked, user, meta, snapshot *sql.Stmt
	reply, webhook, unwebhook                                                                              *sql.Stmt
}

func (ix *index) prepareWrites(ctx context.Context) error {
	var err error
	prep := func(dst **sql.Stmt, q string) {
		if err == nil {
			*dst, err = ix.w.PrepareContext(ctx, q)
		}
	}
	w := &ix.wr
	prep(&w.readCommand, `SELECT ticket_id, profile_id, outcome, position, profile_level FROM commands WHERE id = ?`)
	prep(&w.upsertCommand, `INSERT INTO commands (id, ticket_id, profile_id, outcome, position, profile_level)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ticket_id = excluded.ticket_id, profile_id = excluded.profile_id,
		outcome = excluded.outcome, position = excluded.position, profile_level = excluded.profile_level`)
	prep(&w.external, `INSERT INTO external_ids (profile_id, message_id, command_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	prep(&w.ticket, `INSERT INTO tickets (id, profile_id, position) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position)`)
	prep(&w.profile, `INSERT INTO profiles (id, position) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position)`)
	prep(&w.snooze, `INSERT INTO snoozes (ticket_id, profile_id, until) VALUES (?, ?, ?)
		ON CONFLICT (ticket_id) DO UPDATE SET until = excluded.until`)
	prep(&w.unsnooze, `DELETE FROM snoozes WHERE ticket_id = ?`)
	prep(&w.blocked, `INSERT INTO blocked_keys (profile_id) VALUES (?) ON CONFLICT DO NOTHING`)
	prep(&w.user, `INSERT INTO users (id, name, role, token_hash) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	prep(&w.snapshot, `INSERT INTO snapshots (profile_id, seq, state) VALUES (?, ?, ?)
		ON CONFLICT (profile_id) DO UPDATE SET seq = excluded.seq, state = excluded.state WHERE excluded.seq > snapshots.seq`)
	prep(&w.reply, `INSERT INTO replies (id, ticket_id) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	prep(&w.webhook, `INSERT INTO webhooks (id, record) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	prep(&w.unwebhook, `DELETE FROM webhooks WHERE id = ?`)
	prep(&w.meta, `UPDATE meta SET position = max(position, ?), last_at = max(last_at, ?) WHERE id = 1`)
	return err
}

func (w *indexWrites) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.upsertCommand, w.readCommand, w.external, w.ticket, w.profile, w.snooze, w.unsnooze, w.blocked, w.user, w.meta, w.snapshot,
		w.reply, w.webhook, w.unwebhook} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// apply writes the index entries of events read in log order, up to
// position pos, in one transaction with the position: a crash leaves the
// index at a batch boundary, and the tail resumes after it.
func (ix *index) apply(ctx context.Context, evs []posEvent, snaps []evictedSnapshot, pos uint64, lastAt time.Time) error {
	tx, err := ix.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer tx.Rollback()
	st := func(s *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, s) }
	if err := ix.writeResults(ctx, tx, evs); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	for _, pe := range evs {
		if err := ix.applyOne(ctx, st, pe.seq, pe.ev); err != nil {
			return fmt.Errorf("index at %d: %w", pe.seq, err)
		}
	}
	if err := ix.writeSnapshots(ctx, tx, snaps); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	var at int64
	if !lastAt.IsZero() {
		at = lastAt.UnixNano()
	}
	if _, err := st(ix.wr.meta).ExecContext(ctx, pos, at); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// writeResults folds the batch's events into their commands' results and
// writes each once. A command's events are contiguous in the log, so only
// the batch's first command can have events in an earlier batch: its row
// alone is read first.
func (ix *index) writeResults(ctx context.Context, tx *sql.Tx, evs []posEvent) error {
	type folded struct {
		r    Result
		seen bool
	}
	results := map[string]*folded{}
	var order []string
	for i, pe := range evs {
		id := pe.ev.CommandID
		if id == "" {
			continue
		}
		f, ok := results[id]
		if !ok {
			f = &folded{}
			if i == 0 || id == evs[0].ev.CommandID {
				var level int
				err := tx.StmtContext(ctx, ix.wr.readCommand).QueryRowContext(ctx, id).
					Scan(&f.r.TicketID, &f.r.ProfileID, &f.r.Outcome, &f.r.Position, &level)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				f.seen, f.r.profileLevel = err == nil, level != 0
			}
			results[id] = f
			order = append(order, id)
		}
		f.r = foldResult(f.r, f.seen, pe.seq, pe.ev)
		f.seen = true
	}
	upsert := tx.StmtContext(ctx, ix.wr.upsertCommand)
	for _, id := range order {
		r := results[id].r
		if _, err := upsert.ExecContext(ctx, id, r.TicketID, r.ProfileID, r.Outcome, r.Position, boolInt(r.profileLevel)); err != nil {
			return err
		}
	}
	return nil
}

func (ix *index) applyOne(ctx context.Context, st func(*sql.Stmt) *sql.Stmt, seq uint64, e domain.Event) error {
	if e.Aggregate.Kind == domain.KindProfile {
		if _, err := st(ix.wr.profile).ExecContext(ctx, e.Aggregate.ID, seq); err != nil {
			return err
		}
	}
	if e.Type == domain.MessageReceived {
		if d := e.Data.(*domain.MessageReceivedData); d.ExternalID != "" {
			if _, err := st(ix.wr.external).ExecContext(ctx, e.ProfileID, d.ExternalID, e.CommandID); err != nil {
				return err
			}
		}
	}
	if e.TicketID != "" {
		if _, err := st(ix.wr.ticket).ExecContext(ctx, e.TicketID, e.ProfileID, seq); err != nil {
			return err
		}
		if s, ok := snoozeChange(e); ok {
			var err error
			if s.ended {
				_, err = st(ix.wr.unsnooze).ExecContext(ctx, e.TicketID)
			} else {
				_, err = st(ix.wr.snooze).ExecContext(ctx, e.TicketID, e.ProfileID, s.due.until)
			}
			if err != nil {
				return err
			}
		}
	}
	if e.Type == domain.ProfileBlocked && e.Aggregate.Kind == domain.KindProfile {
		if _, err := st(ix.wr.blocked).ExecContext(ctx, e.ProfileID); err != nil {
			return err
		}
	}
	if e.Type == domain.UserCreated {
		u := domain.UserFromEvent(e)
		if _, err := st(ix.wr.user).ExecContext(ctx, u.ID, u.Name, string(u.Role), u.TokenHash); err != nil {
			return err
		}
	}
	return ix.applyDelivery(ctx, st, seq, e)
}

// applyDelivery indexes what webhooks and reply reports look up: each
// reply's ticket and the active webhooks.
func (ix *index) applyDelivery(ctx context.Context, st func(*sql.Stmt) *sql.Stmt, seq uint64, e domain.Event) error {
	var err error
	switch e.Type {
	case domain.ReplySent:
		_, err = st(ix.wr.reply).ExecContext(ctx, e.Data.(*domain.ReplySentData).MessageID, e.TicketID)
	case domain.WebhookCreated:
		var b []byte
		if b, err = json.Marshal(newWebhookRecord(e, seq)); err == nil {
			_, err = st(ix.wr.webhook).ExecContext(ctx, e.Aggregate.ID, b)
		}
	case domain.WebhookRemoved:
		_, err = st(ix.wr.unwebhook).ExecContext(ctx, e.Aggregate.ID)
	}
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
