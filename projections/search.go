package projections

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
)

// Search (spec section 8) lists the tickets of a view and status that
// match every word of a query, in the order of its sort, paged like the
// inbox. A word matches a ticket when one of the ticket's terms
// (search_index.go) starts with it, or its id does.
//
// The index is a plain table rather than one of SQLite's full-text
// modules: the go-sqlite3 build in go.mod has no FTS5 without a build tag,
// and FTS4 deletes by adding delete markers, leaving an erased text's
// words in its older segments until the whole index is merged again
// (docs/performance.md, "Search"). A row of a table is rewritten the
// moment a block deletes the text, the old bytes zeroed by secure_delete,
// and Verify compares it like any other.
//
// A page is found one of three ways:
//   - sorting: the tickets that match every word are read from the
//     index, the rarest word first, then, for each other word, only the
//     buckets where tickets remain; their rows are sorted. It costs what
//     the words have (a name, a phone, an order number);
//   - walking: the same matches, but the inbox list is read in its order,
//     keeping them, until the page is full (many matches);
//   - walking lazily: when every word is common, the inbox list is read
//     in its order and each ticket checked against each word's row of its
//     bucket, read the first time the walk reaches the bucket: a page then
//     costs a few buckets, not every ticket of the words. A walk that goes
//     on much longer than the words' shares foretold gives way to sorting.

// searchPlan is how a search reads its page.
type searchPlan int

const (
	planAuto searchPlan = iota
	planSort
	planWalk
	planLazy
)

// A lazy walk is chosen when the rarest word is on at least lazyShare of
// the tickets (below, reading its tickets costs less) and the page should
// take at most lazyRows rows of the inbox; it gives up after lazyBudget
// times the rows foreseen, at least lazyMinBudget. Measured at 1M tickets
// (docs/performance.md, "Search"): a walk of 5,000 rows takes 1-5 ms,
// where reading two common words' tickets first took 15-25 ms.
const (
	lazyShare     = 0.005
	lazyRows      = 10_000
	lazyBudget    = 4
	lazyMinBudget = 1_000
)

// search serves Tickets for a query with Q.
func (v *Views) search(ctx context.Context, q TicketQuery) (TicketPage, error) {
	if len(q.Q) > maxQueryBytes {
		return TicketPage{}, fmt.Errorf("%w: q must be at most %d bytes", ErrInvalidQuery, maxQueryBytes)
	}
	ws := queryWords(q.Q)
	if len(ws) > maxQueryWords {
		return TicketPage{}, fmt.Errorf("%w: q must have at most %d words", ErrInvalidQuery, maxQueryWords)
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return TicketPage{}, err
	}
	if _, _, _, err := scopeFilter(q); err != nil {
		return TicketPage{}, err
	}
	if _, _, err := statusBranches(q.Status, 0); err != nil {
		return TicketPage{}, err
	}
	page := TicketPage{Tickets: []TicketSummary{}}
	if len(ws) == 0 {
		// Nothing but punctuation: no word to match, no ticket.
		return page, nil
	}
	// One read transaction, so that the index and the tickets agree.
	err = v.readTx(ctx, func(tx *sql.Tx) error {
		total, scope, err := scopeSize(ctx, tx, q)
		if err != nil {
			return err
		}
		wp, err := planWords(ctx, tx, ws, total)
		if err != nil {
			return err
		}
		var found []int64
		lazy := q.plan == planLazy
		if q.plan == planAuto {
			lazy = wp.lazy(limit)
		}
		if lazy {
			budget := -1
			if q.plan == planAuto {
				budget = max(lazyMinBudget, lazyBudget*int(float64(limit+1)/wp.joint()))
			}
			var complete bool
			if found, complete, err = walk(ctx, tx, q, limit+1, budget, wp.lazyMember(ctx, tx)); err != nil {
				return err
			}
			lazy = complete
		}
		if !lazy {
			matches, err := wp.match(ctx, tx)
			if err != nil || len(matches) == 0 {
				return err
			}
			found = matches
			plan := q.plan
			if plan == planAuto || plan == planLazy {
				plan = choosePlan(len(matches), total, scope, limit)
			}
			if plan == planWalk {
				member := func(p int64) (bool, error) { _, ok := slices.BinarySearch(matches, p); return ok, nil }
				if found, _, err = walk(ctx, tx, q, limit+1, -1, member); err != nil {
					return err
				}
			}
		}
		page, err = sortedPage(ctx, tx, q, found, limit)
		return err
	})
	if err != nil {
		return TicketPage{}, fmt.Errorf("search tickets: %w", err)
	}
	return page, nil
}

