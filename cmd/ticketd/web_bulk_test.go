package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// failure is the line of a bulk action's results about one ticket that
// failed, with the engine's error code.
func failure(id, code string) string {
	return fmt.Sprintf(`#bulk-failures [data-testid="bulk-failure"][data-ticket-id="%s"][data-code="%s"]`, id, code)
}

const barHidden = `document.querySelector("#bulk-bar").hidden`

// walkBulkEnglish picks three tickets of a search by their boxes, by x
// and by "select all shown", and closes them together after one of them
// was closed meanwhile: the page says two succeeded and why the third
// failed, and keeps only that one picked. Marking read and unread works
// on closed tickets too.
func walkBulkEnglish(w *webWalk, c *client) {
	t := w.t
	t.Helper()
	erin := c.cmd("inbound", map[string]any{"profile_id": "erin", "body": "Invoice 1042 is wrong"}).TicketID
	fred := c.cmd("inbound", map[string]any{"profile_id": "fred", "body": "Where is my invoice?"}).TicketID
	gina := c.cmd("inbound", map[string]any{"profile_id": "gina", "body": "Please resend the invoice"}).TicketID

	w.step("bulk: search", chromedp.SendKeys(chromedp.CSS("#search"), "invoice"),
		visible(row(erin)), visible(row(fred)), visible(row(gina)),
		poll(`document.querySelectorAll("#ticket-list li").length === 3`), poll(barHidden))
	w.step("bulk: pick by box", clickLive(pick(erin)), picked(erin, true), visible("#bulk-bar"),
		textHas("#bulk-count", "1 selected"), poll(`document.querySelector("#pick-all").indeterminate`),
		clickLive(pick(fred)), picked(fred, true), textHas("#bulk-count", "2 selected"))
	// x picks the row that j/k point at, here the one just opened.
	w.step("bulk: x", chromedp.Blur(chromedp.CSS("#search")), clickLive(row(gina)+" button.row"),
		visible(`#ticket[data-ticket-id="`+gina+`"]`), visible(row(gina)+".focused"),
		key("x"), picked(gina, true), textHas("#bulk-count", "3 selected"), poll(`document.querySelector("#pick-all").checked`),
		key("x"), picked(gina, false), textHas("#bulk-count", "2 selected"),
		key("x"), picked(gina, true), textHas("#bulk-count", "3 selected"))
	w.step("bulk: select all shown", clickLive("#pick-all"),
		picked(erin, false), picked(fred, false), picked(gina, false), poll(barHidden),
		clickLive("#pick-all"), picked(erin, true), picked(fred, true), picked(gina, true), textHas("#bulk-count", "3 selected"))

	// Erin's ticket is closed by someone else; a search lists every
	// status, so it stays in the list, and picked.
	c.cmd("close", map[string]any{"ticket_id": erin})
	w.step("bulk: closed meanwhile", textHas(row(erin)+` [data-testid="row-status"]`, "Closed"), picked(erin, true))
	// Closing it again is refused (R3): one failure, two successes.
	w.step("bulk: close", click("#bulk-close"),
		visible(`#bulk-result[data-action="close"][data-ok="2"][data-failed="1"]`),
		textHas("#bulk-summary", "Close: 2 of 3 succeeded."), textHas("#bulk-failed", "1 failed:"),
		poll(`document.querySelectorAll("#bulk-failures [data-testid=bulk-failure]").length === 1`),
		visible(failure(erin, "ticket_closed")), textHas(failure(erin, "ticket_closed"), "erin"),
		textHas(failure(erin, "ticket_closed"), "Invoice 1042 is wrong"),
		textHas(failure(erin, "ticket_closed")+` [data-testid="bulk-why"]`, "Already closed: "),
		textHas(failure(erin, "ticket_closed")+` [data-testid="bulk-why"]`, "cannot be closed again"),
		picked(erin, true), picked(fred, false), picked(gina, false), textHas("#bulk-count", "1 selected"),
		textHas(row(fred)+` [data-testid="row-status"]`, "Closed"), textHas(row(gina)+` [data-testid="row-status"]`, "Closed"),
		w.shot("bulk.png"))
	for _, id := range []string{fred, gina} {
		if st := ticketStatus(t, c, id); st != "closed" {
			t.Fatalf("ticket %s is %s after the bulk close, want closed", id, st)
		}
	}

	// Mark unread and read: allowed on closed tickets, so nothing fails.
	w.step("bulk: mark unread", click("#bulk-unread"),
		visible(`#bulk-result[data-action="mark_unread"][data-ok="1"][data-failed="0"]`),
		textHas("#bulk-summary", "Mark unread: 1 of 1 succeeded."), poll(`document.querySelector("#bulk-failed").hidden`),
		poll(`document.querySelectorAll("#bulk-failures li").length === 0`),
		visible(dot(erin)), picked(erin, false), poll(barHidden))
	w.step("bulk: mark read", clickLive(pick(erin)), clickLive(pick(fred)), textHas("#bulk-count", "2 selected"),
		click("#bulk-read"), visible(`#bulk-result[data-action="mark_read"][data-ok="2"][data-failed="0"]`),
		gone(dot(erin)), gone(dot(fred)), poll(barHidden))
	w.step("bulk: done", click("#bulk-dismiss"), poll(`document.querySelector("#bulk-result").hidden`),
		click("#search-clear"), gone(row(erin)))
}

