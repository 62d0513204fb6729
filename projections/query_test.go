package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// inbox is a small inbox, one ticket a minute, newest last:
//
//	t1 unassigned open         t4 unassigned snoozed until +2h
//	t2 agent A   open          t5 agent B    closed
//	t3 agent A   snoozed +1h   t6 agent B    open
type inbox struct {
	e    *env
	v    *Views
	a, b domain.User
	t    [7]string // t[1]..t[6]
}

func newInbox(t *testing.T) *inbox {
	e := newEnv(t)
	in := &inbox{e: e, a: e.user("A", domain.RoleSupport), b: e.user("B", domain.RoleSupport)}
	for i := 1; i <= 6; i++ {
		e.clock.Advance(time.Minute)
		in.t[i] = e.inbound(fmt.Sprintf("p%d", i), fmt.Sprintf("message %d", i)).TicketID
	}
	assign := func(i int, u domain.User) { e.exec(domain.Assign{TicketID: in.t[i], AssigneeID: &u.ID}) }
	assign(2, in.a)
	assign(3, in.a)
	assign(5, in.b)
	assign(6, in.b)
	e.exec(domain.Snooze{TicketID: in.t[3], Until: ptr(clockStart.Add(time.Hour))})
	e.exec(domain.Snooze{TicketID: in.t[4], Until: ptr(clockStart.Add(2 * time.Hour))})
	e.exec(domain.Close{TicketCommand: ticketCmd(in.t[5])})
	in.v = e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
	e.sync(in.v)
	return in
}

