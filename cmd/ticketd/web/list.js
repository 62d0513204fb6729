"use strict";
// The ticket list: views, statuses, counts, search, sort, the j/k pointer
// and the boxes that pick tickets for a bulk action (bulk.js).
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, api, withPos, el, t } = TB;
  const PAGE = 50;

  TB.loadCounts = async function () {
    const c = await api("GET", withPos("/v1/tickets/counts"));
    for (const v of ["all", "mine", "unassigned"]) {
      $("count-" + v).textContent = TB.fmtNum((c[v] && c[v][state.status]) || 0);
    }
  };

  // listPath asks for the current view in the chosen order; a search
  // spans every status, as the API does without one.
  function listPath(limit, cursor) {
    let p = "/v1/tickets?view=" + state.view + "&sort=" + state.sort + "&limit=" + limit;
    p += state.q ? "&q=" + encodeURIComponent(state.q) : "&status=" + state.status;
    if (cursor) p += "&cursor=" + encodeURIComponent(cursor);
    return withPos(p);
  }

  TB.loadList = async function (reset) {
    const key = [state.view, state.status, state.q, state.sort].join("\n");
    const limit = reset ? PAGE : Math.min(500, Math.max(PAGE, state.tickets.length));
    const page = await api("GET", listPath(limit));
    if (key !== [state.view, state.status, state.q, state.sort].join("\n")) return; // the agent moved on
    state.tickets = page.tickets || [];
    state.cursor = page.next_cursor || null;
    keepShownPicks();
    TB.renderList();
  };

  // loadMore reads the next page; a cursor belongs to its list and sort,
  // so a page that comes back after the agent changed either is dropped.
  TB.loadMore = async function () {
    if (!state.cursor) return;
    const key = [state.view, state.status, state.q, state.sort].join("\n");
    const page = await api("GET", listPath(PAGE, state.cursor));
    if (key !== [state.view, state.status, state.q, state.sort].join("\n")) return;
    state.tickets = state.tickets.concat(page.tickets || []);
    state.cursor = page.next_cursor || null;
    TB.renderList();
  };

  TB.renderNav = function () {
    document.querySelectorAll(".view").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === state.view)));
    document.querySelectorAll(".status").forEach((b) => b.setAttribute("aria-pressed", String(!state.q && b.dataset.status === state.status)));
  };

  // keepShownPicks keeps picked only the tickets the list still shows,
  // with their summary as it is now: a bulk action acts on what the agent
  // sees.
  function keepShownPicks() {
    const shown = new Map(state.tickets.map((tk) => [tk.id, tk]));
    for (const id of [...state.checked.keys()]) {
      if (shown.has(id)) state.checked.set(id, shown.get(id));
      else state.checked.delete(id);
    }
  }

  // waiting says since when the customer has been waiting for an answer,
  // from the summary's waiting_since (given by engines that sort by
  // waiting; absent or null otherwise).
  function waiting(since) {
    const e = TB.age(since, "tag waiting");
    e.dataset.testid = "waiting";
    e.textContent = Date.now() - new Date(since).getTime() < 60e3 ? t("list.waitingNow") : t("list.waiting", { age: TB.fmtAge(since) });
    e.title = t("list.waitingTitle", { when: TB.fmtFull(since) });
    return e;
  }

  function row(tk, i) {
    const picked = state.checked.has(tk.id);
    const cls = [i === state.focus && "focused", picked && "picked", tk.id === state.selected && "current"].filter(Boolean).join(" ");
    const li = el("li", cls, null, { testid: "ticket-row", ticketId: tk.id, unread: String(!!tk.unread), picked: String(picked) });
    const box = el("input", "pick", null, { testid: "pick" });
    box.type = "checkbox";
    box.checked = picked;
    box.setAttribute("aria-label", t("list.pick", { profile: tk.profile_id }));
    box.addEventListener("change", () => TB.pick(tk, box.checked));
    const b = el("button", "row" + (tk.id === state.selected ? " selected" : "") + (tk.unread ? " unread" : "") + (i === state.focus ? " focused" : ""), null, { testid: "open-ticket" });
    b.type = "button";
    b.addEventListener("click", () => { state.focus = i; TB.openTicket(tk.id); });
    const top = el("span", "row-top");
    const dot = el("span", "dot");
    if (tk.unread) {
      dot.dataset.testid = "unread-dot";
      dot.setAttribute("aria-label", t("list.unread"));
    }
    const name = el("span", "profile", tk.profile_id);
    name.dir = "auto";
    top.append(dot, name, TB.age(tk.last_message_at));
    const prev = el("span", "preview", tk.preview || t("list.noMessages"));
    prev.dir = "auto";
    b.append(top, prev);
    const tags = el("span", "row-tags");
    if (state.q) tags.append(el("span", "tag status-" + tk.status, t("state." + tk.status), { testid: "row-status" }));
    if (tk.assignee_id) tags.append(el("span", "tag assignee", TB.userName(tk.assignee_id), { testid: "row-assignee" }));
    if (tk.waiting_since) tags.append(waiting(tk.waiting_since));
    if (tk.status === "snoozed" && tk.snoozed_until) {
      tags.append(el("span", "snoozed-until muted", t("list.snoozedUntil", { when: TB.fmtTime(tk.snoozed_until) }), { testid: "snoozed-until" }));
    }
    if (tags.childElementCount) b.append(tags);
    li.append(box, b);
    return li;
  }

  TB.renderList = function (force) {
    const key = JSON.stringify([TB.lang, state.view, state.status, state.q, state.selected, state.focus, state.tickets, state.cursor, [...state.users.keys()]]);
    if (key === state.listKey && !force) return TB.renderPicks();
    state.listKey = key;
    if (state.focus >= state.tickets.length) state.focus = state.tickets.length - 1;
    $("ticket-list").replaceChildren(...state.tickets.map(row));
    const empty = $("list-empty");
    empty.textContent = state.q ? t("empty.search", { q: state.q }) : t("empty." + state.status);
    empty.hidden = state.tickets.length > 0;
    $("load-more").hidden = !state.cursor;
    TB.renderPicks();
  };

  // moveFocus steps the pointer through the list and brings it into view.
  TB.moveFocus = function (step) {
    if (!state.tickets.length) return;
    let i = state.focus;
    if (i < 0) {
      const sel = state.tickets.findIndex((tk) => tk.id === state.selected);
      i = sel >= 0 ? sel : step > 0 ? -1 : state.tickets.length;
    }
    state.focus = Math.max(0, Math.min(state.tickets.length - 1, i + step));
    TB.renderList();
    const b = document.querySelectorAll("#ticket-list .row")[state.focus];
    if (b) b.focus();
  };

  TB.openFocused = function () {
    const tk = state.tickets[state.focus];
    if (tk) TB.openTicket(tk.id);
  };

  // Typing searches after a short pause, so a word is one request.
  let typing = null;
  $("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => TB.search($("search").value.trim()), 250);
  });
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(typing);
    TB.search($("search").value.trim());
  });
  $("search-clear").addEventListener("click", () => {
    $("search").value = "";
    TB.search("");
    $("search").focus();
  });

  TB.search = function (q) {
    if (q === state.q) return;
    state.q = q;
    state.focus = -1;
    $("search-clear").hidden = !q;
    TB.renderNav();
    TB.refresh(true).catch(TB.handleError);
  };

  document.querySelectorAll(".view").forEach((b) => b.addEventListener("click", () => {
    state.view = b.dataset.view;
    state.focus = -1;
    TB.renderNav();
    TB.refresh(true).catch(TB.handleError);
  }));
  document.querySelectorAll(".status").forEach((b) => b.addEventListener("click", () => {
    state.status = b.dataset.status;
    state.focus = -1;
    if (state.q) {
      state.q = "";
      $("search").value = "";
      $("search-clear").hidden = true;
    }
    TB.renderNav();
    TB.refresh(true).catch(TB.handleError);
  }));
  $("sort").value = state.sort;
  $("sort").addEventListener("change", () => {
    state.sort = $("sort").value === "waiting" ? "waiting" : "newest";
    localStorage.setItem("ticketbus.sort", state.sort);
    state.focus = -1;
    state.cursor = null; // the engine refuses a cursor of the other sort
    $("load-more").hidden = true;
    TB.refresh(true).catch(TB.handleError);
  });
  $("load-more").addEventListener("click", () => TB.loadMore().catch(TB.handleError));
})();
