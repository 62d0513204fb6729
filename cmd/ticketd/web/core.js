"use strict";
// Shared by the other files: the page's state, the API call, the notice,
// element building, time formatting and teammates' names.
(function () {
  const TB = (window.TB = window.TB || {});
  const t = TB.t;

  TB.$ = (id) => document.getElementById(id);

  TB.state = {
    token: sessionStorage.getItem("ticketbus.token") || "",
    me: null,
    users: new Map(), // id -> {id, name, role}
    view: "all",
    status: "open",
    q: "",
    sort: localStorage.getItem("ticketbus.sort") === "waiting" ? "waiting" : "newest",
    tickets: [],
    checked: new Map(), // id -> summary: the tickets picked for a bulk action
    cursor: null,
    focus: -1, // the row j/k points at
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

  TB.api = async function (method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + TB.state.token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new APIError(0, "network", t("err.network"));
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok || (data && data.ok === false)) {
      const err = (data && data.error) || {};
      throw new APIError(resp.status, err.code || "", err.message || t("err.request", { status: resp.status }));
    }
    return data;
  };

  // withPos asks the views to have caught up with our last command, so
  // what the page shows next includes it.
  TB.withPos = function (path) {
    if (!TB.state.minPos) return path;
    return path + (path.includes("?") ? "&" : "?") + "min_position=" + TB.state.minPos;
  };

  TB.notice = function (text, isError) {
    const n = TB.$("notice");
    n.textContent = text;
    n.className = isError ? "error" : "";
    n.hidden = !text;
    clearTimeout(TB.notice.timer);
    if (text && !isError) TB.notice.timer = setTimeout(() => { n.hidden = true; }, 6000);
  };

  // el builds an element with a class, a text and data attributes.
  TB.el = function (tag, cls, text, data) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    for (const k in data || {}) e.dataset[k] = data[k];
    return e;
  };

  TB.fmtTime = function (s) {
    if (!s) return "";
    return new Date(s).toLocaleString(TB.locale(), { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  };

  TB.fmtFull = function (s) {
    if (!s) return "";
    return new Date(s).toLocaleString(TB.locale(), { dateStyle: "full", timeStyle: "medium" });
  };

  // fmtClock is a time of day ("9:00 AM", "09:00").
  TB.fmtClock = function (d) {
    return d.toLocaleTimeString(TB.locale(), { hour: "numeric", minute: "2-digit" });
  };

  // fmtAge is how long ago s was, in the largest unit that fits ("3 min",
  // "2 d"); the engine's clock may be ahead of ours, hence "now" below zero.
  TB.fmtAge = function (s) {
    const secs = (Date.now() - new Date(s).getTime()) / 1000;
    const steps = [["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of steps) {
      if (secs >= size) {
        return new Intl.NumberFormat(TB.locale(), { style: "unit", unit, unitDisplay: "short" }).format(Math.floor(secs / size));
      }
    }
    return t("age.now");
  };

  // age is a <time> showing the relative age, the exact time on hover.
  TB.age = function (s, cls) {
    const e = TB.el("time", cls || "when muted", s ? TB.fmtAge(s) : "");
    if (s) {
      e.dateTime = s;
      e.title = TB.fmtFull(s);
    }
    return e;
  };

  // userName shows a teammate by name; the short id only when the user
  // list is out of reach. A teammate added since the page read the list
  // is learnt the first time the page meets them.
  TB.userName = function (id) {
    if (!id) return "";
    const u = TB.state.users.get(id);
    if (u) return u.name;
    if (TB.state.me && TB.state.me.id === id) return TB.state.me.name;
    learnUser(id);
    return t("user.unknown", { id: id.slice(0, 8) });
  };

  // learnUser reads the teammates again when an id the page does not know
  // shows up (once per id), then draws the page again with the names. An
  // id met while the list is being read has it read once more.
  const asked = new Set();
  let learning = false;
  let again = false;
  function learnUser(id) {
    if (asked.has(id) || !TB.state.me) return;
    asked.add(id);
    if (learning) {
      again = true;
      return;
    }
    learning = true;
    const token = TB.state.token;
    (async () => {
      do {
        again = false;
        await TB.loadUsers();
      } while (again && TB.state.token === token);
    })().then(
      () => { if (TB.state.token === token && TB.state.me) TB.rerender(); },
      (e) => { if (TB.state.token === token) TB.handleError(e); },
    ).finally(() => { learning = false; });
  }

  // loadUsers reads the teammates. A role that may not list them (older
  // engines keep the list to admins) still sees itself by name.
  TB.loadUsers = async function () {
    const users = new Map();
    if (TB.state.me) users.set(TB.state.me.id, TB.state.me);
    try {
      const list = await TB.api("GET", "/v1/users");
      for (const u of list || []) users.set(u.id, u);
    } catch (e) {
      if (e.status === 401) throw e;
    }
    TB.state.users = users;
  };

  // inboxUsers are the teammates a ticket can be assigned to, by name.
  TB.inboxUsers = function () {
    const roles = new Set(["owner", "admin", "manager", "support"]);
    return [...TB.state.users.values()].filter((u) => roles.has(u.role)).sort((a, b) => a.name.localeCompare(b.name, TB.locale()));
  };
})();
