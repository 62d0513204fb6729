"use strict";
// Bulk actions: the tickets picked in the list (list.js) are closed,
// snoozed, assigned, or marked read or unread together. Each ticket gets
// its own command, the one the ticket's own button sends, a few at a time;
// the page then says how many succeeded and, for each one that failed,
// which ticket and why. Failed tickets stay picked, to try again.
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, api, el, t } = TB;
  const LANES = 4; // commands in flight at once
  const NOBODY = "-"; // the assign picker's value for "unassigned"

  let run = null; // {name, done, total} while commands are in flight
  let last = null; // {name, results}: the last run, drawn again in another language

  TB.pick = function (tk, on) {
    if (on) state.checked.set(tk.id, tk);
    else state.checked.delete(tk.id);
    TB.renderPicks();
  };

  // togglePick is x: the row j/k points at, else the open ticket's row.
  TB.togglePick = function () {
    const tk = state.tickets[state.focus] || state.tickets.find((x) => x.id === state.selected);
    if (tk) TB.pick(tk, !state.checked.has(tk.id));
  };

  // renderPicks brings the boxes, "select all shown" and the bar in line
  // with the picked tickets, without drawing the rows again.
  TB.renderPicks = function () {
    document.querySelectorAll("#ticket-list li[data-ticket-id]").forEach((li) => {
      const on = state.checked.has(li.dataset.ticketId);
      li.classList.toggle("picked", on);
      li.dataset.picked = String(on);
      const box = li.querySelector("input.pick");
      if (box) box.checked = on;
    });
    const shown = state.tickets.filter((tk) => state.checked.has(tk.id)).length;
    const all = $("pick-all");
    all.checked = shown > 0 && shown === state.tickets.length;
    all.indeterminate = shown > 0 && shown < state.tickets.length;
    all.disabled = state.tickets.length === 0;
    $("bulk-bar").hidden = state.checked.size === 0 && !run;
    $("bulk-bar").setAttribute("aria-busy", String(!!run));
    $("bulk-count").textContent = run
      ? t("bulk.running", { action: t("bulk.action." + run.name), done: TB.fmtNum(run.done), total: TB.fmtNum(run.total) })
      : TB.tn("bulk.count", state.checked.size);
    for (const b of $("bulk-bar").querySelectorAll("button, select")) b.disabled = !!run;
    renderAssignPicker();
    $("bulk-assign-go").disabled = !!run || !$("bulk-assign").value;
  };

  // The assign picker offers what the ticket's own picker does: nobody,
  // then every teammate by name. Choosing is not assigning: the button
  // beside it does, so that stepping through names with the arrow keys
  // changes no ticket.
  function renderAssignPicker() {
    const sel = $("bulk-assign");
    const opts = [["", t("bulk.assign")], [NOBODY, t("ticket.nobody")]];
    for (const u of TB.inboxUsers()) {
      opts.push([u.id, state.me && u.id === state.me.id ? t("ticket.you", { name: u.name }) : u.name]);
    }
    const key = JSON.stringify([TB.lang, opts]);
    if (sel.dataset.key === key) return;
    sel.dataset.key = key;
    sel.replaceChildren(...opts.map(([id, name]) => {
      const o = el("option", "", name);
      o.value = id;
      return o;
    }));
    sel.value = "";
  }

  // bulkRun sends one command per picked ticket, LANES at a time, then
  // shows the results and reloads the list once.
  TB.bulkRun = async function (name, extra) {
    if (run || state.checked.size === 0) return;
    const items = [...state.checked.values()];
    const results = new Array(items.length);
    run = { name, done: 0, total: items.length };
    TB.notice("");
    TB.renderPicks();
    let next = 0;
    async function lane() {
      while (next < items.length) {
        const i = next++;
        const tk = items[i];
        try {
          const r = await api("POST", "/v1/commands/" + name, Object.assign({ ticket_id: tk.id }, extra));
          if (r && r.position > state.minPos) state.minPos = r.position;
          results[i] = { tk, ok: true };
        } catch (e) {
          results[i] = { tk, ok: false, status: e.status, code: e.code || "", message: e.message };
        }
        run.done++;
        TB.renderPicks();
      }
    }
    await Promise.all(Array.from({ length: Math.min(LANES, items.length) }, lane));
    run = null;
    for (const r of results) if (r.ok) state.checked.delete(r.tk.id);
    last = { name, results };
    renderResult();
    const expired = results.find((r) => r.status === 401);
    if (expired) return TB.handleError(expired);
    state.sideStale = true;
    await TB.refresh(true).catch(TB.handleError);
    TB.renderPicks();
  };

  function failure(r) {
    const li = el("li", "", null, { testid: "bulk-failure", ticketId: r.tk.id, code: r.code });
    const open = el("button", "link", null, { testid: "bulk-failure-open" });
    open.type = "button";
    const who = el("span", "profile", r.tk.profile_id);
    who.dir = "auto";
    const prev = el("span", "preview", r.tk.preview || t("list.noMessages"));
    prev.dir = "auto";
    open.append(who, prev);
    open.addEventListener("click", () => TB.openTicket(r.tk.id));
    const why = TB.has("bulk.why." + r.code) ? t("bulk.why." + r.code) : t("bulk.why.other");
    const p = el("p", "why", t("bulk.failure", { why, message: r.message }), { testid: "bulk-why" });
    p.dir = "auto";
    li.append(open, p);
    return li;
  }

  function renderResult() {
    const box = $("bulk-result");
    box.hidden = !last;
    if (!last) return;
    const ok = last.results.filter((r) => r.ok).length;
    const failed = last.results.filter((r) => !r.ok);
    Object.assign(box.dataset, { action: last.name, ok: String(ok), failed: String(failed.length) });
    box.classList.toggle("has-failures", failed.length > 0);
    $("bulk-summary").textContent = TB.tn("bulk.result", ok, {
      action: t("bulk.action." + last.name), ok: TB.fmtNum(ok), total: TB.fmtNum(last.results.length),
    });
    $("bulk-failed").hidden = failed.length === 0;
    $("bulk-failed").textContent = TB.tn("bulk.failures", failed.length);
    $("bulk-failures").replaceChildren(...failed.map(failure));
  }

  TB.renderBulk = function () {
    TB.renderPicks();
    renderResult();
  };

  // clearBulk forgets the picks and the last results (signing out).
  TB.clearBulk = function () {
    state.checked.clear();
    last = null;
    renderResult();
  };

  $("pick-all").addEventListener("change", () => {
    const all = state.tickets.length > 0 && state.tickets.every((tk) => state.checked.has(tk.id));
    for (const tk of state.tickets) {
      if (all) state.checked.delete(tk.id);
      else state.checked.set(tk.id, tk);
    }
    TB.renderPicks();
  });
  $("bulk-close").addEventListener("click", () => TB.bulkRun("close", {}));
  $("bulk-read").addEventListener("click", () => TB.bulkRun("mark_read", {}));
  $("bulk-unread").addEventListener("click", () => TB.bulkRun("mark_unread", {}));
  $("bulk-snooze").addEventListener("click", () => TB.askSnooze((when) => TB.bulkRun("snooze", when)));
  $("bulk-assign").addEventListener("change", () => TB.renderPicks());
  $("bulk-assign-go").addEventListener("click", () => {
    const v = $("bulk-assign").value;
    if (!v) return;
    $("bulk-assign").value = "";
    TB.bulkRun("assign", { assignee_id: v === NOBODY ? null : v });
  });
  $("bulk-clear").addEventListener("click", () => {
    state.checked.clear();
    TB.renderPicks();
  });
  $("bulk-dismiss").addEventListener("click", () => {
    last = null;
    renderResult();
  });
})();
