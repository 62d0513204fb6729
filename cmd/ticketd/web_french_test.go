package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// frenchWalk is the page in French, with tickets of its own: Manon's old
// one, closed three days ago, and her new one; Théo's; and Zoé, a
// teammate added while the page is open.
type frenchWalk struct {
	*webWalk
	c                *client
	zoe              *client
	old, manon, theo string
}

// walkFrench walks the ten parts of the inbox once more, by clicking and
// typing on the page in French: what it shows comes from i18n-fr.js, ages
// and dates as Intl writes them in French. The page's clock is set to the
// engine's test clock, so that ages are known. It leaves the page as it
// found it: every open ticket, no search, newest first, a ticket open.
func walkFrench(w *webWalk, c *client) {
	t := w.t
	t.Helper()
	zoe, _ := newUser(t, c.m, "Zoé Martin", "support")
	f := &frenchWalk{webWalk: w, c: c, zoe: zoe}
	f.old = c.cmd("inbound", map[string]any{"profile_id": "manon-leroy", "body": "Ma facture de mars est fausse",
		"channel": "sms", "phone": "+33698765432"}).TicketID
	c.cmd("close", map[string]any{"ticket_id": f.old})
	f.clock("73h")
	f.theo = c.cmd("inbound", map[string]any{"profile_id": "theo-petit", "body": "مرحبا، où en est mon remboursement ?", "channel": "chat"}).TicketID
	f.clock("1m")
	f.manon = c.cmd("inbound", map[string]any{"profile_id": "manon-leroy", "body": "Bonjour, ma trottinette est arrivée cassée", "channel": "email"}).TicketID

	f.arrivals()
	f.search()
	f.customer()
	f.teammate()
	f.shortcuts()
	f.snooze()
	f.pane()
	f.closeAndReopen()
	f.blockAndUnblock()
	f.language()
}

// arrivals: ages, the waiting tags and the sort (8), the unread dot in
// each view (10).
func (f *frenchWalk) arrivals() {
	age := func(id string) string { return row(id) + ` .row-top time` }
	waiting := func(id string) string { return row(id) + ` [data-testid="waiting"]` }
	f.step("fr 8: new tickets", visible(dot(f.theo)), visible(dot(f.manon)),
		reads(age(f.manon), "maintenant"), reads(age(f.theo), "1 min"),
		reads(waiting(f.manon), "en attente depuis un instant"), reads(waiting(f.theo), "en attente depuis 1 min"))
	f.clock("3m")
	f.step("fr 8: ages", reads(age(f.manon), "3 min"), reads(age(f.theo), "4 min"),
		reads(waiting(f.manon), "en attente depuis 3 min"), reads(waiting(f.theo), "en attente depuis 4 min"),
		frenchTime(age(f.manon), ""), frenchTime(waiting(f.theo), "En attente d’une réponse depuis le "))
	f.step("fr 8: sort", textHas(`#sort option[value="newest"]`, "Activité la plus récente"),
		textHas(`#sort option[value="waiting"]`, "Attente la plus longue"), listedBefore(f.manon, f.theo),
		chromedp.SendKeys(chromedp.CSS("#sort"), "At"), poll(`document.querySelector("#sort").value === "waiting"`),
		textHas("#sort option:checked", "Attente la plus longue"), listedBefore(f.theo, f.manon),
		choose("#sort", "newest"), listedBefore(f.manon, f.theo), poll(`localStorage.getItem("ticketbus.sort") === "newest"`))
	f.step("fr 10: unread, unassigned", click(`[data-testid="view-unassigned"]`), textHas(`[data-testid="view-unassigned"]`, "Non assignés"),
		everyRow(`!li.querySelector('[data-testid="row-assignee"]')`), visible(dot(f.theo)), visible(dot(f.manon)),
		click(`[data-testid="view-all"]`), textHas(`[data-testid="view-all"]`, "Tous les tickets"), visible(dot(f.manon)))
}

