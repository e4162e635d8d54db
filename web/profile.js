// web/profile.js — /ui/profile (a window or a range) and /ui/diff (against a
// base): the flame graph, the function table, the sandwich view, label
// filters, search, and the link to the previous window. Data: the JSON of
// /api/v1/calltree with this page's own query.
"use strict";
(async () => {
  const $ = ember.$, q = new URLSearchParams(location.search);
  const isDiff = location.pathname.endsWith("/diff");
  const state = (s) => { document.body.dataset.state = s; };

  // Times of the query (unix s, unix ms or RFC 3339) as ms, or NaN.
  const ms = (v) => {
    if (v === null) return NaN;
    if (/^\d+(\.\d+)?$/.test(v)) return +v > 1e11 ? +v : +v * 1000;
    return Date.parse(v);
  };
  const when = (v) => Number.isFinite(ms(v)) ? ember.fmtTime(ms(v)) : String(v);
  const side = (idKey, s, e) => q.get(idKey) ? q.get(idKey)
    : q.get(s) ? `${when(q.get(s))} .. ${when(q.get(e))}` : "?";
  let what = isDiff ? `${side("base", "base_start", "base_end")} → ${side("id", "start", "end")}`
    : side("id", "start", "end");
  if (q.get("function")) what += `  function ~ ${q.get("function")}`;
  $("what").textContent = what;
  document.title = "ember: " + what;

  if (isDiff && !q.get("base") && !q.get("base_start")) {
    ember.showMessage("A diff needs a base: /ui/diff?base=ID&id=ID, or base_start=T&base_end=T " +
      "with start=T&end=T.", true);
    return state("error");
  }
  if (!isDiff && (q.get("base") || q.get("base_start"))) {   // a profile page with a base is a diff
    location.replace("/ui/diff" + location.search);
    return;
  }
  let data;
  try {
    data = await ember.getJSON("/api/v1/calltree" + location.search, window.emberCalltree);
    performance.mark("ember:parsed");
  } catch (e) {
    ember.showMessage(e.message + (e.status === 404 ? " (see the timeline at /ui/)" : ""), true);
    return state("error");
  }
  const unit = data.unit;

  // the download and the previous window
  if (!isDiff) {
    const dl = $("download");
    if (q.get("id")) dl.href = "/api/v1/profiles/" + encodeURIComponent(q.get("id"));
    else {
      const m = new URLSearchParams();
      for (const k of ["start", "end", "function"]) if (q.get(k)) m.set(k, q.get(k));
      dl.href = "/api/v1/merge?" + m;
    }
    dl.classList.remove("hidden");
    const prev = $("prev"), d = new URLSearchParams(q);
    if (q.get("id")) {
      const r = ember.parseId(q.get("id"));
      if (r) {
        ember.getJSON(`/api/v1/profiles?start=${r[0] - 3600000}&end=${r[0]}`).then((list) => {
          if (!list.length) return;
          d.set("base", list[list.length - 1].id);
          prev.href = "/ui/diff?" + d;
          prev.classList.remove("hidden");
        }).catch(() => {});
      }
    } else {
      const s = ms(q.get("start")), e = ms(q.get("end"));
      if (s < e) {
        d.set("base_start", String(s - (e - s)));
        d.set("base_end", String(s));
        prev.href = "/ui/diff?" + d;
        prev.textContent = "compare with the previous range";
        prev.classList.remove("hidden");
      }
    }
  }

  // label filters, one per label the JSON lists (server/ui.c's table of
  // keys); the form keeps the rest of the query
  const form = $("filters"), submit = form.querySelector("button");
  for (const key of Object.keys(data.labels)) {
    const input = ember.el("input", { type: "text", id: "f-" + key, name: key, list: "l-" + key,
      placeholder: "regex" });
    const list = ember.el("datalist", { id: "l-" + key });
    form.insertBefore(ember.el("label", { for: "f-" + key, text: key }), submit);
    form.insertBefore(input, submit);
    form.append(list);
    input.value = q.get(key) || "";
    for (const [v, n] of data.labels[key]) {
      list.append(ember.el("option", { value: v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        label: `${v} (${ember.fmtPct(ember.pct(n, data.total))})` }));
    }
  }
  $("filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    for (const key of Object.keys(data.labels)) {
      const input = $("f-" + key);
      if (!input) continue;
      if (input.value) q.set(key, input.value); else q.delete(key);
    }
    location.search = "?" + q;
  });

  $("content").classList.remove("hidden");
  if (data.total === 0 && !data.base_total) {
    ember.showMessage("No samples match" + (q.get("function") ? ` function ~ ${q.get("function")}` : "") +
      " with these filters.", false);
    return state("empty");
  }

  performance.mark("ember:filters");
  const tree = ember.makeTree(data.names, data.nodes, unit, data.total, data.base_total);
  const totals = isDiff
    ? `before ${ember.fmtValue(data.base_total || 0, unit)}, after ${ember.fmtValue(data.total, unit)}`
    : `${ember.fmtValue(data.total, unit)} in ${data.profiles} window${data.profiles === 1 ? "" : "s"}`;
  $("totals").textContent = totals + `, ${tree.n.toLocaleString("en-US")} nodes`;
  if (isDiff) $("legend-diff").classList.remove("hidden");

  const flame = new ember.Flame($("flame"), { onSelect: (f) => select(f) });
  const callers = new ember.Flame($("callers"), { invert: true });
  const callees = new ember.Flame($("callees"), {});
  ember.flame = flame; ember.callers = callers; ember.callees = callees; ember.tree = tree;
  performance.mark("ember:tree");
  flame.setTree(tree);
  performance.mark("ember:drawn");
  $("reset-zoom").addEventListener("click", () => flame.zoomTo(0));

  // search
  const toRe = (s) => { try { return new RegExp(s, "i"); } catch (e) { return null; } };
  $("search").addEventListener("input", () => {
    const s = $("search").value, re = s ? toRe(s) : null;
    if (s && !re) { $("search-share").textContent = "not a valid regex"; return; }
    const share = flame.setSearch(re);
    $("search-share").textContent = !share ? "" : isDiff
      ? `matches: ${ember.fmtPct(share[1])} before, ${ember.fmtPct(share[0])} after`
      : `matches: ${ember.fmtPct(share[0])} (${ember.fmtValue(share[2], unit)})`;
  });

  // the function table
  const rows = data.functions;   // [name, self, cum, base_self, base_cum]
  const T = data.total, B = data.base_total || 0;
  const cols = isDiff ? [
    ["function", (r) => data.names[r[0]], "name"],
    ["self before", (r) => ember.pct(r[3], B)], ["self after", (r) => ember.pct(r[1], T)],
    ["self change", (r) => ember.pct(r[1], T) - ember.pct(r[3], B), "delta"],
    ["cum before", (r) => ember.pct(r[4], B)], ["cum after", (r) => ember.pct(r[2], T)],
    ["cum change", (r) => ember.pct(r[2], T) - ember.pct(r[4], B), "delta"],
  ] : [
    ["function", (r) => data.names[r[0]], "name"],
    [unit === "samples" ? "self" : "self s", (r) => r[1], "value"],
    ["self %", (r) => ember.pct(r[1], T)],
    [unit === "samples" ? "cum" : "cum s", (r) => r[2], "value"],
    ["cum %", (r) => ember.pct(r[2], T)],
  ];
  let sortCol = isDiff ? 3 : 1, filter = null, selected = -1;
  const head = ember.el("tr");
  cols.forEach(([title, , kind], i) => {
    const th = ember.el("th", { class: kind === "name" ? "name" : "", text: title });
    th.addEventListener("click", () => { sortCol = i; renderTable(); });
    head.append(th);
  });
  $("functions").tHead.append(head);
  const renderTable = () => {
    const [, key, kind] = cols[sortCol];
    let list = filter ? rows.filter((r) => filter.test(data.names[r[0]])) : rows.slice();
    if (kind === "name") list.sort((a, b) => key(a) < key(b) ? -1 : 1);
    else if (kind === "delta") list.sort((a, b) => Math.abs(key(b)) - Math.abs(key(a)));
    else list.sort((a, b) => key(b) - key(a));
    [...head.children].forEach((th, i) => th.classList.toggle("sorted", i === sortCol));
    const body = ember.el("tbody");
    for (const r of list.slice(0, 1000)) {
      const tr = ember.el("tr", { "data-name": data.names[r[0]] });
      if (r[0] === selected) tr.className = "sel";
      for (const [, k, kind] of cols) {
        const v = k(r);
        const td = ember.el("td", { class: kind === "name" ? "name" : "" });
        if (kind === "name") td.textContent = v;
        else if (kind === "value") td.textContent = ember.fmtSeconds(v, unit);
        else if (kind === "delta") {
          td.textContent = (v > 0 ? "+" : "") + v.toFixed(2);
          if (Math.abs(v) >= 0.01) td.className = v > 0 ? "grow" : "shrink";
        } else td.textContent = ember.fmtPct(v);
        tr.append(td);
      }
      tr.addEventListener("click", () => select(r[0]));
      body.append(tr);
    }
    $("functions").tBodies[0].replaceWith(body);
    $("table-note").textContent = `${Math.min(list.length, 1000)} of ${rows.length} functions` +
      (isDiff ? ", change in points of the total" : "");
  };
  $("table-filter").addEventListener("input", () => {
    const s = $("table-filter").value;
    filter = s ? toRe(s) || new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i") : null;
    renderTable();
  });
  renderTable();

  // the sandwich of a function
  const select = (f) => {
    selected = f;
    const sw = ember.sandwich(tree, f);
    $("sw-name").textContent = data.names[f];
    $("sandwich").classList.remove("hidden");
    callers.setTree(sw.callers);
    callees.setTree(sw.callees);
    ember.selected = data.names[f];
    renderTable();
  };
  ember.select = (name) => { const f = data.names.indexOf(name); if (f > 0) select(f); return f > 0; };

  ember.drawnAt = flame.drawnAt;
  state("ready");
})();
