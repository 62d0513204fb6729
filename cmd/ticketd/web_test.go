package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestWebInbox walks the inbox page in a headless browser, by clicking
// and typing, through sign-in, unread, snooze and wake-up, assignment to a
// teammate by name, notes, search, shortcuts, the customer panel and
// history, bulk actions and their results ticket by ticket, the sort and
// waiting times, close, block and unblock, French, no word outside the
// dictionaries, every part once more in French (walkFrench), and a role
// without inbox access.
func TestWebInbox(t *testing.T) {
	m := MustRunMain(t, t.TempDir())
	c := &client{tb: t, m: m, token: ownerToken}
	w := newWebWalk(t)
	base := "http://" + m.HTTPAddr()
	step, shot := w.step, w.shot

	const replyMark = `#thread [data-testid="message"][data-direction="outbound"] [data-testid="reply-status"]`
	openTicket := func(id string) {
		t.Helper()
		step("open "+id, clickLive(row(id)+" button.row"), visible(`#ticket[data-ticket-id="`+id+`"]`), gone(dot(id)))
	}
	snooze1h := func(id string) {
		t.Helper()
		step("snooze "+id, click("#snooze"), visible("#snooze-dialog"), click(`[data-testid="snooze-1h"]`),
			shot("snooze.png"), click("#snooze-confirm"), gone(row(id)))
	}

	// A teammate to assign to, by name.
	var sam struct {
		ID string `json:"id"`
	}
	if code := c.do("POST", "/v1/users", map[string]string{"name": "Sam Support", "role": "support"}, &sam); code != 201 {
		t.Fatalf("create support user: %d", code)
	}

	alice := c.cmd("inbound", map[string]any{"profile_id": "alice", "body": "Hello from Alice, my order is late", "channel": "sms", "phone": "+33612345678"})

	// A wrong token says so; the owner's token signs in.
	step("wrong token", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"),
		visible("#token"), chromedp.SendKeys(chromedp.CSS("#token"), "tbk_wrong"), click("#signin-btn"),
		textHas("#signin-error", "not recognised"))
	step("sign in", chromedp.SetValue(chromedp.CSS("#token"), ownerToken), click("#signin-btn"),
		visible("#app"), visible(dot(alice.TicketID)), textHas("#count-all", "1"), shot("inbox.png"))

	// Opening it clears the dot; Mark as unread brings it back.
	openTicket(alice.TicketID)
	step("reply", chromedp.SendKeys(chromedp.CSS("#reply-body"), "Sorry, we are on it"), click("#reply-send"),
		textHas("#thread", "Sorry, we are on it"), visible(replyMark+`[data-status="pending"]`),
		textHas(replyMark, "Pending"), shot("ticket.png"))
	// The gateway reports the reply failed: the page shows it, with why.
	const reason = "number no longer in service"
	c.cmd("reply_status", map[string]any{"reply_id": replyID(t, c, alice.TicketID), "status": "failed", "reason": reason})
	step("reply failed", visible(replyMark+`[data-status="failed"]`), textHas(replyMark, "Failed"),
		textHas(`[data-testid="reply-reason"]`, reason),
		poll(fmt.Sprintf(`document.querySelector(%q).title.includes(%q)`, replyMark, reason)),
		visible(`[data-testid="message"][data-direction="outbound"].failed`))
	step("mark unread", click("#more"), visible("#mark-unread"), click("#mark-unread"), visible(dot(alice.TicketID)))

	// Assign Alice's ticket to me through the UI, snooze it 1 hour.
	step("assign", click("#assign-me"), textHas("#ticket-meta", "Assigned to you"))
	snooze1h(alice.TicketID)
	step("snoozed list", click(`[data-testid="status-snoozed"]`), visible(row(alice.TicketID)+` [data-testid="snoozed-until"]`),
		shot("snoozed.png"), click(`[data-testid="status-open"]`))

	// Bob's ticket stays unassigned and is snoozed too.
	bob := c.cmd("inbound", map[string]any{"profile_id": "bob", "body": "Can I change my address?"})
	step("bob arrives", visible(dot(bob.TicketID)))
	openTicket(bob.TicketID)
	snooze1h(bob.TicketID)

	// Two hours later both are back in Open: Alice's in My inbox, Bob's in Unassigned.
	var adv struct {
		Position uint64 `json:"position"`
	}
	if code := c.do("POST", "/v1/test-clock/advance", map[string]string{"duration": "2h"}, &adv); code != 200 {
		t.Fatalf("advance: %d", code)
	}
	step("woken", visible(dot(alice.TicketID)), visible(dot(bob.TicketID)))
	step("my inbox", click(`[data-testid="view-mine"]`), visible(row(alice.TicketID)), gone(row(bob.TicketID)))
	step("unassigned", click(`[data-testid="view-unassigned"]`), visible(row(bob.TicketID)), gone(row(alice.TicketID)))

	// Close Bob's: gone from Open, listed in Closed.
	openTicket(bob.TicketID)
	step("close", click("#close"), gone(row(bob.TicketID)), click(`[data-testid="status-closed"]`), visible(row(bob.TicketID)),
		click(`[data-testid="view-all"]`), click(`[data-testid="status-open"]`), visible(row(alice.TicketID)))

	// Alice's ticket goes to Sam by name, from the picker; the list and
	// the history say so too.
	openTicket(alice.TicketID)
	step("assign to teammate", chromedp.SendKeys(chromedp.CSS("#assignee"), "Sam"),
		textHas("#ticket-meta", "Assigned to Sam Support"), textHas(row(alice.TicketID), "Sam Support"),
		textHas("#history-list", "You assigned it to Sam Support"))

	// An internal note stands apart in the thread, with its author.
	step("note", click("#composer-note"), visible(".reply.note-mode"),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Called the courier, parcel leaves today"), click("#reply-send"),
		textHas(`#thread [data-direction="note"]`, "Called the courier"),
		textHas(`#thread [data-direction="note"] [data-testid="message-author"]`, "Internal note · "),
		poll(`document.querySelector("#reply-body").value === ""`))

	// The customer beside the thread: profile, phone, channel, contacts.
	step("customer", textHas(`[data-testid="customer-id"]`, "alice"), textHas(`[data-testid="customer-phones"]`, "+33612345678"),
		textHas(`[data-testid="customer-channel"]`, "SMS"), visible(`[data-testid="customer-first"] time[title]`),
		visible(`[data-testid="customer-blocked"][data-blocked="false"]`), shot("customer.png"))

	// Shortcuts: r then Ctrl+Enter replies, u marks unread, ? shows help.
	step("r", click("#thread"), key("r"), focused("reply-body"), visible(`#composer[data-mode="reply"]`))
	step("ctrl+enter", chromedp.SendKeys(chromedp.CSS("#reply-body"), "It leaves today"), key("\r", chromedp.ModifierCtrl),
		poll(`[...document.querySelectorAll("#thread p")].some((p) => p.textContent === "It leaves today")`))
	step("u", key(kb.Escape), key("u"), visible(dot(alice.TicketID)))
	step("?", key("?"), visible("#help-dialog"), textHas("#help-dialog", "Mark as unread"), shot("help.png"),
		click("#help-close"), gone("#help-dialog[open]"))

	// s snoozes; the ticket wakes by hand from the Snoozed list.
	// The browser speaks en-US: times of day read as Intl writes them there.
	step("s", key("s"), visible("#snooze-dialog"), textHas("#snooze-dialog", "Tomorrow, 9:00"),
		click(`[data-testid="snooze-1h"]`), click("#snooze-confirm"),
		gone(row(alice.TicketID)), click(`[data-testid="status-snoozed"]`), visible(row(alice.TicketID)))
	openTicket(alice.TicketID)
	step("unsnooze", visible("#unsnooze"), click("#unsnooze"), textHas("#ticket-meta", "Open"),
		textHas("#list-empty", "Nothing is snoozed"), textHas("#history-list", "You woke it up"),
		textHas("#history-list", "You snoozed it until"), click(`[data-testid="status-open"]`), visible(row(alice.TicketID)))

	// The pane closes; j/k move through the list, Enter opens, e closes.
	dave := c.cmd("inbound", map[string]any{"profile_id": "dave", "body": "مرحبا, where is my refund?", "channel": "email"})
	step("close pane", visible(row(dave.TicketID)), click("#close-pane"), visible("#no-ticket"),
		poll(`document.querySelector("#ticket").hidden`), visible(row(alice.TicketID)+` time[title]`))
	// Tickets of one clock tick may come in either order: j/k are checked
	// against the list as it stands.
	step("j/k", key("j"), key("j"), key("k"), visible("#ticket-list li:first-child .row.focused"),
		blurLive, key("\r"),
		poll(`document.querySelector("#ticket").dataset.ticketId === document.querySelector("#ticket-list li:first-child").dataset.ticketId`))
	openTicket(dave.TicketID)
	step("customer text", visible(`#thread [data-testid="message"] p[dir="auto"]`), textHas(`[data-testid="customer-channel"]`, "Email"))
	step("e", key("e"), gone(row(dave.TicketID)))

	// / focuses the search; a search finds notes, replies and profiles.
	step("/", key("/"), focused("search"), chromedp.SendKeys(chromedp.CSS("#search"), "courier"))
	if searchAvailable(t, c) {
		step("search", visible(row(alice.TicketID)), gone(row(dave.TicketID)), shot("search.png"),
			click("#search-clear"), visible(row(alice.TicketID)), chromedp.SendKeys(chromedp.CSS("#search"), "nothingmatchesthis"),
			textHas("#list-empty", "No ticket matches"))
	} else {
		t.Log("GET /v1/tickets?q= does not search yet: only the search box is walked")
	}
	step("clear search", click("#search-clear"), visible(row(alice.TicketID)))

	walkBulkEnglish(w, c)
	walkSort(w, c)
	step("back to alice", visible(row(alice.TicketID)))

	// Block Alice: her messages are gone from the thread for good; the reply stays.
	openTicket(alice.TicketID)
	step("block", click("#more"), visible("#block"), click("#block"), visible("#block-dialog"),
		textHas("#block-dialog", "for good"), click("#block-confirm"),
		poll(`!document.querySelector("#thread").textContent.includes("Hello from Alice")`),
		textHas("#thread", "Sorry, we are on it"), visible(`[data-testid="customer-blocked"][data-blocked="true"]`),
		textHas("#history-list", "blocked the profile"), shot("blocked.png"))

	// Unblock beside the thread; her next message opens a new ticket,
	// which links back to the old one.
	step("unblock", clickLive("#unblock"), visible(`[data-testid="customer-blocked"][data-blocked="false"]`))
	alice2 := c.cmd("inbound", map[string]any{"profile_id": "alice", "body": "Thanks, it arrived", "channel": "sms"})
	step("alice again", click(`[data-testid="status-open"]`), visible(row(alice2.TicketID)))
	openTicket(alice2.TicketID)
	step("other tickets", clickLive(`[data-testid="other-ticket"][data-ticket-id="`+alice.TicketID+`"]`),
		visible(`#ticket[data-ticket-id="`+alice.TicketID+`"]`))

	// French: the switch relabels the page; both dictionaries hold the same keys.
	step("french", chromedp.SendKeys(chromedp.CSS("#lang"), "F"), textHas(`[data-testid="view-all"]`, "Tous les tickets"),
		textHas(`[data-testid="status-open"]`, "Ouverts"), textHas("#ticket-meta", "Fermé ·"), textHas("#history-list", "bloqué le profil"),
		poll(`document.documentElement.lang === "fr"`),
		poll(`Object.keys(TB.dicts.en).every((k) => k in TB.dicts.fr) && Object.keys(TB.dicts.fr).every((k) => k in TB.dicts.en)`),
		click(`[data-testid="status-open"]`), visible(row(alice2.TicketID)), shot("inbox-fr.png"),
		key("?"), textHas("#help-dialog", "Marquer comme non lu"), textHas("#help-dialog", "Échap"), click("#help-close"))
	walkBulkFrench(w, c)
	checkNoStrayWords(w, c, "fr")
	endBulkFrench(w)
	walkFrench(w, c)
	step("english", chromedp.SendKeys(chromedp.CSS("#lang"), "E"), textHas(`[data-testid="view-all"]`, "All tickets"))

	// A phone-sized window.
	carol := c.cmd("inbound", map[string]any{"profile_id": "carol", "body": "Is the shop open on Sunday?"})
	step("phone", chromedp.EmulateViewport(390, 844), click("#back"), visible(dot(carol.TicketID)), shot("phone.png"),
		chromedp.EmulateViewport(1280, 800))

	// An analyst may sign in but not read the inbox.
	var analyst struct {
		Token string `json:"token"`
	}
	if code := c.do("POST", "/v1/users", map[string]string{"name": "Ana", "role": "analyst"}, &analyst); code != 201 {
		t.Fatalf("create analyst: %d", code)
	}
	step("forbidden role", click("#signout"), visible("#token"), chromedp.SetValue(chromedp.CSS("#token"), analyst.Token),
		click("#signin-btn"), textHas("#signin-error", "your role cannot read the inbox"))

	// R6 reaches the browser: once it has closed (writing out what it
	// keeps), no file of its profile, disk cache included, holds the text
	// of the blocked customer's message, which the page showed before.
	if err := chromedp.Cancel(w.ctx); err != nil {
		t.Fatalf("close chromium: %v", err)
	}
	if files := filesHolding(t, w.profileDir, "Hello from Alice"); len(files) > 0 {
		t.Errorf("after the block, the browser's profile still holds the erased text in %v", files)
	}
}

// searchAvailable says whether the engine answers GET /v1/tickets?q=
// with a search, which a word found nowhere tells.
func searchAvailable(t *testing.T, c *client) bool {
	t.Helper()
	var page struct {
		Tickets []json.RawMessage `json:"tickets"`
	}
	if code := c.do("GET", "/v1/tickets?q=nothingmatchesthis", nil, &page); code != 200 {
		return false
	}
	return len(page.Tickets) == 0
}

// replyID is the id of the ticket's only reply, as GET /v1/tickets/{id}
// shows it.
func replyID(t *testing.T, c *client, ticketID string) string {
	t.Helper()
	var d struct {
		Messages []struct {
			ID        string `json:"id"`
			Direction string `json:"direction"`
		} `json:"messages"`
	}
	if code := c.do("GET", "/v1/tickets/"+ticketID, nil, &d); code != 200 {
		t.Fatalf("get ticket %s: %d", ticketID, code)
	}
	var ids []string
	for _, m := range d.Messages {
		if m.Direction == "outbound" {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("ticket %s has replies %v, want one", ticketID, ids)
	}
	return ids[0]
}