// positionsJSON lists positions as a JSON array.
func positionsJSON(ps []int64) string {
	b := make([]byte, 0, len(ps)*8+2)
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, p, 10)
	}
	return string(append(b, ']'))
}

// choosePlan compares the rows each way reads. Sorting reads every match.
// The walk reads the inbox list until the page is full: with matches
// spread over the inbox regardless of view and status, one row in
// total/matches is one, and it never reads more than the view and status
// hold.
func choosePlan(matches, total, scope, limit int) searchPlan {
	walk := min(scope, (limit+1)*total/max(1, matches))
	if walk < matches {
		return planWalk
	}
	return planSort
}

// scopeSize returns how many tickets there are, and how many of them the
// query's view and status hold, from the counts the views keep.
func scopeSize(ctx context.Context, tx *sql.Tx, q TicketQuery) (total, scope int, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT assignee_id, status, n FROM ticket_counts`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var assignee, status string
		var n int
		if err := rows.Scan(&assignee, &status, &n); err != nil {
			return 0, 0, err
		}
		total += n
		inView := q.View == ViewAll || q.View == "" || q.View == ViewMine && assignee == q.UserID ||
			q.View == ViewUnassigned && assignee == ""
		// A due snooze lists as open: open counts the snoozed too.
		inStatus := q.Status == "" || q.Status == status || q.Status == StatusOpen && status == StatusSnoozed
		if inView && inStatus {
			scope += n
		}
	}
	return total, scope, rows.Err()
}

// walk reads the inbox list of q in its order and returns, sorted, the
// first n of its tickets that member takes; complete is false when it
// gave up after budget rows (-1: no bound) without finding them all.
func walk(ctx context.Context, tx *sql.Tx, q TicketQuery, n, budget int, member func(int64) (bool, error)) (found []int64, complete bool, err error) {
	order, err := orderOf(q.Sort)
	if err != nil {
		return nil, false, err
	}
	// A compound SELECT orders by columns it returns: the sort's key.
	query, args, _, err := inboxSQL(q, `position, `+order.key+`, id`)
	if err != nil {
		return nil, false, err
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for read := 0; len(found) < n && rows.Next(); read++ {
		if read == budget {
			return nil, false, nil
		}
		var pos, at int64
		var id string
		if err := rows.Scan(&pos, &at, &id); err != nil {
			return nil, false, err
		}
		ok, err := member(pos)
		if err != nil {
			return nil, false, err
		}
		if ok {
			found = append(found, pos)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	slices.Sort(found)
	return found, true, nil
}

// sortedPage reads the page of q among the tickets at positions ps: the
// page's positions are sorted first, on the sort key alone, then its rows
// are read.
func sortedPage(ctx context.Context, tx *sql.Tx, q TicketQuery, ps []int64, limit int) (TicketPage, error) {
	filter, fargs, order, err := scopeFilter(q)
	if err != nil {
		return TicketPage{}, err
	}
	var status string
	var sargs []any
	now := nanos(q.Now)
	switch q.Status {
	case StatusOpen:
		status = ` AND (status = 'open' OR status = 'snoozed' AND snoozed_until <= ?)`
		sargs = []any{now}
	case StatusSnoozed:
		status = ` AND status = 'snoozed' AND snoozed_until > ?`
		sargs = []any{now}
	case StatusClosed:
		status = ` AND status = 'closed'`
	}
	among := func(cols string) string {
		return `SELECT ` + cols + ` FROM (SELECT value AS pos FROM json_each(?)) AS m
			CROSS JOIN tickets ON tickets.position = m.pos WHERE 1` + status + filter + order.orderBy + ` LIMIT ?`
	}
	args := append(append(append([]any{positionsJSON(ps)}, sargs...), fargs...), limit+1)
	if len(ps) > limit+1 {
		if ps, err = column[int64](ctx, tx, nil, among(`position`), args...); err != nil {
			return TicketPage{}, err
		}
		args[0] = positionsJSON(ps)
	}
	return readPage(ctx, tx, among(ticketColumns), args, limit, order, now)
}
