package main

import (
	"fmt"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The French walk on one ticket at a time (web_french_test.go).

// shortcuts: r and Ctrl+Enter reply, u marks unread, ? shows the help (6).
func (f *frenchWalk) shortcuts() {
	const answer = "Merci, nous suivons la livraison"
	f.step("fr 6: r, Ctrl+Enter", click("#thread"), key("r"), focused("reply-body"), visible(`#composer[data-mode="reply"]`),
		textHas("#composer-reply", "Répondre"), textHas("#reply-send", "Envoyer"),
		attrIs("#reply-body", "placeholder", "Écrivez une réponse au client (Ctrl+Entrée envoie)"),
		key(answer), key("\r", chromedp.ModifierCtrl),
		poll(fmt.Sprintf(`[...document.querySelectorAll('#thread [data-direction="outbound"]')].some((li) => li.querySelector("p").textContent === %q
			&& li.querySelector('[data-testid="message-author"]').textContent === "Réponse · owner"
			&& li.querySelector('[data-testid="reply-status"]').textContent === "En attente")`, answer)),
		poll(`document.querySelector("#reply-body").value === ""`))
	f.step("fr 6: u", key(kb.Escape), key("u"), visible(dot(f.manon)), textHas("#history-list", "Vous l’avez marqué comme non lu"))
	f.step("fr 6: ?", key("?"), visible("#help-dialog"), textHas("#help-dialog h2", "Raccourcis clavier"),
		textHas("#help-list", "Ajouter une note interne"), textHas("#help-list", "Sélectionner ou désélectionner le ticket"),
		textHas("#help-list", "Ctrl/⌘+Entrée"), textHas("#help-close", "Fermer"), click("#help-close"), gone("#help-dialog[open]"))
}

// snooze: s snoozes, in French; the unread dot shows in the Snoozed
// list; the ticket wakes when its time comes, and by hand (5, 6, 7, 10).
func (f *frenchWalk) snooze() {
	f.step("fr 6: s", key("s"), visible("#snooze-dialog"), textHas("#snooze-dialog h2", "Mettre en pause jusqu’à"),
		textHas("#snooze-dialog", "1 heure"), textHas("#snooze-dialog", "Demain, 9:00"),
		textHas("#snooze-dialog", "La semaine prochaine (lundi, 9:00)"), textHas("#snooze-confirm", "Confirmer"),
		click(`[data-testid="snooze-1h"]`), click("#snooze-confirm"), gone(row(f.manon)),
		textHas("#ticket-meta", "En pause jusqu’au "), textHas("#history-list", "Vous l’avez mis en pause jusqu’au "))
	until := row(f.manon) + ` [data-testid="snoozed-until"]`
	f.step("fr 10: unread, snoozed", click(`[data-testid="status-snoozed"]`), textHas(`[data-testid="status-snoozed"]`, "En pause"),
		visible(dot(f.manon)), reads(until, "En pause jusqu’au "),
		poll(fmt.Sprintf(`%s.test(document.querySelector(%q).textContent)`, frenchShortDate, until)))
	// Two hours later it is open again.
	f.clock("2h")
	f.step("fr 5: woke", gone(row(f.manon)), visible("#list-empty"), textHas("#list-empty", "Rien n’est en pause ici."),
		textHas("#ticket-meta", "Ouvert · Assigné à Zoé Martin"), textHas("#history-list", "Réveillé à la fin de sa pause"))
	f.step("fr 7: snooze again", key("s"), visible("#snooze-dialog"), click(`[data-testid="snooze-3h"]`), click("#snooze-confirm"),
		visible(row(f.manon)), textHas("#unsnooze", "Réveiller"))
	f.step("fr 7: unsnooze", click("#unsnooze"), gone(row(f.manon)), textHas("#ticket-meta", "Ouvert · "),
		textHas("#history-list", "Vous l’avez réveillé"), visible("#list-empty"), textHas("#list-empty", "Rien n’est en pause ici."),
		click(`[data-testid="status-open"]`), textHas(`[data-testid="status-open"]`, "Ouverts"), visible(row(f.manon)))
}

// pane: the pane's close button (10); j/k, Enter and x (6).
func (f *frenchWalk) pane() {
	f.step("fr 10: close the pane", attrIs("#close-pane", "aria-label", "Fermer le panneau du ticket"),
		attrIs("#close-pane", "title", "Fermer le panneau du ticket"), click("#close-pane"),
		visible("#no-ticket"), poll(`document.querySelector("#ticket").hidden`),
		textHas("#no-ticket", "Choisissez un ticket à gauche pour le lire, ou appuyez sur j puis Entrée."))
	first := "#ticket-list li:first-child"
	f.step("fr 6: j/k, Enter", key("j"), key("j"), key("k"), visible(first+" .row.focused"), blurLive, key("\r"),
		poll(`!document.querySelector("#ticket").hidden && document.querySelector("#ticket").dataset.ticketId === document.querySelector("#ticket-list li:first-child").dataset.ticketId`))
	f.step("fr 6: x", key("x"), visible(first+`[data-picked="true"]`), visible("#bulk-bar"), textHas("#bulk-count", "1 sélectionné"),
		key("x"), visible(first+`[data-picked="false"]`), poll(barHidden))
}

// closeAndReopen: Théo's text reads in its own direction (10); e closes
// his ticket, assigned to me (6); marked unread it shows the dot in My
// inbox's Closed list (10); his message two days later reopens it (7).
func (f *frenchWalk) closeAndReopen() {
	f.step("fr 10: customer text", clickLive(row(f.theo)+" button.row"), visible(`#ticket[data-ticket-id="`+f.theo+`"]`),
		gone(dot(f.theo)), visible(`#thread [data-direction="inbound"] p[dir="auto"]`), visible(`#ticket-profile[dir="auto"]`),
		visible(row(f.theo)+` .preview[dir="auto"]`), visible(row(f.theo)+` .profile[dir="auto"]`),
		field("customer-phones", "Téléphones", "aucun"), field("customer-channel", "Canal", "Chat"),
		textHas(`[data-testid="customer-tickets"]`, "Aucun autre ticket de ce client."))
	f.step("fr 10: my inbox", textHas("#assign-me", "M’assigner"), click("#assign-me"), textHas("#ticket-meta", "Ouvert · Assigné à vous"),
		click(`[data-testid="view-mine"]`), textHas(`[data-testid="view-mine"]`, "Ma boîte"), visible(row(f.theo)),
		everyRow(`(li.querySelector('[data-testid="row-assignee"]') || {}).textContent === "owner"`))
	f.step("fr 6: e", key("e"), gone(row(f.theo)), textHas("#ticket-meta", "Fermé · Assigné à vous"),
		textHas("#history-list", "Vous l’avez fermé"), visible(`#composer[data-mode="note"]`), poll(`document.querySelector("#composer-reply").hidden`),
		visible("#list-empty"), textHas("#list-empty", "Aucun ticket ouvert ici. Les nouveaux messages apparaîtront d’eux-mêmes."))
	f.step("fr 10: unread, closed", click(`[data-testid="status-closed"]`), textHas(`[data-testid="status-closed"]`, "Fermés"),
		visible(row(f.theo)), key("u"), visible(dot(f.theo)))

	// Two days after the close, within the three that reopen a ticket.
	f.clock("48h")
	if r := f.c.cmd("inbound", map[string]any{"profile_id": "theo-petit", "body": "Toujours rien reçu, merci de vérifier"}); r.Outcome != "reopened" || r.TicketID != f.theo {
		f.t.Fatalf("Théo's message: %s on %s, want reopened on %s", r.Outcome, r.TicketID, f.theo)
	}
	f.step("fr 7: reopened by the customer", gone(row(f.theo)), visible("#list-empty"),
		textHas("#list-empty", "Aucun ticket fermé ici pour l’instant."), textHas("#thread", "Toujours rien reçu, merci de vérifier"),
		textHas("#ticket-meta", "Ouvert · Assigné à vous"), textHas("#history-list", "Rouvert par un nouveau message"),
		field("customer-first", "Premier contact", "2 j"), field("customer-last", "Dernier contact", "maintenant"),
		click(`[data-testid="status-open"]`), visible(dot(f.theo)))
}

// blockAndUnblock: blocking Théo erases his messages, in French; the
// customer panel unblocks him (5, 7, 10).
func (f *frenchWalk) blockAndUnblock() {
	f.step("fr 7: block", click("#more"), visible("#block"), textHas("#block", "Bloquer le profil"), click("#block"),
		visible("#block-dialog"), textHas("#block-dialog h2", "Bloquer ce profil ?"),
		textHas("#block-body", "Tous les messages de theo-petit disparaîtront définitivement de vos tickets"),
		click("#block-confirm"), visible(`[data-testid="customer-blocked"][data-blocked="true"]`),
		textHas(`[data-testid="customer-blocked"]`, "Bloqué : les nouveaux messages sont ignorés."),
		textHas("#notice", "Le profil theo-petit est bloqué ; ses messages ont disparu."),
		textHas(`#thread [data-testid="thread-empty"]`, "Aucun message dans ce ticket."),
		textHas("#history-list", "Fermé car vous avez bloqué le profil"), textHas("#history-list", "Messages du client effacés"))
	f.step("fr 7: unblock", textHas("#unblock", "Débloquer"), clickLive("#unblock"),
		visible(`[data-testid="customer-blocked"][data-blocked="false"]`), textHas(`[data-testid="customer-blocked"]`, "Non bloqué"),
		textHas("#notice", "theo-petit est débloqué ; ses nouveaux messages ouvriront un ticket."))
}

// language: the selector switches the page, which stays in French after
// a reload, dates as Intl writes them in French (9).
func (f *frenchWalk) language() {
	// Letters typed on a select within a second make one search: English
	// is chosen as a click would, French by typing.
	f.step("fr 9: switch", click(`[data-testid="view-all"]`), attrIs("#lang", "aria-label", "Langue"),
		choose("#lang", "en"), textHas(`[data-testid="view-all"]`, "All tickets"),
		poll(`document.documentElement.lang === "en"`),
		chromedp.SendKeys(chromedp.CSS("#lang"), "F"), textHas(`[data-testid="view-all"]`, "Tous les tickets"),
		poll(`document.documentElement.lang === "fr" && localStorage.getItem("ticketbus.lang") === "fr"`))
	f.step("fr 9: reload", chromedp.Reload(), visible("#app"), textHas(`[data-testid="view-all"]`, "Tous les tickets"),
		poll(`document.documentElement.lang === "fr" && document.querySelector("#lang").value === "fr" && document.title === "Boîte de réception Ticketbus"`),
		attrIs("#search", "placeholder", "Rechercher (touche /)"), visible(row(f.manon)))
	f.clock("0s")
	f.step("fr 9: dates", clickLive(row(f.manon)+" button.row"), visible(`#ticket[data-ticket-id="`+f.manon+`"]`),
		frenchTime(`[data-testid="customer-first"] time`, ""), frenchTime("#history-list li time", ""),
		poll(fmt.Sprintf(`[...document.querySelectorAll("#history-list li")].some((li) => li.textContent.startsWith("Vous l’avez mis en pause jusqu’au ") && %s.test(li.textContent))`, frenchShortDate)))
	other := `[data-testid="other-ticket"][data-ticket-id="` + f.old + `"]`
	f.step("fr 2: other ticket", clickLive(other), visible(`#ticket[data-ticket-id="`+f.old+`"]`),
		textHas("#ticket-meta", "Fermé · Non assigné"), textHas("#history-list", "Vous l’avez fermé"), realClock)
}
