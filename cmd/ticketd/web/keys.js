"use strict";
// Keyboard shortcuts, and the help dialog that lists them.
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, el, t } = TB;

  // Shown in the help dialog, in this order: keys, what they do, and
  // what joins the keys (alternatives unless told). Key caps are
  // dictionary entries too ("Entrée", "Échap" in French).
  const HELP = [
    [["key.j", "key.k"], "help.jk"], [["key.enter"], "help.enter"], [["key.r"], "help.r"], [["key.n"], "help.n"],
    [["key.e"], "help.e"], [["key.s"], "help.s"], [["key.u"], "help.u"], [["key.x"], "help.x"],
    [["key.slash"], "help.slash"], [["key.help"], "help.help"], [["key.ctrl", "key.enter"], "help.send", "key.plus"],
    [["key.esc"], "help.esc"],
  ];

  TB.renderHelp = function () {
    $("help-list").replaceChildren(...HELP.map(([keys, key, join]) => {
      const row = el("div", "field");
      const dt = el("dt");
      keys.forEach((k, i) => {
        if (i) dt.append(t(join || "key.or"));
        dt.append(el("kbd", "", t(k)));
      });
      row.append(dt, el("dd", "", t(key)));
      return row;
    }));
  };

  // typing says whether keys go to a field; a checkbox takes none but
  // Space, so x and the others still work there.
  function typing(target) {
    return target.closest && target.closest("input:not([type=checkbox]):not([type=radio]), textarea, select, [contenteditable]");
  }

  // afterKey runs fn once the key is released, so that a shortcut that
  // moves the focus to a field does not type its own letter there.
  function afterKey(fn) {
    document.addEventListener("keyup", fn, { once: true });
  }

  const ACTIONS = {
    j: () => TB.moveFocus(1),
    k: () => TB.moveFocus(-1),
    Enter: () => TB.openFocused(),
    r: () => afterKey(() => TB.focusComposer("reply")),
    n: () => afterKey(() => TB.focusComposer("note")),
    e: () => state.ticket && state.ticket.status !== "closed" && $("close").click(),
    s: () => state.ticket && state.ticket.status !== "closed" && $("snooze").click(),
    u: () => state.ticket && TB.command("mark_unread", { ticket_id: state.selected }),
    x: () => TB.togglePick(),
    "/": () => afterKey(() => { $("search").focus(); $("search").select(); }),
    "?": () => { TB.renderHelp(); $("help-dialog").showModal(); },
  };

  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      TB.closeMenu();
      if (typing(ev.target)) ev.target.blur();
      return;
    }
    if ($("app").hidden || document.querySelector("dialog[open]")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    // Enter on a row button opens it by itself; no need to do it twice.
    if (ev.key === "Enter" && ev.target.closest && ev.target.closest("button")) return;
    const act = ACTIONS[ev.key];
    if (!act) return;
    ev.preventDefault();
    act();
  });

  $("help").addEventListener("click", () => { TB.renderHelp(); $("help-dialog").showModal(); });
  $("help-close").addEventListener("click", () => $("help-dialog").close());
})();
