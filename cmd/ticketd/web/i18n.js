"use strict";
// Looking words up in the dictionaries (i18n-en.js, i18n-fr.js). Other
// files only name keys, so a missing translation shows up as a missing
// key, not as text in the wrong language.
(function () {
  const TB = (window.TB = window.TB || {});
  const LANG_KEY = "ticketbus.lang";

  // The language is the one picked on this browser before, else the
  // browser's own when there is a dictionary for it, else English.
  function initialLang() {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && TB.dicts[saved]) return saved;
    return (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
  }
  TB.lang = initialLang();

  // locale is what Intl formats with: the browser's own locale when it is
  // in the chosen language (en-GB keeps its day-month order), else the
  // language alone.
  TB.locale = function () {
    const nav = navigator.language || "";
    return nav.toLowerCase().startsWith(TB.lang) ? nav : TB.lang;
  };

  TB.has = function (key) {
    return TB.dicts[TB.lang][key] !== undefined || TB.dicts.en[key] !== undefined;
  };

  // t looks a key up and fills its {placeholders}.
  TB.t = function (key, params) {
    let s = TB.dicts[TB.lang][key];
    if (s === undefined) s = TB.dicts.en[key] !== undefined ? TB.dicts.en[key] : key;
    if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
    return s;
  };

  TB.fmtNum = function (n) {
    return new Intl.NumberFormat(TB.locale()).format(n);
  };

  // tn picks the plural form of key for the number n ("key.one",
  // "key.other", as Intl.PluralRules names them) and fills {n} with it.
  TB.tn = function (key, n, params) {
    const form = key + "." + new Intl.PluralRules(TB.locale()).select(n);
    return TB.t(TB.has(form) ? form : key + ".other", Object.assign({ n: TB.fmtNum(n) }, params));
  };

  // applyStatic fills the elements that name a key: data-i18n for text,
  // data-i18n-attr ("placeholder:key;aria-label:key") for attributes.
  TB.applyStatic = function (root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = TB.t(el.dataset.i18n); });
    (root || document).querySelectorAll("[data-i18n-attr]").forEach((el) => {
      for (const pair of el.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":");
        el.setAttribute(attr, TB.t(key));
      }
    });
    document.documentElement.lang = TB.lang;
    document.title = TB.t("title");
    document.querySelectorAll(".lang-select").forEach((s) => { s.value = TB.lang; });
  };

  TB.setLang = function (lang) {
    if (!TB.dicts[lang]) return;
    TB.lang = lang;
    localStorage.setItem(LANG_KEY, lang);
    TB.applyStatic();
    if (TB.rerender) TB.rerender();
  };
})();
