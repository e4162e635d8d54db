// web/flame.js — icicle flame graphs on a canvas: the tree arrays of
// /api/v1/calltree (preorder, 6 numbers per node), laid out once, drawn
// with only the frames wider than a fraction of a pixel (so trees of
// 50,000 nodes redraw in milliseconds), click to zoom, search highlight,
// differential colours; and the sandwich trees of one function.
"use strict";

// A tree from the JSON: typed arrays plus the layout (start, subtree end,
// parent) every view needs.
ember.makeTree = (names, flat, unit, total, baseTotal) => {
  const n = flat.length / 6;
  const t = {
    names, unit, n, diff: baseTotal !== null && baseTotal !== undefined,
    T: total, B: baseTotal || 0,
    name: new Int32Array(n), depth: new Int32Array(n),
    total: new Float64Array(n), self: new Float64Array(n),
    btotal: new Float64Array(n), bself: new Float64Array(n),
    v: new Float64Array(n), start: new Float64Array(n),
    end: new Int32Array(n), parent: new Int32Array(n), maxDepth: 0,
  };
  for (let i = 0, k = 0; i < n; i++, k += 6) {
    t.name[i] = flat[k]; t.depth[i] = flat[k + 1];
    t.total[i] = flat[k + 2]; t.self[i] = flat[k + 3];
    t.btotal[i] = flat[k + 4]; t.bself[i] = flat[k + 5];
  }
  ember.layoutTree(t);
  return t;
};

ember.layoutTree = (t) => {
  const fa = t.T > 0 ? 1 / t.T : 0, fb = t.B > 0 ? 1 / t.B : 0;
  const next = [0], stack = [];
  for (let i = 0; i < t.n; i++) {
    const d = t.depth[i];
    t.v[i] = t.diff ? t.total[i] * fa + t.btotal[i] * fb : t.total[i];
    while (stack.length && t.depth[stack[stack.length - 1]] >= d) t.end[stack.pop()] = i;
    t.parent[i] = stack.length ? stack[stack.length - 1] : -1;
    t.start[i] = next[d] || 0;
    next[d] = t.start[i] + t.v[i];
    next[d + 1] = t.start[i];
    stack.push(i);
    if (d > t.maxDepth) t.maxDepth = d;
  }
  while (stack.length) t.end[stack.pop()] = t.n;
};

// Nested {name, total, self, btotal, bself, kids: Map} to a flat tree.
ember.flatten = (root, names, unit, T, B) => {
  const flat = [];
  const walk = (node, depth) => {
    flat.push(node.name, depth, node.total, node.self, node.btotal, node.bself);
    const kids = [...node.kids.values()].sort((a, b) =>
      names[a.name] < names[b.name] ? -1 : names[a.name] > names[b.name] ? 1 : 0);
    for (const k of kids) walk(k, depth + 1);
  };
  walk(root, 0);
  return ember.makeTree(names, flat, unit, T, B);
};

// The callers and callees of function f (a name index): every outermost
// occurrence's subtree merged (callees), and its path to the root merged
// in reverse (callers), both rooted at f.
ember.sandwich = (t, f) => {
  const mk = (name) => ({ name, total: 0, self: 0, btotal: 0, bself: 0, kids: new Map() });
  const add = (node, i) => {
    node.total += t.total[i]; node.self += t.self[i];
    node.btotal += t.btotal[i]; node.bself += t.bself[i];
  };
  const callees = mk(f), callers = mk(f);
  const merge = (node, i) => {
    add(node, i);
    for (let c = i + 1; c < t.end[i]; c = t.end[c]) {
      let k = node.kids.get(t.name[c]);
      if (!k) node.kids.set(t.name[c], k = mk(t.name[c]));
      merge(k, c);
    }
  };
  for (let i = 1; i < t.n;) {
    if (t.name[i] !== f) { i++; continue; }
    merge(callees, i);
    callers.total += t.total[i]; callers.btotal += t.btotal[i];
    let cur = callers;
    for (let p = t.parent[i]; p > 0; p = t.parent[p]) {
      let k = cur.kids.get(t.name[p]);
      if (!k) cur.kids.set(t.name[p], k = mk(t.name[p]));
      k.total += t.total[i]; k.btotal += t.btotal[i];
      cur = k;
    }
    cur.self += t.total[i]; cur.bself += t.btotal[i];
    i = t.end[i];
  }
  return {
    callers: ember.flatten(callers, t.names, t.unit, t.T, t.diff ? t.B : null),
    callees: ember.flatten(callees, t.names, t.unit, t.T, t.diff ? t.B : null),
  };
};

const ROW = 18;

