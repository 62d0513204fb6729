"use strict";
// The open ticket: its header and actions, the thread of messages and
// notes, and the composer that replies or adds a note.
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, api, withPos, el, t } = TB;

  TB.loadTicket = async function () {
    const id = state.selected;
    try {
      const tk = await api("GET", withPos("/v1/tickets/" + encodeURIComponent(id)));
      if (id !== state.selected) return;
      // A command may change the profile alone (unblock): it marks the side stale.
      const changed = state.sideStale || !state.ticket || JSON.stringify(state.ticket) !== JSON.stringify(tk);
      state.sideStale = false;
      state.ticket = tk;
      TB.renderTicket();
      // The side panel follows the ticket: it changes when the ticket does.
      if (changed) await TB.loadSide(tk);
    } catch (e) {
      if (e.status === 404) return TB.closeDetail();
      throw e;
    }
  };

  TB.openTicket = async function (id) {
    if (state.selected !== id) {
      state.ticket = null;
      TB.setComposer("reply");
    }
    state.selected = id;
    TB.closeMenu();
    TB.notice("");
    document.body.classList.add("reading");
    TB.renderList();
    try {
      await TB.loadTicket();
      if (state.ticket && state.ticket.id === id && state.ticket.unread) {
        await TB.command("mark_read", { ticket_id: id }, true);
      }
    } catch (e) {
      TB.handleError(e);
    }
  };

  TB.closeDetail = function () {
    state.selected = null;
    state.ticket = null;
    state.focus = -1; // j starts again from the top
    $("ticket").hidden = true;
    $("no-ticket").hidden = false;
    document.body.classList.remove("reading");
    TB.renderList();
  };

  // renderAssignee fills the picker with every teammate, by name.
  function renderAssignee(tk) {
    const sel = $("assignee");
    const opts = [["", t("ticket.nobody")]];
    for (const u of TB.inboxUsers()) {
      opts.push([u.id, state.me && u.id === state.me.id ? t("ticket.you", { name: u.name }) : u.name]);
    }
    if (tk.assignee_id && !opts.some(([id]) => id === tk.assignee_id)) opts.push([tk.assignee_id, TB.userName(tk.assignee_id)]);
    const key = JSON.stringify([TB.lang, opts]);
    if (sel.dataset.key !== key) {
      sel.dataset.key = key;
      sel.replaceChildren(...opts.map(([id, name]) => {
        const o = el("option", "", name);
        o.value = id;
        return o;
      }));
    }
    sel.value = tk.assignee_id || "";
  }

  TB.renderTicket = function () {
    const tk = state.ticket;
    if (!tk) return;
    $("no-ticket").hidden = true;
    $("ticket").hidden = false;
    $("ticket").dataset.ticketId = tk.id;
    $("ticket").dataset.status = tk.status;
    $("ticket-profile").textContent = tk.profile_id;
    const mine = state.me && tk.assignee_id === state.me.id;
    const who = tk.assignee_id ? (mine ? t("ticket.assignedYou") : t("ticket.assignedTo", { name: TB.userName(tk.assignee_id) })) : t("ticket.unassigned");
    let st = t("state." + tk.status);
    if (tk.status === "snoozed" && tk.snoozed_until) st = t("ticket.statusUntil", { status: st, when: TB.fmtTime(tk.snoozed_until) });
    $("ticket-meta").textContent = t("ticket.meta", { status: st, who });
    const closed = tk.status === "closed";
    $("assign-me").hidden = closed || mine;
    $("unassign").hidden = closed || !tk.assignee_id;
    $("assignee-wrap").hidden = closed;
    $("snooze").hidden = closed;
    $("unsnooze").hidden = tk.status !== "snoozed";
    $("close").hidden = closed;
    $("composer-reply").hidden = closed;
    // A closed ticket takes notes, never replies.
    if (closed && TB.composerMode === "reply") TB.setComposer("note");
    renderAssignee(tk);
    renderThread(tk);
  };

  function renderThread(tk) {
    const thread = $("thread");
    const key = JSON.stringify([TB.lang, tk.messages, [...state.users.keys()]]);
    if (thread.dataset.key === key && thread.dataset.ticketId === tk.id) return;
    thread.dataset.key = key;
    thread.dataset.ticketId = tk.id;
    const items = (tk.messages || []).map((m) => {
      const li = el("li", "msg " + m.direction, null, { testid: "message", direction: m.direction });
      const body = el("p", "", m.body);
      body.dir = "auto";
      const meta = el("span", "muted");
      let who = tk.profile_id;
      if (m.direction === "note") who = t("thread.noteBy", { name: TB.userName(m.author_id) });
      if (m.direction === "outbound") who = m.author_id ? t("thread.replyBy", { name: TB.userName(m.author_id) }) : t("thread.reply");
      meta.append(el("span", "author", who, { testid: "message-author" }), t("sep.dot"), TB.age(m.at, "at"));
      li.append(body, meta);
      if (m.direction === "outbound" && m.status) appendReplyStatus(li, m);
      return li;
    });
    if (items.length === 0) items.push(el("li", "muted", t("thread.empty"), { testid: "thread-empty" }));
    thread.replaceChildren(...items);
    thread.scrollTop = thread.scrollHeight;
  }

  // appendReplyStatus marks a reply with its delivery status (spec
  // section 7); a failed one also shows why, beside the mark and on hover.
  function appendReplyStatus(li, m) {
    const known = ["pending", "sent", "delivered", "failed"].includes(m.status);
    const label = known ? t("reply." + m.status) : m.status;
    const hint = known ? t("reply." + m.status + "Hint") : "";
    li.dataset.status = m.status;
    const mark = el("span", "reply-status is-" + m.status, label, { testid: "reply-status", status: m.status });
    if (known) mark.dataset.icon = t("reply." + m.status + "Icon");
    mark.title = m.status === "failed" && m.status_reason ? t("reply.failedTitle", { hint, reason: m.status_reason }) : hint;
    li.append(mark);
    if (m.status === "failed") {
      li.classList.add("failed");
      if (m.status_reason) li.append(el("p", "reply-reason", t("reply.failedWhy", { reason: m.status_reason }), { testid: "reply-reason" }));
    }
  }

  // The composer either replies to the customer or adds an internal note.
  TB.composerMode = "reply";
  TB.setComposer = function (mode) {
    TB.composerMode = mode;
    const note = mode === "note";
    $("composer").classList.toggle("note-mode", note);
    $("composer").dataset.mode = mode;
    $("composer-reply").setAttribute("aria-pressed", String(!note));
    $("composer-note").setAttribute("aria-pressed", String(note));
    $("reply-body").placeholder = t(note ? "composer.notePlaceholder" : "composer.replyPlaceholder");
    $("reply-send").textContent = t(note ? "composer.addNote" : "composer.send");
  };

  TB.focusComposer = function (mode) {
    if (!state.ticket) return;
    TB.setComposer(mode === "reply" && state.ticket.status === "closed" ? "note" : mode);
    $("reply-body").focus();
  };

  $("composer-reply").addEventListener("click", () => TB.focusComposer("reply"));
  $("composer-note").addEventListener("click", () => TB.focusComposer("note"));
  $("composer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("reply-body").value.trim();
    if (!text || !state.selected) return;
    const name = TB.composerMode === "note" ? "note" : "reply";
    const r = await TB.command(name, { ticket_id: state.selected, body: text });
    if (r) $("reply-body").value = "";
  });
  $("reply-body").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });

  $("assign-me").addEventListener("click", () => TB.command("assign", { ticket_id: state.selected, assignee_id: state.me.id }));
  $("unassign").addEventListener("click", () => TB.command("assign", { ticket_id: state.selected, assignee_id: null }));
  $("assignee").addEventListener("change", () => TB.command("assign", { ticket_id: state.selected, assignee_id: $("assignee").value || null }));
  $("close").addEventListener("click", () => TB.command("close", { ticket_id: state.selected }));
  $("unsnooze").addEventListener("click", () => TB.command("unsnooze", { ticket_id: state.selected }));
  $("back").addEventListener("click", TB.closeDetail);
  $("close-pane").addEventListener("click", TB.closeDetail);
})();
