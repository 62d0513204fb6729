package projections

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInboxQueryPlans checks that every inbox list, in both sorts, with
// and without a cursor, reads each status as one range of the index made
// for its view and sort, in the index's order: no full scan, no sort in a
// temporary b-tree, so a page costs its own length at any size. The one
// branch allowed a sort is that of the snoozes already due, which open
// lists add: it reads only those, by their until.
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
	const due = "INDEX tickets_snoozed_until (snoozed_until<?)"
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
						// The steps under the branch that reads the due
						// snoozes, which may sort what it reads.
						dueBranch := -1
						reads, dues := 0, 0
						for _, s := range plan {
							if strings.HasPrefix(s.detail, "SEARCH tickets") && strings.HasSuffix(s.detail, due) {
								dueBranch = s.parent
								dues++
							}
						}
						for _, s := range plan {
							switch {
							case strings.HasPrefix(s.detail, "SCAN"),
								strings.Contains(s.detail, "TEMP B-TREE") && s.parent != dueBranch:
								t.Fatalf("plan scans, or sorts more than the due snoozes:\n%s", planText(plan))
							case strings.HasPrefix(s.detail, "SEARCH tickets") && !strings.HasSuffix(s.detail, due):
								reads++
								if !strings.Contains(s.detail, want) {
									t.Fatalf("plan reads another index than %s:\n%s", indexes[sort][view], planText(plan))
								}
							}
						}
						if wantDue := status == StatusOpen; reads != 1 || (dues == 1) != wantDue {
							t.Fatalf("plan reads %d ranges of the sort's index and %d of the due snoozes:\n%s", reads, dues, planText(plan))
						}
					})
				}
			}
		}
	}
}

type planStep struct {
	id, parent int
	detail     string
}

func planText(plan []planStep) string {
	var b strings.Builder
	for _, s := range plan {
		fmt.Fprintf(&b, "  %d %d %s\n", s.id, s.parent, s.detail)
	}
	return b.String()
}

// queryPlan returns the steps of EXPLAIN QUERY PLAN for query.
func queryPlan(t *testing.T, db *DB, query string, args []any) []planStep {
	t.Helper()
	rows, err := db.r.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []planStep
	for rows.Next() {
		var s planStep
		var unused int
		if err := rows.Scan(&s.id, &s.parent, &unused, &s.detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}
