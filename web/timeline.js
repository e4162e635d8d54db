// web/timeline.js — /ui/: the stored windows over time, each a bar of the
// cores it used with its top functions stacked, from /api/v1/timeline.
// Click a bar to open its window, drag to open a range.
"use strict";
(async () => {
  const $ = ember.$;
  const COLORS = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#e7ba52"], OTHER = "#bbb";
  let data;
  try {
    data = await ember.getJSON("/api/v1/timeline" + location.search);
  } catch (e) {
    ember.showMessage(e.message, true);
    document.body.dataset.state = "error";
    return;
  }
  const wins = data.windows;
  if (!wins.length) {
    ember.showMessage("No windows stored" + (location.search ? " in this range" : " yet") +
      ": ember serve stores one per --window (10 s by default) in which the target used CPU.", false);
    $("summary").textContent = "";
    document.body.dataset.state = "empty";
    return;
  }
  // the functions that lead across the windows get colours, the rest is "other"
  const sum = new Map();
  for (const w of wins) for (const [f, v] of w.top) sum.set(f, (sum.get(f) || 0) + v);
  const lead = [...sum.entries()].sort((a, b) => b[1] - a[1]).slice(0, COLORS.length).map((e) => e[0]);
  const legend = $("legend");
  lead.forEach((f, i) => legend.append(ember.el("span", {},
    ember.el("span", { class: "swatch sw" + i }), f)));
  legend.append(ember.el("span", {}, ember.el("span", { class: "swatch sw5" }), "other"));

  const t0 = wins[0].start_ms, t1 = wins[wins.length - 1].end_ms;
  const cores = (w) => w.cpu / 1e6 / Math.max(1, w.end_ms - w.start_ms);   // ns / ms
  const maxCores = Math.max(...wins.map(cores), 0.01);
  $("summary").textContent = `${wins.length} windows from ${ember.fmtTime(t0)} to ${ember.fmtTime(t1)}` +
    (data.older ? ` (${data.older} older not shown)` : "") + `, peak ${maxCores.toFixed(2)} cores`;

  const canvas = $("chart");
  let sel = null, dragFrom = null;
  const xOf = (t, w) => (t - t0) / Math.max(1, t1 - t0) * w;
  const tOf = (x, w) => t0 + x / w * (t1 - t0);
  const draw = () => {
    const { g, w, h } = ember.fitCanvas(canvas, 220);
    const top = 14, ph = h - top - 16;
    g.font = "11px ui-monospace, monospace";
    g.fillStyle = "#666";
    g.fillText(`${maxCores.toFixed(2)} cores`, 4, 10);
    g.fillText(ember.fmtTime(t0), 4, h - 3);
    const endLabel = ember.fmtTime(t1);
    g.fillText(endLabel, w - g.measureText(endLabel).width - 4, h - 3);
    for (const win of wins) {
      const x = xOf(win.start_ms, w), bw = Math.max(1, xOf(win.end_ms, w) - x - (wins.length < 200 ? 1 : 0));
      const scale = ph / maxCores / (win.cpu || 1) * cores(win);
      let y = top + ph, rest = win.cpu;
      for (const [f, v] of win.top) {
        const i = lead.indexOf(f);
        if (i < 0) continue;
        const hh = v * scale;
        g.fillStyle = COLORS[i];
        g.fillRect(x, y - hh, bw, hh);
        y -= hh; rest -= v;
      }
      g.fillStyle = OTHER;
      g.fillRect(x, y - rest * scale, bw, rest * scale);
    }
    if (sel) {
      g.fillStyle = "rgba(40,120,255,0.18)";
      const a = xOf(sel[0], w), b = xOf(sel[1], w);
      g.fillRect(a, top, b - a, ph);
    }
  };
  const winAt = (ev) => {
    const r = canvas.getBoundingClientRect(), t = tOf(ev.clientX - r.left, r.width);
    return wins.find((w) => t >= w.start_ms && t < w.end_ms);
  };
  canvas.addEventListener("mousedown", (ev) => {
    const r = canvas.getBoundingClientRect();
    dragFrom = tOf(ev.clientX - r.left, r.width);
    sel = null;
  });
  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect(), t = tOf(ev.clientX - r.left, r.width);
    if (dragFrom !== null && Math.abs(xOf(t, r.width) - xOf(dragFrom, r.width)) > 4) {
      sel = [Math.min(t, dragFrom), Math.max(t, dragFrom)];
      draw();
    }
    const w = winAt(ev);
    if (!w) return ember.tip.hide();
    const lines = [w.id, `${ember.fmtValue(w.cpu, "cpu_ns")} CPU, ${cores(w).toFixed(2)} cores`];
    for (const [f, v] of w.top) lines.push(`${ember.fmtPct(ember.pct(v, w.cpu)).padStart(6)} ${f}`);
    ember.tip.show(ev, lines.join("\n"));
  });
  canvas.addEventListener("mouseleave", () => ember.tip.hide());
  window.addEventListener("mouseup", (ev) => {
    if (dragFrom === null) return;
    const from = dragFrom;
    dragFrom = null;
    if (sel && ev.target === canvas && Math.abs(sel[1] - sel[0]) > 0) {
      const a = wins.filter((w) => w.end_ms > sel[0] && w.start_ms < sel[1]);
      if (!a.length) return;
      sel = [a[0].start_ms, a[a.length - 1].end_ms];
      const link = $("open-range");
      link.href = `/ui/profile?start=${sel[0]}&end=${sel[1]}`;
      link.textContent = `Open ${ember.fmtTime(sel[0])} .. ${ember.fmtTime(sel[1])} (${a.length} windows)`;
      link.classList.remove("hidden");
      draw();
    } else if (ev.target === canvas) {
      const w = wins.find((x) => from >= x.start_ms && from < x.end_ms);
      if (w) location.href = "/ui/profile?id=" + encodeURIComponent(w.id);
    }
  });
  window.addEventListener("resize", draw);
  draw();

  const body = $("windows").tBodies[0];
  for (const w of wins.slice().reverse()) {
    const id = encodeURIComponent(w.id);
    const top = w.top.length ? `${w.top[0][0]} (${ember.fmtPct(ember.pct(w.top[0][1], w.cpu))})` : "";
    body.append(ember.el("tr", {},
      ember.el("td", { class: "name" }, ember.el("a", { href: "/ui/profile?id=" + id, text: w.id })),
      ember.el("td", { text: ember.fmtTime(w.start_ms) }),
      ember.el("td", { text: (w.cpu / 1e9).toFixed(2) }),
      ember.el("td", { text: cores(w).toFixed(2) }),
      ember.el("td", { class: "name", text: top }),
      ember.el("td", {}, ember.el("a", { href: "/api/v1/profiles/" + id, text: "pprof" }))));
  }
  ember.drawnAt = performance.now();
  document.body.dataset.state = "ready";
})();
