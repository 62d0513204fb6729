package projections

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketbus/ticketbus/domain"
)

// searchWorld is a small inbox whose tickets each hold what a search must
// find: texts of every kind of message, profile ids, phones learnt before
// and after a ticket was opened.
type searchWorld struct {
	e   *env
	v   *Views
	ana domain.User
	// t1..t5 are the tickets, in the order written.
	t1, t2, t3, t4, t5 string
}

func newSearchWorld(t *testing.T) *searchWorld {
	e := newEnv(t)
	w := &searchWorld{e: e, v: e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})}
	w.ana = e.user("Ana", domain.RoleSupport)
	step := func() { e.clock.Advance(time.Minute) }
	w.t1 = e.exec(domain.Inbound{ProfileID: "alice.martin@example.com", Phone: "+33612345678",
		Body: "Bonjour, ma commande n°4521 n'est pas arrivée"}).TicketID
	e.exec(domain.Assign{TicketID: w.t1, AssigneeID: &w.ana.ID})
	e.exec(domain.Reply{TicketID: w.t1, Body: "Nous vérifions la livraison"})
	e.exec(domain.Note{TicketID: w.t1, Body: "Colis perdu chez le TRANSPORTEUR"})
	step()
	w.t2 = e.inbound("bob", "My parcel arrived broken, I want a refund").TicketID
	e.exec(domain.Close{TicketCommand: ticketCmd(w.t2)})
	step()
	w.t3 = e.inbound("carol", "Where is my parcel?").TicketID
	e.exec(domain.Snooze{TicketID: w.t3, Duration: "1h"})
	step()
	// Dave's phone comes with his second message: his open ticket gets it,
	// and so does the one he opens later.
	w.t4 = e.inbound("dave", "hello").TicketID
	step()
	e.exec(domain.Inbound{ProfileID: "dave", Phone: "+14155550100", Body: "second message"})
	e.exec(domain.Close{TicketCommand: ticketCmd(w.t4)})
	e.clock.Advance(73 * time.Hour)
	w.t5 = e.inbound("dave", "third time lucky").TicketID
	e.sync(w.v)
	return w
}