ember.Flame = class {
  // opts: invert (root at the bottom), onSelect(nameIndex)
  constructor(canvas, opts) {
    this.c = canvas;
    this.opts = opts || {};
    this.t = null;
    this.zoom = 0;
    this.match = null;   // Uint8Array by name index, or null
    this.drawn = [];
    canvas.addEventListener("mousemove", (ev) => this.hover(ev));
    canvas.addEventListener("mouseleave", () => ember.tip.hide());
    canvas.addEventListener("click", (ev) => this.click(ev));
    window.addEventListener("resize", () => this.draw());
  }

  setTree(t) { this.t = t; this.zoom = 0; this.fills = []; this.draw(); }

  zoomTo(i) { this.zoom = i; this.draw(); }

  // Highlights names matching re (a RegExp or null); returns the share of
  // the total in matching frames (outermost occurrences), [after, before].
  setSearch(re) {
    const t = this.t;
    if (!re) { this.match = null; this.draw(); return null; }
    this.match = new Uint8Array(t.names.length);
    t.names.forEach((s, i) => { this.match[i] = i > 0 && re.test(s) ? 1 : 0; });
    let a = 0, b = 0;
    for (let i = 1; i < t.n;) {
      if (this.match[t.name[i]]) { a += t.total[i]; b += t.btotal[i]; i = t.end[i]; } else i++;
    }
    this.draw();
    return [ember.pct(a, t.T), ember.pct(b, t.B), a];
  }

  color(i) {
    const t = this.t, name = t.names[t.name[i]];
    if (this.match) return this.match[t.name[i]] ? "hsl(300,70%,62%)" : "hsl(0,0%,86%)";
    if (t.name[i] === 0) return "hsl(0,0%,78%)";
    if (t.diff) {
      const a = t.T > 0 ? t.total[i] / t.T : 0, b = t.B > 0 ? t.btotal[i] / t.B : 0;
      const m = Math.max(a, b), rel = m > 0 ? (a - b) / m : 0;
      const l = 94 - 44 * Math.min(1, Math.abs(rel));
      return Math.abs(rel) < 0.02 ? "hsl(0,0%,90%)" : rel > 0 ? `hsl(0,85%,${l}%)` : `hsl(215,85%,${l}%)`;
    }
    let fill = this.fills[t.name[i]];   // a name's colour, computed once
    if (!fill) {
      const h = ember.hash(name);
      fill = this.fills[t.name[i]] = `hsl(${8 + h % 42},${70 + (h >> 8) % 20}%,${56 + (h >> 16) % 12}%)`;
    }
    return fill;
  }

  draw() {
    const t = this.t;
    if (!t) return;
    const rows = t.maxDepth + 1;
    const { g, w } = ember.fitCanvas(this.c, rows * ROW + 2);
    g.font = "12px ui-monospace, monospace";
    g.textBaseline = "middle";
    const z = this.zoom, x0 = t.start[z], span = t.v[z] || 1, scale = w / span;
    const drawn = [];
    for (let i = 0; i < t.n;) {
      const s = t.start[i], e = s + t.v[i];
      if (e <= x0 || s >= x0 + span || t.v[i] * scale < 0.4) { i = t.end[i]; continue; }
      const x = Math.max(0, (s - x0) * scale), x2 = Math.min(w, (e - x0) * scale);
      const d = t.depth[i], y = this.opts.invert ? (t.maxDepth - d) * ROW : d * ROW;
      g.fillStyle = this.color(i);
      g.fillRect(x, y, Math.max(0.5, x2 - x - 0.5), ROW - 1);
      if (x2 - x > 28) {
        const label = t.names[t.name[i]];
        const fit = Math.floor((x2 - x - 6) / 7.2);
        g.fillStyle = "#111";
        g.fillText(label.length > fit ? label.slice(0, Math.max(0, fit - 1)) + "…" : label,
          x + 3, y + ROW / 2);
      }
      drawn.push([i, x, x2, y]);
      i++;
    }
    this.drawn = drawn;
    this.drawnAt = performance.now();
  }

  at(ev) {
    const r = this.c.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    for (const [i, x1, x2, y1] of this.drawn) if (x >= x1 && x < x2 && y >= y1 && y < y1 + ROW) return i;
    return -1;
  }

  describe(i) {
    const t = this.t, u = t.unit, name = t.names[t.name[i]];
    const lines = [name];
    if (t.diff) {
      const a = ember.pct(t.total[i], t.T), b = ember.pct(t.btotal[i], t.B);
      lines.push(`before ${ember.fmtPct(b)} (${ember.fmtValue(t.btotal[i], u)})`,
        `after  ${ember.fmtPct(a)} (${ember.fmtValue(t.total[i], u)})`,
        `change ${a - b >= 0 ? "+" : ""}${(a - b).toFixed(2)} points`);
    } else {
      lines.push(`total ${ember.fmtValue(t.total[i], u)} (${ember.fmtPct(ember.pct(t.total[i], t.T))})`,
        `self  ${ember.fmtValue(t.self[i], u)} (${ember.fmtPct(ember.pct(t.self[i], t.T))})`);
    }
    return lines.join("\n");
  }

  hover(ev) {
    const i = this.at(ev);
    if (i < 0) ember.tip.hide(); else ember.tip.show(ev, this.describe(i));
  }

  click(ev) {
    const i = this.at(ev);
    if (i < 0) return;
    this.zoomTo(i === this.zoom ? Math.max(0, this.t.parent[i]) : i);
    if (i > 0 && this.opts.onSelect) this.opts.onSelect(this.t.name[i]);
  }

  // For tests and tools: the client rect of the widest drawn frame named s.
  rectOf(s) {
    const r = this.c.getBoundingClientRect();
    let best = null;
    for (const [i, x1, x2, y] of this.drawn) {
      if (this.t.names[this.t.name[i]] !== s) continue;
      if (!best || x2 - x1 > best.w) best = { x: r.left + x1, y: r.top + y, w: x2 - x1, h: ROW - 1 };
    }
    return best;
  }

  visibleNames() { return this.drawn.map(([i]) => this.t.names[this.t.name[i]]); }

  zoomedName() { return this.zoom === 0 ? null : this.t.names[this.t.name[this.zoom]]; }
};
