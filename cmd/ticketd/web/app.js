"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "ticketbus.token";
  const POLL_MS = 2000;
  const PAGE = 50;

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    me: null,
    view: "all",
    status: "open",
    tickets: [],
    cursor: null,
    selected: null,
    ticket: null,
    minPos: 0,
    timer: null,
    listKey: "",
  };

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + state.token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new APIError(0, "network", "The server cannot be reached.");
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok || (data && data.ok === false)) {
      const err = (data && data.error) || {};
      throw new APIError(resp.status, err.code || "", err.message || "Request failed (" + resp.status + ").");
    }
    return data;
  }

  function withPos(path) {
    if (!state.minPos) return path;
    return path + (path.includes("?") ? "&" : "?") + "min_position=" + state.minPos;
  }

  function notice(text, isError) {
    const n = $("notice");
    n.textContent = text;
    n.className = isError ? "error" : "";
    n.hidden = !text;
    clearTimeout(notice.timer);
    if (text && !isError) notice.timer = setTimeout(() => { n.hidden = true; }, 6000);
  }

  function fmtTime(s) {
    if (!s) return "";
    const d = new Date(s);
    return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  // ---- sign in / out ----

  function showSignin(message) {
    stopPolling();
    $("app").hidden = true;
    $("signin").hidden = false;
    const e = $("signin-error");
    e.textContent = message || "";
    e.hidden = !message;
    $("token").focus();
  }

  async function signIn(token) {
    state.token = token;
    try {
      state.me = await api("GET", "/v1/me");
      await api("GET", "/v1/tickets/counts");
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = "";
      if (e.status === 401) return showSignin("That token was not recognised. Check it and try again.");
      if (e.status === 403) return showSignin("Signed in as " + (state.me ? state.me.name + " (" + state.me.role + ")" : "this user") + ", but your role cannot read the inbox.");
      return showSignin(e.message);
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("signin").hidden = true;
    $("app").hidden = false;
    $("me").textContent = state.me.name + " · " + state.me.role;
    renderNav();
    await refresh(true);
    startPolling();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = "";
    state.me = null;
    state.selected = null;
    state.ticket = null;
    state.tickets = [];
    state.listKey = "";
    $("ticket-list").replaceChildren();
    $("ticket").hidden = true;
    document.body.classList.remove("reading");
    showSignin("");
  }

  function handleError(e) {
    if (e.status === 401) return signOut(), showSignin("Your token is no longer valid. Sign in again.");
    if (e.status === 403 && e.code === "forbidden") return notice("Your role cannot do this: " + e.message, true);
    notice(e.message, true);
  }

  // ---- polling ----

  function startPolling() {
    stopPolling();
    state.timer = setInterval(() => {
      refresh(false).catch(handleError);
    }, POLL_MS);
  }

  function stopPolling() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  let refreshing = null;
  async function refresh(reset) {
    if (refreshing && !reset) return refreshing;
    const run = (async () => {
      await Promise.all([loadCounts(), loadList(reset), state.selected ? loadTicket() : null]);
    })();
    refreshing = run;
    try {
      await run;
    } finally {
      if (refreshing === run) refreshing = null;
    }
  }

  async function loadCounts() {
    const c = await api("GET", withPos("/v1/tickets/counts"));
    for (const v of ["all", "mine", "unassigned"]) {
      $("count-" + v).textContent = String((c[v] && c[v][state.status]) || 0);
    }
  }

  async function loadList(reset) {
    const view = state.view, status = state.status;
    const limit = reset ? PAGE : Math.min(500, Math.max(PAGE, state.tickets.length));
    const page = await api("GET", withPos("/v1/tickets?view=" + view + "&status=" + status + "&limit=" + limit));
    if (view !== state.view || status !== state.status) return;
    state.tickets = page.tickets || [];
    state.cursor = page.next_cursor || null;
    renderList();
  }

  async function loadMore() {
    if (!state.cursor) return;
    const page = await api("GET", withPos("/v1/tickets?view=" + state.view + "&status=" + state.status + "&limit=" + PAGE + "&cursor=" + encodeURIComponent(state.cursor)));
    state.tickets = state.tickets.concat(page.tickets || []);
    state.cursor = page.next_cursor || null;
    renderList();
  }

  // ---- rendering ----

  function renderNav() {
    document.querySelectorAll(".view").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === state.view)));
    document.querySelectorAll(".status").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.status === state.status)));
  }

  function renderList() {
    const key = JSON.stringify([state.view, state.status, state.selected, state.tickets, state.cursor]);
    if (key === state.listKey) return;
    state.listKey = key;
    const ul = $("ticket-list");
    const items = state.tickets.map((t) => {
      const li = document.createElement("li");
      li.dataset.testid = "ticket-row";
      li.dataset.ticketId = t.id;
      li.dataset.unread = String(!!t.unread);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "row" + (t.id === state.selected ? " selected" : "") + (t.unread ? " unread" : "");
      b.dataset.testid = "open-ticket";
      b.addEventListener("click", () => openTicket(t.id));
      const top = document.createElement("span");
      top.className = "row-top";
      const dot = document.createElement("span");
      dot.className = "dot";
      if (t.unread) {
        dot.dataset.testid = "unread-dot";
        dot.setAttribute("aria-label", "Unread");
      }
      const name = document.createElement("span");
      name.className = "profile";
      name.textContent = t.profile_id;
      const when = document.createElement("span");
      when.className = "when muted";
      when.textContent = fmtTime(t.last_message_at);
      top.append(dot, name, when);
      const prev = document.createElement("span");
      prev.className = "preview";
      prev.textContent = t.preview || "(no messages)";
      b.append(top, prev);
      if (state.status === "snoozed" && t.snoozed_until) {
        const s = document.createElement("span");
        s.className = "snoozed-until muted";
        s.dataset.testid = "snoozed-until";
        s.textContent = "Snoozed until " + fmtTime(t.snoozed_until);
        b.append(s);
      }
      li.append(b);
      return li;
    });
    ul.replaceChildren(...items);
    $("list-empty").hidden = items.length > 0;
    $("load-more").hidden = !state.cursor;
  }

  function renderTicket() {
    const t = state.ticket;
    if (!t) return;
    $("ticket").hidden = false;
    $("ticket").dataset.ticketId = t.id;
    $("ticket").dataset.status = t.status;
    $("ticket-profile").textContent = t.profile_id;
    const who = t.assignee_id ? (state.me && t.assignee_id === state.me.id ? "Assigned to you" : "Assigned to " + t.assignee_id) : "Unassigned";
    let st = t.status.charAt(0).toUpperCase() + t.status.slice(1);
    if (t.status === "snoozed" && t.snoozed_until) st += " until " + fmtTime(t.snoozed_until);
    $("ticket-meta").textContent = st + " · " + who;
    const closed = t.status === "closed";
    const mine = state.me && t.assignee_id === state.me.id;
    $("assign-me").hidden = closed || mine;
    $("unassign").hidden = closed || !t.assignee_id;
    $("snooze").hidden = closed;
    $("close").hidden = closed;
    $("reply-form").hidden = closed;
    const key = JSON.stringify(t.messages);
    const thread = $("thread");
    if (thread.dataset.key === key && thread.dataset.ticketId === t.id) return;
    thread.dataset.key = key;
    thread.dataset.ticketId = t.id;
    const items = (t.messages || []).map((m) => {
      const li = document.createElement("li");
      li.className = "msg " + m.direction;
      li.dataset.testid = "message";
      li.dataset.direction = m.direction;
      const body = document.createElement("p");
      body.textContent = m.body;
      const meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = (m.direction === "outbound" ? "Reply" : t.profile_id) + " · " + fmtTime(m.at);
      li.append(body, meta);
      if (m.direction === "outbound" && m.status) appendReplyStatus(li, m);
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.dataset.testid = "thread-empty";
      li.textContent = "No messages in this ticket.";
      items.push(li);
    }
    thread.replaceChildren(...items);
    thread.scrollTop = thread.scrollHeight;
  }

  // A reply's delivery, as spec section 7 names its steps.
  const REPLY_STATUS = {
    pending: ["Pending", "Written, not yet handed over for delivery"],
    sent: ["Sent", "Handed over for delivery"],
    delivered: ["Delivered", "Delivered to the customer"],
    failed: ["Failed", "Not delivered"],
  };

  // appendReplyStatus marks a reply with its status; a failed one also
  // shows why, beside the mark and on hovering it.
  function appendReplyStatus(li, m) {
    const [label, hint] = REPLY_STATUS[m.status] || [m.status, ""];
    li.dataset.status = m.status;
    const mark = document.createElement("span");
    mark.className = "reply-status is-" + m.status;
    mark.dataset.testid = "reply-status";
    mark.dataset.status = m.status;
    mark.textContent = label;
    mark.title = m.status === "failed" && m.status_reason ? hint + ": " + m.status_reason : hint;
    li.append(mark);
    if (m.status === "failed") {
      li.classList.add("failed");
      if (m.status_reason) {
        const why = document.createElement("p");
        why.className = "reply-reason";
        why.dataset.testid = "reply-reason";
        why.textContent = "Not delivered: " + m.status_reason;
        li.append(why);
      }
    }
  }

  // ---- ticket ----

  async function loadTicket() {
    const id = state.selected;
    try {
      const t = await api("GET", withPos("/v1/tickets/" + encodeURIComponent(id)));
      if (id !== state.selected) return;
      state.ticket = t;
      renderTicket();
    } catch (e) {
      if (e.status === 404) return closeDetail();
      throw e;
    }
  }

  async function openTicket(id) {
    state.selected = id;
    closeMenu();
    notice("");
    document.body.classList.add("reading");
    renderList();
    try {
      await loadTicket();
      if (state.ticket && state.ticket.id === id && state.ticket.unread) {
        await command("mark_read", { ticket_id: id }, true);
      }
    } catch (e) {
      handleError(e);
    }
  }

  function closeDetail() {
    state.selected = null;
    state.ticket = null;
    $("ticket").hidden = true;
    document.body.classList.remove("reading");
    renderList();
  }

  async function command(name, body, quiet) {
    try {
      const r = await api("POST", "/v1/commands/" + name, body);
      if (r && r.position > state.minPos) state.minPos = r.position;
      await refresh(true);
      if (!quiet) notice("");
      return r;
    } catch (e) {
      handleError(e);
      return null;
    }
  }

  // ---- menu and dialogs ----

  function closeMenu() {
    $("more-menu").hidden = true;
    $("more").setAttribute("aria-expanded", "false");
  }

  function nextAt(hour, addDays) {
    const d = new Date();
    d.setDate(d.getDate() + addDays);
    d.setHours(hour, 0, 0, 0);
    return d;
  }

  function snoozeBody() {
    const choice = (document.querySelector("input[name=snooze]:checked") || {}).value;
    const id = state.selected;
    switch (choice) {
      case "1h": return { ticket_id: id, duration: "1h" };
      case "3h": return { ticket_id: id, duration: "3h" };
      case "tomorrow": return { ticket_id: id, until: nextAt(9, 1).toISOString() };
      case "week": {
        const now = new Date();
        const days = ((8 - now.getDay()) % 7) || 7; // next Monday
        return { ticket_id: id, until: nextAt(9, days).toISOString() };
      }
      case "custom": {
        const v = $("snooze-at").value;
        const d = v ? new Date(v) : null;
        if (!d || isNaN(d.getTime())) return null;
        return { ticket_id: id, until: d.toISOString() };
      }
    }
    return null;
  }

  // ---- wiring ----

  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (!t) return showSignin("Enter your API token.");
    $("signin-error").hidden = true;
    signIn(t);
  });
  $("signout").addEventListener("click", signOut);

  document.querySelectorAll(".view").forEach((b) => b.addEventListener("click", () => {
    state.view = b.dataset.view;
    renderNav();
    refresh(true).catch(handleError);
  }));
  document.querySelectorAll(".status").forEach((b) => b.addEventListener("click", () => {
    state.status = b.dataset.status;
    renderNav();
    refresh(true).catch(handleError);
  }));
  $("load-more").addEventListener("click", () => loadMore().catch(handleError));
  $("back").addEventListener("click", closeDetail);

  $("assign-me").addEventListener("click", () => command("assign", { ticket_id: state.selected, assignee_id: state.me.id }));
  $("unassign").addEventListener("click", () => command("assign", { ticket_id: state.selected, assignee_id: null }));
  $("close").addEventListener("click", () => command("close", { ticket_id: state.selected }));

  $("more").addEventListener("click", () => {
    const m = $("more-menu");
    m.hidden = !m.hidden;
    $("more").setAttribute("aria-expanded", String(!m.hidden));
    if (!m.hidden) $("mark-unread").focus();
  });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeMenu(); });
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest(".menu-wrap")) closeMenu();
  });
  $("mark-unread").addEventListener("click", () => {
    closeMenu();
    command("mark_unread", { ticket_id: state.selected });
  });
  $("block").addEventListener("click", () => {
    closeMenu();
    $("block-profile").textContent = state.ticket ? state.ticket.profile_id : "";
    $("block-dialog").showModal();
  });
  $("block-cancel").addEventListener("click", () => $("block-dialog").close());
  $("block-confirm").addEventListener("click", async () => {
    $("block-dialog").close();
    if (!state.ticket) return;
    const r = await command("block", { profile_id: state.ticket.profile_id });
    if (r) notice("Profile " + state.ticket.profile_id + " is blocked; its messages are gone.");
  });

  $("snooze").addEventListener("click", () => {
    $("snooze-error").hidden = true;
    const d = new Date(Date.now() + 3600e3);
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    if (!$("snooze-at").value) $("snooze-at").value = d.toISOString().slice(0, 16);
    $("snooze-dialog").showModal();
  });
  $("snooze-at").addEventListener("input", () => {
    document.querySelector("input[name=snooze][value=custom]").checked = true;
  });
  $("snooze-cancel").addEventListener("click", () => $("snooze-dialog").close());
  $("snooze-confirm").addEventListener("click", async () => {
    const body = snoozeBody();
    if (!body) {
      $("snooze-error").textContent = "Pick a date and time in the future.";
      $("snooze-error").hidden = false;
      return;
    }
    $("snooze-dialog").close();
    await command("snooze", body);
  });

  $("reply-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("reply-body").value.trim();
    if (!text || !state.selected) return;
    const r = await command("reply", { ticket_id: state.selected, body: text });
    if (r) $("reply-body").value = "";
  });

  if (state.token) {
    signIn(state.token);
  } else {
    showSignin("");
  }
})();