// find runs a search under each plan, checks that they agree, and returns
// the ids found, newest activity first.
func (w *searchWorld) find(t *testing.T, q TicketQuery) []string {
	t.Helper()
	if q.Now.IsZero() {
		q.Now = w.e.clock.Now()
	}
	var first []string
	for i, plan := range []searchPlan{planAuto, planSort, planWalk, planLazy} {
		q.plan = plan
		page, err := w.v.Tickets(testContext(t), q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		got := []string{}
		for _, s := range page.Tickets {
			got = append(got, s.ID)
		}
		if i == 0 {
			first = got
		} else if !slices.Equal(got, first) {
			t.Fatalf("search %q: plan %d found %v, auto found %v", q.Q, plan, got, first)
		}
	}
	return first
}

func TestSearch(t *testing.T) {
	t.Parallel()
	w := newSearchWorld(t)
	cases := []struct {
		name string
		q    TicketQuery
		want []string
	}{
		{"an inbound word", TicketQuery{Q: "commande"}, []string{w.t1}},
		{"case and accents are ignored", TicketQuery{Q: "COMMANDE arrivee"}, []string{w.t1}},
		{"a word's start matches", TicketQuery{Q: "arriv"}, []string{w.t2, w.t1}},
		{"every status by default", TicketQuery{Q: "parcel"}, []string{w.t3, w.t2}},
		{"every word must match", TicketQuery{Q: "parcel refund"}, []string{w.t2}},
		{"words in any order, punctuation aside", TicketQuery{Q: "refund, parcel!"}, []string{w.t2}},
		{"a number in a text", TicketQuery{Q: "4521"}, []string{w.t1}},
		{"a reply's word", TicketQuery{Q: "vérifions"}, []string{w.t1}},
		{"a note's word", TicketQuery{Q: "transporteur"}, []string{w.t1}},
		{"a profile id", TicketQuery{Q: "alice.martin@example.com"}, []string{w.t1}},
		{"a word of a profile id", TicketQuery{Q: "martin"}, []string{w.t1}},
		{"a phone", TicketQuery{Q: "+33612345678"}, []string{w.t1}},
		{"a phone's start", TicketQuery{Q: "33612"}, []string{w.t1}},
		{"a phone learnt after the ticket opened, and before the next", TicketQuery{Q: "+14155550100"}, []string{w.t5, w.t4}},
		{"a ticket id", TicketQuery{Q: w.t2}, []string{w.t2}},
		{"a ticket id's first 8 characters", TicketQuery{Q: w.t2[:8]}, []string{w.t2}},
		{"a ticket id's start with a hyphen", TicketQuery{Q: strings.ToUpper(w.t2[:13])}, []string{w.t2}},
		{"a ticket id and a word", TicketQuery{Q: w.t1 + " colis"}, []string{w.t1}},
		{"no match", TicketQuery{Q: "zeppelin"}, []string{}},
		{"a word of one ticket and one of another", TicketQuery{Q: "commande refund"}, []string{}},
		{"nothing but punctuation", TicketQuery{Q: "?! …"}, []string{}},
		{"closed only", TicketQuery{Q: "parcel", Status: StatusClosed}, []string{w.t2}},
		{"snoozed only", TicketQuery{Q: "parcel", Status: StatusSnoozed, Now: clockStart}, []string{w.t3}},
		{"open, with the snooze due", TicketQuery{Q: "parcel", Status: StatusOpen}, []string{w.t3}},
		{"open, before the snooze is due", TicketQuery{Q: "parcel", Status: StatusOpen, Now: clockStart}, []string{}},
		{"my inbox", TicketQuery{Q: "commande", View: ViewMine, UserID: w.ana.ID}, []string{w.t1}},
		{"unassigned", TicketQuery{Q: "commande", View: ViewUnassigned}, []string{}},
		{"unassigned, another word", TicketQuery{Q: "parcel", View: ViewUnassigned}, []string{w.t3, w.t2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := w.find(t, c.q); !slices.Equal(got, c.want) {
				t.Fatalf("search %q found %v, want %v", c.q.Q, got, c.want)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		for _, q := range []TicketQuery{
			{Q: strings.Repeat("a", maxQueryBytes+1)},
			{Q: "a b c d e f g h i"},
			{Q: "x", Status: "pending"},
			{Q: "x", View: "everyone"},
			{Q: "x", Cursor: "!!"},
			{Q: "x", Limit: -1},
		} {
			if _, err := w.v.Tickets(testContext(t), q); !errors.Is(err, ErrInvalidQuery) {
				t.Errorf("%.30q: %v, want ErrInvalidQuery", q.Q, err)
			}
		}
	})
}

// TestSearchPaging pages through a search under each plan: the pages
// follow the inbox order, and together hold every match once.
func TestSearchPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{})
	var want []string
	for i := range 11 {
		e.clock.Advance(time.Minute)
		id := e.inbound(fmt.Sprintf("pager%d", i), fmt.Sprintf("invoice number %d is wrong", i)).TicketID
		want = append([]string{id}, want...)
		e.inbound(fmt.Sprintf("other%d", i), "unrelated")
	}
	e.sync(v)
	for _, plan := range []searchPlan{planAuto, planSort, planWalk, planLazy} {
		var got []string
		q := TicketQuery{Q: "invoice wrong", Limit: 4, Now: e.clock.Now(), plan: plan}
		for pages := 0; ; pages++ {
			page, err := v.Tickets(testContext(t), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Tickets {
				got = append(got, s.ID)
			}
			if page.NextCursor == nil {
				if pages != 2 {
					t.Errorf("plan %d: %d pages after the first, want 2", plan, pages)
				}
				break
			}
			q.Cursor = *page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("plan %d paged %v, want %v", plan, got, want)
		}
	}
}

// TestSearchErasure: once a block is applied, the blocked customer's
// words find nothing and are in no file of the views' directory, WAL
// included; the team's words on the same ticket are still found, and a
// rebuild and a verify agree.
func TestSearchErasure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	v := e.openViews(filepath.Join(dir, "views.db"), ProjectorConfig{})
	// Words no other text holds, so that a file holding them holds the
	// erased text.
	secret := "Quokkazanzibar says xylophonique parcel"
	id := e.inbound("victim", secret).TicketID
	e.exec(domain.Reply{TicketID: id, Body: "Your parcel is on its way"})
	e.exec(domain.Note{TicketID: id, Body: "Flagged by Marguerite"})
	e.inbound("bystander", "another parcel")
	e.sync(v)
	w := &searchWorld{e: e, v: v}
	for _, q := range []string{"quokkazanzibar", "xylophonique"} {
		if got := w.find(t, TicketQuery{Q: q}); !slices.Equal(got, []string{id}) {
			t.Fatalf("before the block %q found %v", q, got)
		}
		if files := filesHolding(t, dir, q); len(files) == 0 {
			t.Fatalf("%q is on no file before the block: this test could not see it stay", q)
		}
	}

	e.exec(domain.Block{BlockTarget: domain.BlockTarget{ProfileID: "victim"}})
	e.sync(v)
	check := func(when string) {
		t.Helper()
		for _, q := range []string{"quokkazanzibar", "quokka", "xylophonique", "Quokkazanzibar xylo"} {
			if got := w.find(t, TicketQuery{Q: q}); len(got) != 0 {
				t.Fatalf("%s, %q still finds %v", when, q, got)
			}
		}
		for _, word := range []string{"quokkazanzibar", "Quokkazanzibar", "xylophonique"} {
			if files := filesHolding(t, dir, word); len(files) > 0 {
				t.Fatalf("%s, %q is still in %v", when, word, files)
			}
		}
		// The team's words, and a word the reply shares with the erased
		// text, still find the ticket; so do its profile and id.
		for _, q := range []string{"marguerite", "parcel way", "victim", id} {
			if got := w.find(t, TicketQuery{Q: q}); !slices.Contains(got, id) {
				t.Fatalf("%s, %q no longer finds the ticket: %v", when, q, got)
			}
		}
	}
	check("after the block")
	mustVerify(t, v)
	if err := v.Rebuild(testContext(t)); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild")
}
