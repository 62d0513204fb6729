"use strict";
// Signing in and out, polling, commands, and the menu and dialogs.
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, api, t } = TB;
  const TOKEN_KEY = "ticketbus.token";
  const POLL_MS = 2000;
  const AGES_MS = 30000; // relative ages ("3 min") move on even when nothing else does

  function showSignin(message) {
    stopPolling();
    $("app").hidden = true;
    $("signin").hidden = false;
    const e = $("signin-error");
    e.textContent = message || "";
    e.hidden = !message;
    $("token").focus();
  }

  function roleName(role) {
    return TB.has("role." + role) ? t("role." + role) : role;
  }

  function renderMe() {
    if (state.me) $("me").textContent = t("top.me", { name: state.me.name, role: roleName(state.me.role) });
  }

  async function signIn(token) {
    state.token = token;
    try {
      state.me = await api("GET", "/v1/me");
      await api("GET", "/v1/tickets/counts");
      await TB.loadUsers();
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = "";
      if (e.status === 401) return showSignin(t("signin.unknown"));
      if (e.status === 403) return showSignin(t("signin.forbidden", { who: state.me ? t("signin.who", { name: state.me.name, role: roleName(state.me.role) }) : t("signin.thisUser") }));
      return showSignin(e.message);
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("signin").hidden = true;
    $("app").hidden = false;
    TB.renderNav();
    renderMe();
    await TB.refresh(true).catch(TB.handleError);
    startPolling();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    Object.assign(state, { token: "", me: null, selected: null, ticket: null, tickets: [], listKey: "", q: "", focus: -1, users: new Map() });
    TB.clearBulk();
    $("search").value = "";
    $("ticket-list").replaceChildren();
    $("ticket").hidden = true;
    $("no-ticket").hidden = false;
    document.body.classList.remove("reading");
    showSignin("");
  }

  TB.handleError = function (e) {
    if (e.status === 401) return signOut(), showSignin(t("signin.expired"));
    if (e.status === 403 && e.code === "forbidden") return TB.notice(t("err.forbidden", { message: e.message }), true);
    TB.notice(e.message, true);
  };

  let ages = null;
  function startPolling() {
    stopPolling();
    state.timer = setInterval(() => TB.refresh(false).catch(TB.handleError), POLL_MS);
    ages = setInterval(TB.rerender, AGES_MS);
  }

  function stopPolling() {
    clearInterval(state.timer);
    clearInterval(ages);
    state.timer = null;
  }

  let refreshing = null;
  TB.refresh = async function (reset) {
    if (refreshing && !reset) return refreshing;
    const run = Promise.all([TB.loadCounts(), TB.loadList(reset), state.selected ? TB.loadTicket() : null]);
    refreshing = run;
    try {
      await run;
    } finally {
      if (refreshing === run) refreshing = null;
    }
  };

  // rerender redraws what holds words or ages, after a language switch
  // or as time passes.
  TB.rerender = function () {
    renderSnoozeLabels();
    if (!state.me) return;
    renderMe();
    TB.renderList(true);
    TB.renderBulk();
    if (state.ticket) {
      $("thread").dataset.key = "";
      TB.renderTicket();
      TB.renderSide();
    }
    TB.setComposer(TB.composerMode);
    TB.renderHelp();
  };

  TB.command = async function (name, body, quiet) {
    try {
      const r = await api("POST", "/v1/commands/" + name, body);
      if (r && r.position > state.minPos) state.minPos = r.position;
      state.sideStale = true;
      await TB.refresh(true);
      if (!quiet) TB.notice("");
      return r;
    } catch (e) {
      TB.handleError(e);
      return null;
    }
  };

  TB.closeMenu = function () {
    $("more-menu").hidden = true;
    $("more").setAttribute("aria-expanded", "false");
  };

  function nextAt(hour, addDays) {
    const d = new Date();
    d.setDate(d.getDate() + addDays);
    d.setHours(hour, 0, 0, 0);
    return d;
  }

  const tomorrow9 = () => nextAt(9, 1);
  const monday9 = () => nextAt(9, ((8 - new Date().getDay()) % 7) || 7);

  // The snooze choices name their day and hour in the agent's locale.
  function renderSnoozeLabels() {
    const mon = monday9();
    $("snooze-tomorrow-label").textContent = t("snooze.tomorrow", { time: TB.fmtClock(tomorrow9()) });
    $("snooze-week-label").textContent = t("snooze.week", {
      day: mon.toLocaleDateString(TB.locale(), { weekday: "long" }), time: TB.fmtClock(mon),
    });
  }

  // snoozeWhen is the chosen time, as the snooze command takes it.
  function snoozeWhen() {
    const choice = (document.querySelector("input[name=snooze]:checked") || {}).value;
    switch (choice) {
      case "1h": return { duration: "1h" };
      case "3h": return { duration: "3h" };
      case "tomorrow": return { until: tomorrow9().toISOString() };
      case "week": return { until: monday9().toISOString() };
      case "custom": {
        const v = $("snooze-at").value;
        const d = v ? new Date(v) : null;
        if (!d || isNaN(d.getTime())) return null;
        return { until: d.toISOString() };
      }
    }
    return null;
  }

  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tok = $("token").value.trim();
    if (!tok) return showSignin(t("signin.empty"));
    $("signin-error").hidden = true;
    signIn(tok);
  });
  $("signout").addEventListener("click", signOut);
  document.querySelectorAll(".lang-select").forEach((s) => s.addEventListener("change", () => TB.setLang(s.value)));

  $("more").addEventListener("click", () => {
    const m = $("more-menu");
    m.hidden = !m.hidden;
    $("more").setAttribute("aria-expanded", String(!m.hidden));
    if (!m.hidden) $("mark-unread").focus();
  });
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest(".menu-wrap")) TB.closeMenu();
  });
  $("mark-unread").addEventListener("click", () => {
    TB.closeMenu();
    TB.command("mark_unread", { ticket_id: state.selected });
  });
  $("block").addEventListener("click", () => {
    TB.closeMenu();
    $("block-body").textContent = t("block.body", { profile: state.ticket ? state.ticket.profile_id : "" });
    $("block-dialog").showModal();
  });
  $("block-cancel").addEventListener("click", () => $("block-dialog").close());
  $("block-dialog").addEventListener("close", () => { $("block-body").textContent = ""; });
  $("block-confirm").addEventListener("click", async () => {
    $("block-dialog").close();
    if (!state.ticket) return;
    const profile = state.ticket.profile_id;
    const r = await TB.command("block", { profile_id: profile });
    if (r) TB.notice(t("block.done", { profile }));
  });

  // askSnooze opens the snooze dialog; then gets the chosen time, for
  // the open ticket or for the picked ones (bulk.js).
  let onSnooze = null;
  TB.askSnooze = function (then) {
    onSnooze = then;
    $("snooze-error").hidden = true;
    renderSnoozeLabels();
    const d = new Date(Date.now() + 3600e3);
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    if (!$("snooze-at").value) $("snooze-at").value = d.toISOString().slice(0, 16);
    $("snooze-dialog").showModal();
  };
  $("snooze").addEventListener("click", () => TB.askSnooze((when) => TB.command("snooze", Object.assign({ ticket_id: state.selected }, when))));
  $("snooze-at").addEventListener("input", () => {
    document.querySelector("input[name=snooze][value=custom]").checked = true;
  });
  $("snooze-cancel").addEventListener("click", () => $("snooze-dialog").close());
  $("snooze-confirm").addEventListener("click", async () => {
    const when = snoozeWhen();
    if (!when) {
      $("snooze-error").textContent = t("snooze.bad");
      $("snooze-error").hidden = false;
      return;
    }
    $("snooze-dialog").close();
    if (onSnooze) await onSnooze(when);
  });

  TB.applyStatic();
  renderSnoozeLabels();
  TB.setComposer("reply");
  if (state.token) signIn(state.token);
  else showSignin("");
})();