// walkBulkFrench, on the page in French, assigns three tickets of a
// search to a teammate together, then snoozes them after one was closed
// meanwhile: snoozing a closed ticket fails (R3), and says so in French
// with the engine's message.
func walkBulkFrench(w *webWalk, c *client) {
	t := w.t
	t.Helper()
	hugo := c.cmd("inbound", map[string]any{"profile_id": "hugo", "body": "Mon colis est abîmé"}).TicketID
	ines := c.cmd("inbound", map[string]any{"profile_id": "ines", "body": "Colis jamais arrivé"}).TicketID
	jules := c.cmd("inbound", map[string]any{"profile_id": "jules", "body": "Un colis en retard"}).TicketID
	first := "#ticket-list li:first-child"

	w.step("fr bulk: search", chromedp.SendKeys(chromedp.CSS("#search"), "colis"),
		visible(row(hugo)), visible(row(ines)), visible(row(jules)),
		poll(`document.querySelectorAll("#ticket-list li").length === 3`), textHas(".pick-all", "Tout sélectionner"))
	w.step("fr bulk: pick", clickLive(pick(hugo)), picked(hugo, true), textHas("#bulk-count", "1 sélectionné"),
		clickLive("#pick-all"), picked(ines, true), picked(jules, true), textHas("#bulk-count", "3 sélectionnés"),
		// x on the row that j points at: off, then on again.
		click("#thread"), key("j"), visible(first+`.focused[data-picked="true"]`),
		key("x"), visible(first+`[data-picked="false"]`), textHas("#bulk-count", "2 sélectionnés"),
		key("x"), visible(first+`[data-picked="true"]`), textHas("#bulk-count", "3 sélectionnés"))
	w.step("fr bulk: assign", textHas("#bulk-assign", "Personne"),
		chromedp.SendKeys(chromedp.CSS("#bulk-assign"), "Sam"), clickLive("#bulk-assign-go"),
		visible(`#bulk-result[data-action="assign"][data-ok="3"][data-failed="0"]`),
		textHas("#bulk-summary", "Assignation : 3 sur 3 ont réussi."),
		textHas(row(hugo)+` [data-testid="row-assignee"]`, "Sam Support"),
		textHas(row(ines)+` [data-testid="row-assignee"]`, "Sam Support"),
		textHas(row(jules)+` [data-testid="row-assignee"]`, "Sam Support"), poll(barHidden))

	c.cmd("close", map[string]any{"ticket_id": jules})
	w.step("fr bulk: closed meanwhile", textHas(row(jules)+` [data-testid="row-status"]`, "Fermé"),
		clickLive("#pick-all"), textHas("#bulk-count", "3 sélectionnés"))
	w.step("fr bulk: snooze", click("#bulk-snooze"), visible("#snooze-dialog"), textHas("#snooze-dialog", "Demain, 9:00"),
		click(`[data-testid="snooze-3h"]`), click("#snooze-confirm"),
		visible(`#bulk-result[data-action="snooze"][data-ok="2"][data-failed="1"]`),
		textHas("#bulk-summary", "Mise en pause : 2 sur 3 ont réussi."), textHas("#bulk-failed", "1 a échoué :"),
		textHas(failure(jules, "ticket_closed")+` [data-testid="bulk-why"]`, "Déjà fermé : "),
		textHas(failure(jules, "ticket_closed")+` [data-testid="bulk-why"]`, "cannot be snoozed"),
		picked(jules, true), picked(hugo, false), picked(ines, false), textHas("#bulk-count", "1 sélectionné"),
		textHas(row(hugo)+` [data-testid="row-status"]`, "En pause"), textHas(row(ines)+` [data-testid="row-status"]`, "En pause"),
		w.shot("bulk-fr.png"))
}

// endBulkFrench clears what walkBulkFrench left: the pick, the results
// and the search.
func endBulkFrench(w *webWalk) {
	w.step("fr bulk: clear", click("#bulk-clear"), poll(barHidden), click("#bulk-dismiss"),
		poll(`document.querySelector("#bulk-result").hidden`), click("#search-clear"))
}

// ticketStatus is the ticket's status as GET /v1/tickets/{id} says.
func ticketStatus(t *testing.T, c *client, id string) string {
	t.Helper()
	var d struct {
		Status string `json:"status"`
	}
	if code := c.do("GET", "/v1/tickets/"+id, nil, &d); code != 200 {
		t.Fatalf("get ticket %s: %d", id, code)
	}
	return d.Status
}

