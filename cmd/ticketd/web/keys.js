"use strict";
// Keyboard shortcuts, and the help dialog that lists them.
(function () {
  const TB = (window.TB = window.TB || {});
  const { $, state, el, t } = TB;

  // Shown in the help dialog, in this order: keys, then what they do.
  const HELP = [
    [["j", "k"], "help.jk"], [["Enter"], "help.enter"], [["r"], "help.r"], [["n"], "help.n"],
    [["e"], "help.e"], [["s"], "help.s"], [["u"], "help.u"], [["/"], "help.slash"],
    [["?"], "help.help"], [["Ctrl", "Enter"], "help.send"], [["Esc"], "help.esc"],
  ];

  TB.renderHelp = function () {
    $("help-list").replaceChildren(...HELP.map(([keys, key]) => {
      const row = el("div", "field");
      const dt = el("dt");
      keys.forEach((k, i) => {
        if (i) dt.append(keys[0] === "Ctrl" ? "+" : " / ");
        dt.append(el("kbd", "", k));
      });
      row.append(dt, el("dd", "", t(key)));
      return row;
    }));
  };

  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
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
