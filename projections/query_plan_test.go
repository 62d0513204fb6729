package projections

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInboxQueryPlans checks that every inbox list, in both sorts, with
// and without a cursor, reads each of its statuses as one range of the
// index made for it, in the index's order: no full scan, no sort in a
// temporary b-tree, so a page costs its own length at any size.
func TestInboxQueryPlans(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	indexes := map[string]map[string]string{
		SortNewest:  {ViewAll: "tickets_by_status", ViewMine: "tickets_by_assignee", ViewUnassigned: "tickets_by_assignee"},
		SortWaiting: {ViewAll: "tickets_by_wait", ViewMine: "tickets_by_assignee_wait", ViewUnassigned: "tickets_by_assignee_wait"},
	}
	for _, sort := range []string{SortNewest, SortWaiting} {
		order, _ := orderOf(sort)
		cursor := order.encode(cursorKey{key: 1, id: "x"})
		for _, view := range []string{ViewAll, ViewMine, ViewUnassigned} {
			for _, status := range []string{StatusOpen, StatusSnoozed, StatusClosed} {
				for _, c := range []string{"", cursor} {
					q := TicketQuery{Sort: sort, View: view, UserID: "u", Status: status, Cursor: c, Now: time.Now()}
					t.Run(fmt.Sprintf("%s/%s/%s/cursor=%v", sort, view, status, c != ""), func(t *testing.T) {
						query, args, _, _, err := ticketsSQL(q)
						if err != nil {
							t.Fatal(err)
						}
						plan := queryPlan(t, db, query, args)
						want := "USING INDEX " + indexes[sort][view] + " ("
						reads := 0
						for _, step := range plan {
							if strings.Contains(step, "TEMP B-TREE") || strings.HasPrefix(step, "SCAN") {
								t.Fatalf("plan sorts or scans:\n%s", strings.Join(plan, "\n"))
							}
							if strings.HasPrefix(step, "SEARCH tickets") {
								reads++
								if !strings.Contains(step, want) {
									t.Fatalf("plan reads another index than %s:\n%s", indexes[sort][view], strings.Join(plan, "\n"))
								}
							}
						}
						if reads == 0 {
							t.Fatalf("plan reads no index:\n%s", strings.Join(plan, "\n"))
						}
					})
				}
			}
		}
	}
}

// queryPlan returns the steps of EXPLAIN QUERY PLAN for query.
func queryPlan(t *testing.T, db *DB, query string, args []any) []string {
	t.Helper()
	rows, err := db.r.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}