// listRequested waits until the page has asked for the ticket list with
// every one of these query parameters (the browser's resource timings
// list its requests).
func listRequested(params ...string) chromedp.Action[chromedp.Void] {
	b, _ := json.Marshal(params)
	return poll(fmt.Sprintf(`performance.getEntriesByType("resource").some((e) => {
		const u = new URL(e.name);
		return u.pathname === "/v1/tickets" && %s.every((p) => u.searchParams.getAll(p.split("=")[0]).includes(p.split("=")[1]));
	})`, b))
}

// forgetRequests empties the browser's list of requests made.
var forgetRequests = poll(`(performance.clearResourceTimings(), performance.setResourceTimingBufferSize(2000), true)`)

// walkSort chooses "Longest waiting": every list request says so, with
// the view, status and search, and the choice survives a reload. When the
// engine gives waiting_since (with sort=waiting), the rows show since
// when each customer waits, longest first, in English and French.
func walkSort(w *webWalk, c *client) {
	t := w.t
	t.Helper()
	w.step("sort: longest waiting", textHas("#sort option:checked", "Newest activity"), forgetRequests,
		chromedp.SendKeys(chromedp.CSS("#sort"), "L"), poll(`document.querySelector("#sort").value === "waiting"`),
		listRequested("view=all", "status=open", "sort=waiting"), forgetRequests,
		click(`[data-testid="view-unassigned"]`), listRequested("view=unassigned", "status=open", "sort=waiting"),
		click(`[data-testid="view-all"]`), forgetRequests,
		chromedp.SendKeys(chromedp.CSS("#search"), "invoice"), listRequested("view=all", "q=invoice", "sort=waiting"),
		click("#search-clear"))
	w.step("sort: survives a reload", chromedp.Reload(), visible("#app"), visible("#ticket-list li"),
		poll(`document.querySelector("#sort").value === "waiting"`), textHas("#sort option:checked", "Longest waiting"),
		listRequested("view=all", "status=open", "sort=waiting"))

	// Kim writes first and Lou a minute later; Mia got an answer.
	kim := c.cmd("inbound", map[string]any{"profile_id": "kim", "body": "Still waiting for my refund"}).TicketID
	if code := c.do("POST", "/v1/test-clock/advance", map[string]string{"duration": "1m"}, nil); code != 200 {
		t.Fatalf("advance: %d", code)
	}
	lou := c.cmd("inbound", map[string]any{"profile_id": "lou", "body": "Is my refund on its way?"}).TicketID
	mia := c.cmd("inbound", map[string]any{"profile_id": "mia", "body": "Refund received, thanks"}).TicketID
	c.cmd("reply", map[string]any{"ticket_id": mia, "body": "Glad to hear it"})
	w.step("sort: new tickets", visible(row(kim)), visible(row(lou)), visible(row(mia)))

	before := func(a, b string) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`(() => { const ids = [...document.querySelectorAll("#ticket-list li")].map((li) => li.dataset.ticketId);
			return ids.indexOf(%q) >= 0 && ids.indexOf(%q) > ids.indexOf(%q); })()`, a, b, a))
	}
	waiting := func(id string) string { return row(id) + ` [data-testid="waiting"]` }
	if waitingSinceAvailable(t, c) {
		w.step("sort: waiting since", visible(waiting(kim)), visible(waiting(lou)), textHas(waiting(kim), "waiting"),
			poll(fmt.Sprintf(`document.querySelector(%q).title.startsWith("Waiting for a reply since ")`, waiting(kim))),
			poll(fmt.Sprintf(`!document.querySelector(%q)`, waiting(mia))), before(kim, lou), w.shot("waiting.png"))
		w.step("sort: waiting in French", chromedp.SendKeys(chromedp.CSS("#lang"), "F"),
			textHas(waiting(kim), "en attente depuis"), textHas("#sort option:checked", "Attente la plus longue"),
			choose("#lang", "en"), textHas(waiting(kim), "waiting"))
		w.step("sort: newest first", choose("#sort", "newest"), before(lou, kim), before(mia, kim))
	} else {
		t.Log("GET /v1/tickets has no waiting_since yet: the rows' waiting times and their order are not walked")
		w.step("sort: newest first", choose("#sort", "newest"))
	}
	w.step("sort: newest again", poll(`document.querySelector("#sort").value === "newest"`),
		poll(`localStorage.getItem("ticketbus.sort") === "newest"`), listRequested("sort=newest"))
}

// waitingSinceAvailable says whether the engine sorts by waiting and
// gives each ticket summary its waiting_since (null or a time).
func waitingSinceAvailable(t *testing.T, c *client) bool {
	t.Helper()
	var page struct {
		Tickets []map[string]json.RawMessage `json:"tickets"`
	}
	if code := c.do("GET", "/v1/tickets?sort=waiting", nil, &page); code != 200 || len(page.Tickets) == 0 {
		return false
	}
	_, ok := page.Tickets[0]["waiting_since"]
	return ok
}