func TestTicketsFilters(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	early := clockStart.Add(10 * time.Minute) // before every until
	mid := clockStart.Add(90 * time.Minute)   // t3's snooze is due, not yet woken
	late := clockStart.Add(3 * time.Hour)     // both are due
	cases := []struct {
		view, user, status string
		now                time.Time
		want               []int
	}{
		{"", "", "", early, []int{6, 2, 1}},
		{ViewAll, "", StatusOpen, mid, []int{6, 3, 2, 1}},
		{ViewAll, "", StatusOpen, late, []int{6, 4, 3, 2, 1}},
		{ViewAll, "", StatusSnoozed, early, []int{4, 3}},
		{ViewAll, "", StatusSnoozed, mid, []int{4}},
		{ViewAll, "", StatusSnoozed, late, nil},
		{ViewAll, "", StatusClosed, early, []int{5}},
		{ViewMine, in.a.ID, StatusOpen, early, []int{2}},
		{ViewMine, in.a.ID, StatusOpen, mid, []int{3, 2}},
		{ViewMine, in.a.ID, StatusSnoozed, early, []int{3}},
		{ViewMine, in.a.ID, StatusClosed, early, nil},
		{ViewMine, in.b.ID, StatusClosed, early, []int{5}},
		{ViewMine, in.b.ID, StatusOpen, early, []int{6}},
		{ViewUnassigned, "", StatusOpen, early, []int{1}},
		{ViewUnassigned, "", StatusOpen, late, []int{4, 1}},
		{ViewUnassigned, "", StatusSnoozed, early, []int{4}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s/%s", c.view, c.user, c.status, c.now.Sub(clockStart)), func(t *testing.T) {
			t.Parallel()
			page, err := in.v.Tickets(testContext(t), TicketQuery{View: c.view, UserID: c.user, Status: c.status, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, s := range page.Tickets {
				got = append(got, slices.Index(in.t[:], s.ID))
				wantStatus := c.status
				if wantStatus == "" {
					wantStatus = StatusOpen
				}
				// A due snooze is reported open, without its until (R4).
				if s.Status != wantStatus || (s.SnoozedUntil != nil) != (wantStatus == StatusSnoozed) ||
					(s.ClosedAt != nil) != (wantStatus == StatusClosed) {
					t.Fatalf("ticket %d reported as %+v", slices.Index(in.t[:], s.ID), s)
				}
			}
			if !slices.Equal(got, c.want) || page.NextCursor != nil {
				t.Fatalf("tickets %v (next %v), want %v", got, page.NextCursor, c.want)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	cases := []struct {
		name string
		user string
		now  time.Time
		want Counts
	}{
		{"before any until", in.a.ID, clockStart.Add(10 * time.Minute), Counts{
			All: StatusCounts{3, 2, 1}, Mine: StatusCounts{1, 1, 0}, Unassigned: StatusCounts{1, 1, 0}}},
		{"a due snooze counts as open", in.a.ID, clockStart.Add(90 * time.Minute), Counts{
			All: StatusCounts{4, 1, 1}, Mine: StatusCounts{2, 0, 0}, Unassigned: StatusCounts{1, 1, 0}}},
		{"another user", in.b.ID, clockStart.Add(3 * time.Hour), Counts{
			All: StatusCounts{5, 0, 1}, Mine: StatusCounts{1, 0, 1}, Unassigned: StatusCounts{2, 0, 0}}},
		{"no user", "", clockStart, Counts{
			All: StatusCounts{3, 2, 1}, Unassigned: StatusCounts{1, 1, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := in.v.Counts(testContext(t), c.user, c.now)
			if err != nil || got != c.want {
				t.Fatalf("counts = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestTicketsPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
	for i := range 23 {
		// Three tickets share each time: ties are broken by id.
		if i%3 == 0 {
			e.clock.Advance(time.Minute)
		}
		e.inbound(fmt.Sprintf("page%02d", i), "hello")
	}
	e.sync(v)
	ctx := testContext(t)
	all, err := v.Tickets(ctx, TicketQuery{Limit: 1000, Now: e.clock.Now()})
	if err != nil || len(all.Tickets) != 23 || all.NextCursor != nil {
		t.Fatalf("full list: %d tickets, next %v, %v", len(all.Tickets), all.NextCursor, err)
	}
	for _, limit := range []int{1, 5, 22, 23} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 30 {
					t.Fatal("paging does not end")
				}
				page, err := v.Tickets(ctx, TicketQuery{Limit: limit, Cursor: cursor, Now: e.clock.Now()})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Tickets) > limit {
					t.Fatalf("page of %d tickets, limit %d", len(page.Tickets), limit)
				}
				for _, s := range page.Tickets {
					got = append(got, s.ID)
				}
				if page.NextCursor == nil {
					break
				}
				cursor = *page.NextCursor
			}
			var want []string
			for _, s := range all.Tickets {
				want = append(want, s.ID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages gave %d tickets, want the %d of the full list in order", len(got), len(want))
			}
		})
	}
	t.Run("inserts between pages", func(t *testing.T) {
		first, err := v.Tickets(ctx, TicketQuery{Limit: 10, Now: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		// New activity lands above the cursor: it neither repeats a row
		// nor pushes one past the next page.
		for i := range 4 {
			e.clock.Advance(time.Second)
			e.inbound(fmt.Sprintf("late%d", i), "new")
		}
		e.sync(v)
		seen := map[string]int{}
		for _, s := range first.Tickets {
			seen[s.ID]++
		}
		cursor := first.NextCursor
		for cursor != nil {
			page, err := v.Tickets(ctx, TicketQuery{Limit: 10, Cursor: *cursor, Now: e.clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Tickets {
				seen[s.ID]++
			}
			cursor = page.NextCursor
		}
		for _, s := range all.Tickets {
			if seen[s.ID] != 1 {
				t.Fatalf("ticket %s seen %d times", s.ID, seen[s.ID])
			}
		}
		if len(seen) != len(all.Tickets) {
			t.Fatalf("saw %d tickets, want the %d present at the first page", len(seen), len(all.Tickets))
		}
	})
}

func TestTicketsInvalidQuery(t *testing.T) {
	t.Parallel()
	cases := []TicketQuery{
		{View: "everything"},
		{Status: "pending"},
		{View: ViewMine},
		{Limit: -1},
		{Cursor: "not base64!"},
		{Cursor: "bm9waXBl"}, // base64 of "nopipe"
		{Sort: "oldest"},
		{Sort: SortWaiting, Cursor: "MXx4"},   // base64 of "1|x", a newest cursor
		{Sort: SortNewest, Cursor: "d3wxfHg"}, // base64 of "w|1|x", a waiting cursor
	}
	for _, q := range cases {
		if _, _, _, _, err := ticketsSQL(q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%+v: err = %v, want ErrInvalidQuery", q, err)
		}
	}
	_, _, limit, _, err := ticketsSQL(TicketQuery{Limit: 10000})
	if err != nil || limit != MaxLimit {
		t.Errorf("limit 10000 became %d, %v", limit, err)
	}
	_, _, limit, _, _ = ticketsSQL(TicketQuery{})
	if limit != DefaultLimit {
		t.Errorf("default limit %d", limit)
	}
}

// TestJSONShape pins the contract's field names, nulls and time format.
func TestJSONShape(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	ctx := testContext(t)
	page, err := in.v.Tickets(ctx, TicketQuery{Status: StatusSnoozed, Limit: 1, Now: clockStart})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(page)
	var got map[string]any
	json.Unmarshal(b, &got)
	if _, ok := got["next_cursor"].(string); !ok {
		t.Fatalf("next_cursor = %v", got["next_cursor"])
	}
	s := got["tickets"].([]any)[0].(map[string]any)
	var keys []string
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := "assignee_id closed_at id last_message_at message_count preview profile_id snoozed_until status unread waiting_since"
	if strings.Join(keys, " ") != want {
		t.Fatalf("summary keys %v", keys)
	}
	if s["closed_at"] != nil || s["assignee_id"] != nil || s["snoozed_until"] != "2026-03-02T11:00:00Z" ||
		s["last_message_at"] != "2026-03-02T09:04:00Z" || s["waiting_since"] != "2026-03-02T09:04:00Z" {
		t.Fatalf("summary %s", b)
	}
	d := mustTicket(t, in.v, in.t[2], clockStart)
	b, _ = json.Marshal(d)
	if !strings.Contains(string(b), `"messages":[{"id":"`) || !strings.Contains(string(b), `"author_id":null,"status":null,"status_reason":null}`) ||
		!strings.Contains(string(b), `"direction":"inbound"`) {
		t.Fatalf("detail %s", b)
	}
	h := history(t, in.v, in.t[2])
	b, _ = json.Marshal(h[0])
	if !strings.HasPrefix(string(b), `{"position":`) || !strings.Contains(string(b), `"type":"TicketOpened","at":"2026-03-02T09:02:00Z"`) {
		t.Fatalf("history entry %s", b)
	}
	p, _ := in.v.Profile(ctx, "p1")
	b, _ = json.Marshal(p)
	if string(b) != fmt.Sprintf(`{"id":"p1","phones":[],"blocked":false,"ticket_ids":["%s"]}`, in.t[1]) {
		t.Fatalf("profile %s", b)
	}
}
