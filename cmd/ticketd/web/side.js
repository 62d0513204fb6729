"use strict";
// Beside the thread: the customer (profile, phones, channel, other
// tickets, block state) and the ticket's history.
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, api, withPos, el, t } = TB;
  const OTHERS = 5; // the customer's most recent other tickets shown

  TB.side = { profile: null, events: null, others: [], first: null };

  // get answers null instead of failing, so a panel the engine cannot
  // fill yet leaves the rest of the page working.
  async function get(path) {
    try {
      return await api("GET", withPos(path));
    } catch (e) {
      if (e.status === 401) throw e;
      return null;
    }
  }

  TB.loadSide = async function (tk) {
    const [profile, events] = await Promise.all([
      get("/v1/profiles/" + encodeURIComponent(tk.profile_id)),
      get("/v1/tickets/" + encodeURIComponent(tk.id) + "/events"),
    ]);
    let others = [], first = null;
    if (profile) {
      const ids = profile.ticket_ids || [];
      const recent = ids.filter((id) => id !== tk.id).slice(-OTHERS).reverse();
      others = (await Promise.all(recent.map((id) => get("/v1/tickets/" + encodeURIComponent(id))))).filter(Boolean);
      // The first contact is the first message of the oldest ticket.
      const oldest = ids[0] === tk.id ? tk : others.find((o) => o.id === ids[0]) || (ids[0] ? await get("/v1/tickets/" + encodeURIComponent(ids[0])) : null);
      if (oldest) first = (oldest.messages && oldest.messages[0] && oldest.messages[0].at) || oldest.last_message_at;
    }
    if (state.selected !== tk.id) return;
    TB.side = { profile, events, others, first };
    TB.renderSide();
  };

  // channelOf is the channel the customer last wrote on.
  function channelOf(events) {
    let ch = "";
    for (const ev of events || []) {
      if ((ev.type === "MessageReceived" || ev.type === "TicketOpened") && ev.data && ev.data.channel) ch = ev.data.channel;
    }
    return ch;
  }

  function field(label, value, testid) {
    const row = el("div", "field");
    const v = value instanceof Node ? value : el("dd", "", value);
    if (testid) v.dataset.testid = testid;
    row.append(el("dt", "", label), v);
    return row;
  }

  function renderCustomer() {
    const box = $("customer");
    const { profile, events, others, first } = TB.side;
    const tk = state.ticket;
    if (!profile || !tk) {
      box.replaceChildren(el("h3", "", t("customer.heading")), el("p", "muted", t("customer.unavailable")));
      return;
    }
    const dl = el("dl");
    const pid = el("dd", "", profile.id);
    pid.dir = "auto";
    dl.append(field(t("customer.profile"), pid, "customer-id"));
    dl.append(field(t("customer.phones"), (profile.phones || []).join(t("sep.list")) || t("customer.noPhone"), "customer-phones"));
    const ch = channelOf(events);
    dl.append(field(t("customer.channel"), ch ? t("channel." + ch) : t("channel.unknown"), "customer-channel"));
    const lasts = [tk, ...others].map((o) => o.last_message_at).filter(Boolean).sort();
    const firstDd = el("dd");
    if (first) firstDd.append(TB.age(first, "at"));
    const lastDd = el("dd");
    if (lasts.length) lastDd.append(TB.age(lasts[lasts.length - 1], "at"));
    dl.append(field(t("customer.firstContact"), firstDd, "customer-first"), field(t("customer.lastContact"), lastDd, "customer-last"));
    const blocked = el("div", "blocked-state" + (profile.blocked ? " is-blocked" : ""), null, { testid: "customer-blocked", blocked: String(profile.blocked) });
    blocked.append(el("span", "", t(profile.blocked ? "customer.blocked" : "customer.active")));
    if (profile.blocked) {
      const b = el("button", "", t("customer.unblock"), { testid: "unblock" });
      b.type = "button";
      b.id = "unblock";
      b.addEventListener("click", async () => {
        const r = await TB.command("unblock", { profile_id: profile.id });
        if (r) TB.notice(t("customer.unblocked", { profile: profile.id }));
      });
      blocked.append(b);
    }
    const list = el("ul", "others", null, { testid: "customer-tickets" });
    for (const o of others) {
      const li = el("li");
      const b = el("button", "link", null, { testid: "other-ticket", ticketId: o.id });
      b.type = "button";
      const prev = el("span", "preview", o.preview || t("list.noMessages"));
      prev.dir = "auto";
      b.append(el("span", "tag status-" + o.status, t("state." + o.status)), " ", TB.age(o.last_message_at, "at"), prev);
      b.addEventListener("click", () => TB.openTicket(o.id));
      li.append(b);
      list.append(li);
    }
    if (!others.length) list.append(el("li", "muted", t("customer.noOthers")));
    box.replaceChildren(el("h3", "", t("customer.heading")), dl, blocked, el("h4", "", t("customer.others")), list);
  }

  // Events the thread already shows (messages, replies, notes) stay out
  // of the history; it tells who did what to the ticket.
  const SKIP = new Set(["MessageReceived", "ReplySent", "NoteAdded", "ReplyStatusChanged", "TicketMarkedRead"]);

  // What the agent reading did has entries of its own (key + ".you"):
  // a language may not say "you" where it says a name ("Vous l’avez
  // fermé", not "Vous l’a fermé").
  function describe(ev) {
    const a = ev.actor || {};
    const mine = !!(a.user_id && state.me && a.user_id === state.me.id);
    const who = a.user_id ? TB.userName(a.user_id) : t("history.system");
    const say = (key, params) => t(mine && TB.has(key + ".you") ? key + ".you" : key, Object.assign({ who }, params));
    const d = ev.data || {};
    switch (ev.type) {
      case "TicketAssigned":
        return d.assignee_id ? say("history.TicketAssigned", { name: TB.userName(d.assignee_id) }) : say("history.TicketUnassigned");
      case "TicketSnoozed":
        return say("history.TicketSnoozed", { until: TB.fmtTime(d.until) });
      case "TicketWoke":
      case "TicketClosed":
        return say("history." + ev.type + "." + (d.reason || "agent"));
      default:
        return say("history." + ev.type);
    }
  }

  function renderHistory() {
    const box = $("history-list");
    const events = TB.side.events;
    if (!events) {
      box.replaceChildren(el("li", "muted", t("history.unavailable")));
      return;
    }
    const items = events.filter((ev) => !SKIP.has(ev.type)).map((ev) => {
      const li = el("li", "", null, { testid: "history-item", type: ev.type });
      const text = describe(ev);
      li.append(el("span", "", text.charAt(0).toLocaleUpperCase(TB.locale()) + text.slice(1)), " ", TB.age(ev.at, "at"));
      return li;
    });
    if (!items.length) items.push(el("li", "muted", t("history.empty")));
    box.replaceChildren(...items.reverse());
  }

  TB.renderSide = function () {
    renderCustomer();
    renderHistory();
  };
})();
