/* unimp-bench leaderboard: tabs and sortable tables; inlined into index.html (works from file://).
   With the URL fragment #selftest, it sorts every table once and records the outcome in data-*
   attributes that a headless browser's --dump-dom shows (used by tests/test_leaderboard_browser.py). */
(function () {
  "use strict";

  function cellKey(row, idx) {
    return row.cells[idx].getAttribute("data-sort") || "";
  }

  /* Sort a table by column idx. Numeric columns: first click best-first (data-better), then reversed;
     empty values always last. Text columns: ascending first. */
  function sortTable(table, idx) {
    var th = table.tHead.rows[0].cells[idx];
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var ascending;
    if (current === "ascending") ascending = false;
    else if (current === "descending") ascending = true;
    else ascending = numeric ? th.getAttribute("data-better") === "lower" : true;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, i) { r.setAttribute("data-pos", String(i)); });
    rows.sort(function (a, b) {
      var x = cellKey(a, idx), y = cellKey(b, idx), c;
      if (numeric) {
        if (x === "" && y === "") c = 0;
        else if (x === "") return 1;
        else if (y === "") return -1;
        else c = parseFloat(x) - parseFloat(y);
      } else {
        c = x < y ? -1 : (x > y ? 1 : 0);
      }
      if (!ascending) c = -c;
      return c !== 0 ? c : parseInt(a.getAttribute("data-pos"), 10) - parseInt(b.getAttribute("data-pos"), 10);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function initTables() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, idx) {
        th.addEventListener("click", function () { sortTable(table, idx); });
      });
    });
  }

  function showTab(id) {
    Array.prototype.forEach.call(document.querySelectorAll("section.dataset"), function (s) {
      s.hidden = s.id !== id;
    });
    Array.prototype.forEach.call(document.querySelectorAll("nav.tabs button"), function (b) {
      b.setAttribute("aria-selected", b.getAttribute("data-tab") === id ? "true" : "false");
    });
  }

  function initTabs() {
    var buttons = document.querySelectorAll("nav.tabs button");
    Array.prototype.forEach.call(buttons, function (b) {
      b.addEventListener("click", function () { showTab(b.getAttribute("data-tab")); });
    });
    if (buttons.length) showTab(buttons[0].getAttribute("data-tab"));
  }

  function firstRowText(table, idx) {
    var row = table.tBodies[0].rows[0];
    return row ? cellKey(row, idx) : "";
  }

  function selftest() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      var heads = table.tHead.rows[0].cells, num = -1;
      for (var i = 0; i < heads.length; i++) {
        if (heads[i].getAttribute("data-main") === "true") { num = i; break; }
      }
      heads[0].click();
      table.setAttribute("data-selftest-text-first", firstRowText(table, 0));
      if (num >= 0) {
        heads[num].click();
        table.setAttribute("data-selftest-main-first", firstRowText(table, num));
        heads[num].click();
        table.setAttribute("data-selftest-main-reversed-first", firstRowText(table, num));
      }
    });
    var buttons = document.querySelectorAll("nav.tabs button");
    if (buttons.length) {
      buttons[buttons.length - 1].click();
      var shown = [];
      Array.prototype.forEach.call(document.querySelectorAll("section.dataset"), function (s) {
        if (!s.hidden) shown.push(s.id);
      });
      document.body.setAttribute("data-selftest-tabs", shown.join(" "));
    }
    document.body.setAttribute("data-selftest", "done");
  }

  function init() {
    initTables();
    initTabs();
    document.body.setAttribute("data-js", "ready");
    if (window.location.hash === "#selftest") selftest();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
