// web/common.js — what every page of ember's UI shares: fetching JSON with
// clear messages, formatting values, window ids, the tooltip.
"use strict";
const ember = window.ember = {};

ember.$ = (id) => document.getElementById(id);

ember.el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

// GET a JSON endpoint (or read the answer of such a request already
// started: early); rejects with the server's {"error": ...} message.
ember.getJSON = async (url, early) => {
  const r = await (early || fetch(url, { credentials: "same-origin" }));
  const text = await r.text();
  performance.mark("ember:fetched");
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* reported below */ }
  if (!r.ok) {
    const why = body && body.error ? body.error : text.slice(0, 200);
    const err = new Error(r.status === 404 ? "Not found: " + why
      : r.status === 400 ? "Bad request: " + why : "Error " + r.status + ": " + why);
    err.status = r.status;
    throw err;
  }
  if (body === null) throw new Error("the server's answer is not JSON");
  return body;
};

ember.showMessage = (text, isError) => {
  const m = ember.$("msg");
  m.textContent = text;
  m.className = "msg" + (isError ? " error" : "");
};

// Values are CPU nanoseconds ("cpu_ns") or sample counts ("samples").
ember.fmtValue = (v, unit) => {
  if (unit === "samples") return Math.round(v).toLocaleString("en-US") + " samples";
  const s = v / 1e9;
  return (s >= 100 ? s.toFixed(0) : s >= 1 ? s.toFixed(2) : s.toFixed(3)) + " s";
};
ember.fmtSeconds = (v, unit) => unit === "samples" ? String(Math.round(v)) : (v / 1e9).toFixed(2);
ember.pct = (v, total) => total > 0 ? (100 * v / total) : 0;
ember.fmtPct = (p) => p.toFixed(p !== 0 && Math.abs(p) < 1 ? 2 : 1) + "%";

// A window id ("20261125T010000Z-10s", "20261125T010003.512Z-6488ms") to
// [start ms, end ms], or null.
ember.parseId = (id) => {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.(\d{3}))?Z-(\d+)(ms|s|m|h)$/.exec(id || "");
  if (!m) return null;
  const start = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +(m[7] || 0));
  const mult = { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[m[9]];
  return [start, start + (+m[8]) * mult];
};

ember.fmtTime = (ms) => Number.isFinite(ms)
  ? new Date(ms).toISOString().replace("T", " ").replace(/\.000Z$/, "Z") : "?";

// A hue from a name: stable colours across pages and reloads.
ember.hash = (s) => {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
};

ember.tip = {
  show(ev, text) {
    const t = ember.$("tip");
    t.textContent = text;
    t.classList.remove("hidden");
    const x = Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 4);
    const y = ev.clientY + 16 + t.offsetHeight > window.innerHeight
      ? ev.clientY - t.offsetHeight - 8 : ev.clientY + 16;
    t.style.left = Math.max(0, x) + "px";
    t.style.top = Math.max(0, y) + "px";
  },
  hide() { ember.$("tip").classList.add("hidden"); },
};

// A canvas sized to its box at the device's pixel ratio; returns its 2D
// context in CSS pixels.
ember.fitCanvas = (c, height) => {
  const dpr = window.devicePixelRatio || 1;
  const w = c.parentElement.clientWidth;
  c.style.height = height + "px";
  c.width = Math.max(1, Math.floor(w * dpr));
  c.height = Math.max(1, Math.floor(height * dpr));
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { g, w, h: height };
};