// search: / then typing finds a ticket by its text, its customer's phone,
// its id's start and its profile; nothing found says so (1). Found
// tickets show their status and the unread dot (10).
func (f *frenchWalk) search() {
	find := func(what, q string, ids ...string) {
		f.t.Helper()
		f.step("fr 1: search "+what, key(kb.Escape), key("/"), focused("search"), key(q), rowsAre(ids...))
	}
	status := func(id string) string { return row(id) + ` [data-testid="row-status"]` }
	find("text", "trottinette", f.manon)
	f.step("fr 1: found", visible(dot(f.manon)), textHas(status(f.manon), "Ouvert"), reads(row(f.manon)+" .preview", "ma trottinette"))
	find("phone", "+33698765432", f.manon, f.old)
	f.step("fr 1: found closed", textHas(status(f.old), "Fermé"))
	find("ticket id", f.manon[:13], f.manon)
	find("nothing", "xylophone")
	f.step("fr 10: nothing found", visible("#list-empty"),
		textHas("#list-empty", "Aucun ticket ne correspond à « xylophone ». Essayez moins de mots, un numéro ou un identifiant de profil."))
	find("profile", "manon-leroy", f.manon, f.old)
}

// customer: the customer beside the thread, in French (2).
func (f *frenchWalk) customer() {
	f.step("fr 2: open from the search", clickLive(row(f.manon)+" button.row"), visible(`#ticket[data-ticket-id="`+f.manon+`"]`),
		gone(dot(f.manon)), click("#search-clear"), poll(`document.querySelector("#search-clear").hidden`), visible(row(f.theo)))
	other := `[data-testid="other-ticket"][data-ticket-id="` + f.old + `"]`
	f.step("fr 2: customer", textHas("#customer h3", "Client"),
		field("customer-id", "Profil", "manon-leroy"), visible(`[data-testid="customer-id"][dir="auto"]`),
		field("customer-phones", "Téléphones", "+33698765432"), field("customer-channel", "Canal", "E-mail"),
		field("customer-first", "Premier contact", "3 j"), field("customer-last", "Dernier contact", "3 min"),
		frenchTime(`[data-testid="customer-first"] time`, ""), frenchTime(`[data-testid="customer-last"] time`, ""),
		visible(`[data-testid="customer-blocked"][data-blocked="false"]`), textHas(`[data-testid="customer-blocked"]`, "Non bloqué"),
		textHas("#customer h4", "Autres tickets"), textHas(other+" .tag", "Fermé"), textHas(other, "Ma facture de mars est fausse"),
		textHas(".side h3[data-i18n]", "Historique"), textHas("#history-list", "Vous avez ouvert le ticket"))
}

// teammate: a teammate added meanwhile answers, by name; the ticket goes
// to her from the picker; list, thread and history name her (3).
func (f *frenchWalk) teammate() {
	f.zoe.cmd("reply", map[string]any{"ticket_id": f.manon, "body": "Une trottinette neuve part aujourd’hui"})
	f.step("fr 3: her reply", reads(`#thread [data-direction="outbound"] [data-testid="message-author"]`, "Réponse · Zoé Martin"),
		textHas(`#thread [data-direction="outbound"] [data-testid="reply-status"]`, "En attente"),
		textHas(`#assignee option[value=""]`, "Personne"), hasOption("#assignee", "owner (vous)"), hasOption("#assignee", "Zoé Martin"))
	f.step("fr 3: assign by name", chromedp.SendKeys(chromedp.CSS("#assignee"), "Zo"),
		textHas("#ticket-meta", "Ouvert · Assigné à Zoé Martin"), textHas(row(f.manon)+` [data-testid="row-assignee"]`, "Zoé Martin"),
		textHas("#history-list", "Vous l’avez assigné à Zoé Martin"))
	f.step("fr 4: n, a note", click("#thread"), key("n"), focused("reply-body"), visible(`#composer[data-mode="note"]`),
		textHas("#composer-note", "Note interne"), textHas("#reply-send", "Ajouter la note"),
		attrIs("#reply-body", "placeholder", "Écrivez une note visible de votre équipe seule (Ctrl+Entrée l’ajoute)"),
		key("Le transporteur reprend la trottinette jeudi"), click("#reply-send"),
		textHas(`#thread [data-direction="note"] p`, "Le transporteur reprend la trottinette jeudi"),
		reads(`#thread [data-direction="note"] [data-testid="message-author"]`, "Note interne · owner"),
		poll(`getComputedStyle(document.querySelector('#thread [data-direction="note"]')).borderTopStyle === "dashed"`),
		poll(`document.querySelector("#reply-body").value === ""`))
}

