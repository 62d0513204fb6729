package projections

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// sortWorld is an inbox of tickets in every state a sort meets: waiting
// since the same instant (ties), waiting since a later message, answered,
// noted, snoozed (one due at now), closed; assigned or not.
type sortWorld struct {
	e   *env
	v   *Views
	ids []string
	now time.Time
}

func newSortWorld(t *testing.T) *sortWorld {
	e := newEnv(t)
	w := &sortWorld{e: e, v: e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})}
	for i, steps := range []string{
		"in", "in reply", "in reply in", "in assign", "in note", "in reply assign", "in snooze", "in close",
		"in assign snooze", "in reply close", "in in", "in assign reply in", "in reply",
	} {
		id, _ := waitSteps(t, e, fmt.Sprintf("sorted%02d", i), steps)
		w.ids = append(w.ids, id)
	}
	// Three customers write at the same instant: their tickets tie on
	// every time, and their ids order them.
	for i := range 3 {
		w.ids = append(w.ids, e.inbound(fmt.Sprintf("tied%d", i), "same time, same words").TicketID)
	}
	// One snooze is due by now, the other is not.
	e.exec(domain.Snooze{TicketID: w.ids[6], Duration: "1h"})
	e.clock.Advance(2 * time.Hour)
	w.now = e.clock.Now()
	e.sync(w.v)
	return w
}

// want lists, by the rule each sort states, the tickets of q's view and
// status that match q.Q (every ticket does but one) as their details show
// them.
func (w *sortWorld) want(t *testing.T, q TicketQuery) []string {
	var in []TicketSummary
	for _, id := range w.ids {
		s := mustTicket(t, w.v, id, w.now).TicketSummary
		inView := q.View == ViewAll || q.View == ViewMine && s.AssigneeID != nil && *s.AssigneeID == q.UserID ||
			q.View == ViewUnassigned && s.AssigneeID == nil
		match := q.Q == "" || !strings.HasPrefix(s.ProfileID, "tied")
		if inView && match && (q.Status == s.Status || q.Status == "" && q.Q != "") {
			in = append(in, s)
		}
	}
	slices.SortFunc(in, func(a, b TicketSummary) int {
		if q.Sort == SortNewest {
			return cmp.Or(b.LastMessageAt.Compare(a.LastMessageAt), strings.Compare(b.ID, a.ID))
		}
		switch {
		case a.WaitingSince != nil && b.WaitingSince != nil:
			return cmp.Or(a.WaitingSince.Compare(*b.WaitingSince), strings.Compare(a.ID, b.ID))
		case a.WaitingSince != nil:
			return -1
		case b.WaitingSince != nil:
			return 1
		}
		return cmp.Or(b.LastMessageAt.Compare(a.LastMessageAt), strings.Compare(a.ID, b.ID))
	})
	ids := []string{}
	for _, s := range in {
		ids = append(ids, s.ID)
	}
	return ids
}

// pages reads every page of q at limit and returns the ids in order.
func (w *sortWorld) pages(t *testing.T, q TicketQuery, limit int) []string {
	t.Helper()
	got := []string{}
	q.Limit, q.Cursor, q.Now = limit, "", w.now
	for range 100 {
		page, err := w.v.Tickets(testContext(t), q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if len(page.Tickets) > limit {
			t.Fatalf("page of %d, limit %d", len(page.Tickets), limit)
		}
		for _, s := range page.Tickets {
			got = append(got, s.ID)
		}
		if page.NextCursor == nil {
			return got
		}
		q.Cursor = *page.NextCursor
	}
	t.Fatal("paging does not end")
	return nil
}

// TestTicketsSort lists every view and status in both sorts, plain and
// searched under each search plan, in one page and in pages of several
// sizes: the pages give the rule's order, no row twice, none left out.
func TestTicketsSort(t *testing.T) {
	t.Parallel()
	w := newSortWorld(t)
	owner := w.e.owner.ID
	var queries []TicketQuery
	for _, sort := range []string{SortNewest, SortWaiting} {
		for _, view := range []string{ViewAll, ViewMine, ViewUnassigned} {
			for _, status := range []string{StatusOpen, StatusSnoozed, StatusClosed} {
				queries = append(queries, TicketQuery{Sort: sort, View: view, UserID: owner, Status: status})
			}
			for _, status := range []string{"", StatusOpen, StatusClosed} {
				queries = append(queries, TicketQuery{Sort: sort, View: view, UserID: owner, Status: status, Q: "question"})
			}
		}
	}
	for _, q := range queries {
		t.Run(fmt.Sprintf("%s/%s/%s/%s", q.Sort, q.View, q.Status, q.Q), func(t *testing.T) {
			want := w.want(t, q)
			plans := []searchPlan{planAuto}
			if q.Q != "" {
				plans = append(plans, planSort, planWalk, planLazy)
			}
			for _, plan := range plans {
				q.plan = plan
				for _, limit := range []int{1, 2, 3, 7, MaxLimit} {
					if got := w.pages(t, q, limit); !slices.Equal(got, want) {
						t.Fatalf("plan %d, pages of %d:\n got %v\nwant %v", plan, limit, got, want)
					}
				}
			}
		})
	}
	waiting := w.want(t, TicketQuery{Sort: SortWaiting, View: ViewAll, Status: StatusOpen})
	if newest := w.want(t, TicketQuery{Sort: SortNewest, View: ViewAll, Status: StatusOpen}); len(waiting) < 10 ||
		slices.Equal(waiting, newest) {
		t.Fatalf("%d open tickets, in the same order in both sorts: the world tests nothing", len(waiting))
	}
}

// TestTicketsSortCursors: a cursor belongs to its sort, plain or searched,
// and in the waiting sort new messages between pages move no ticket that
// already waits, so each is listed once.
func TestTicketsSortCursors(t *testing.T) {
	t.Parallel()
	w := newSortWorld(t)
	ctx := testContext(t)
	for _, q := range []string{"", "question"} {
		for _, c := range [][2]string{{SortNewest, SortWaiting}, {SortWaiting, SortNewest}, {SortWaiting, ""}} {
			first, err := w.v.Tickets(ctx, TicketQuery{Sort: c[0], Q: q, Limit: 2, Now: w.now})
			if err != nil || first.NextCursor == nil {
				t.Fatalf("first page: %+v, %v", first, err)
			}
			_, err = w.v.Tickets(ctx, TicketQuery{Sort: c[1], Q: q, Limit: 2, Cursor: *first.NextCursor, Now: w.now})
			if !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), "another sort") {
				t.Errorf("q %q: a cursor of sort %s given to sort %q: %v", q, c[0], c[1], err)
			}
		}
	}

	q := TicketQuery{Sort: SortWaiting, Limit: 3, Now: w.now}
	first, err := w.v.Tickets(ctx, q)
	if err != nil || first.NextCursor == nil {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	before := w.pages(t, q, MaxLimit)
	for _, s := range before {
		if d := mustTicket(t, w.v, s, w.now); d.WaitingSince != nil {
			w.e.exec(domain.Inbound{ProfileID: d.ProfileID, Body: "still there?"})
		}
	}
	w.e.inbound("newcomer", "a question")
	w.e.sync(w.v)
	seen := map[string]int{}
	for _, s := range first.Tickets {
		seen[s.ID]++
	}
	q.Cursor = *first.NextCursor
	for {
		page, err := w.v.Tickets(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Tickets {
			seen[s.ID]++
		}
		if page.NextCursor == nil {
			break
		}
		q.Cursor = *page.NextCursor
	}
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("ticket %s listed %d times", id, seen[id])
		}
	}
}