// clock moves the engine's test clock by d and sets the page's clock to
// the engine's, going on from there as time passes.
func (f *frenchWalk) clock(d string) {
	f.t.Helper()
	var adv struct {
		Now time.Time `json:"now"`
	}
	if code := f.c.do("POST", "/v1/test-clock/advance", map[string]string{"duration": d}, &adv); code != 200 {
		f.t.Fatalf("advance %s: %d", d, code)
	}
	f.step("fr: clock +"+d, poll(fmt.Sprintf(`(() => {
		const real = window.realDateNow || (window.realDateNow = Date.now);
		const ahead = %d - real.call(Date);
		Date.now = () => real.call(Date) + ahead;
		TB.rerender();
		return true;
	})()`, adv.Now.UnixMilli())))
}

// realClock gives the page its own clock back.
var realClock = poll(`(window.realDateNow && (Date.now = window.realDateNow, delete window.realDateNow), TB.rerender(), true)`)

// reads waits until the element's text holds want, any run of spaces
// (Intl writes no-break ones) read as one space.
func reads(sel, want string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`((document.querySelector(%q)||{}).textContent||"").replace(/\s+/g, " ").includes(%q)`, sel, want))
}

// attrIs waits until the element's attribute is want.
func attrIs(sel, attr, want string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getAttribute(%q) === %q; })()`, sel, attr, want))
}

// field waits until the customer panel shows label beside a value
// holding want.
func field(testid, label, want string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const v = document.querySelector('#customer [data-testid="%s"]');
		return !!v && v.previousElementSibling.textContent === %q && v.textContent.replace(/\s+/g, " ").includes(%q); })()`, testid, label, want))
}

// hasOption waits until the select offers an option of that text.
func hasOption(sel, text string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`[...document.querySelectorAll(%q)].some((o) => o.textContent === %q)`, sel+" option", text))
}

// rowsAre waits until the list shows these tickets and no other.
func rowsAre(ids ...string) chromedp.Action[chromedp.Void] {
	want := slices.Sorted(slices.Values(ids))
	b, _ := json.Marshal(append([]string{}, want...))
	return poll(fmt.Sprintf(`JSON.stringify([...document.querySelectorAll("#ticket-list li")].map((li) => li.dataset.ticketId).sort()) === %q`, b))
}

// everyRow waits until the list has rows and cond (of li) holds for each.
func everyRow(cond string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll("#ticket-list li")]; return rows.length > 0 && rows.every((li) => %s); })()`, cond))
}

// listedBefore waits until ticket a is listed above ticket b.
func listedBefore(a, b string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const ids = [...document.querySelectorAll("#ticket-list li")].map((li) => li.dataset.ticketId);
		return ids.indexOf(%q) >= 0 && ids.indexOf(%q) > ids.indexOf(%q); })()`, a, b, a))
}

// frenchTime waits until the <time>'s title is prefix and its exact time
// as Intl writes it in French ("mardi 2 décembre 2025 à 17:18:05").
func frenchTime(sel, prefix string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.dateTime) return false;
		const full = new Date(e.dateTime).toLocaleString("fr", { dateStyle: "full", timeStyle: "medium" });
		return e.title === %q + full && %s.test(full); })()`, sel, prefix, frenchDay))
}

// frenchDay is the start of a date written out in French.
const frenchDay = `/^(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d{1,2}(er)? (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) \d{4}/`

// frenchShortDate is a short date and time in French ("2 déc., 17:18").
const frenchShortDate = `/\d{1,2}(er)? (janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.?,? (à )?\d{1,2}:\d{2}/`
