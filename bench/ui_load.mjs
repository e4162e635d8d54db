// bench/ui_load.mjs CONFIG_JSON — the browser half of bench/ui_load.py
// (CONFIG_JSON: the pages' paths, rounds, and the directory SYNC below):
// opens ember's pages in Debian's chromium (headless, playwright-core from
// tests/ui/node) and prints JSON timings: for each round, the time from
// navigation start to the flame graph drawn (the page's own clock), when
// the page asked for its call tree, had the first byte and all of it
// (resource timing), a redraw of the whole tree, and the timeline page
// drawn.
//
// Each round opens a new tab and waits until chromium is quiet before it
// navigates, as a user's browser is when they follow a link: a new
// window of chromium's (new) headless mode loads its own omnibox popup
// page (a chrome:// renderer, ~1 s of CPU), which otherwise runs on the
// same two CPUs as ember serve while the page waits for its JSON.
import fs from "fs";
import { createRequire } from "module";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(path.join(here, "..", "tests", "ui", "node") + "/")("playwright-core");
const conf = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
// CPU ticks used so far by this process's descendants (chromium's).
const childTicks = () => {
  const procs = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      procs.set(+d, { pp: +f[1], ticks: +f[11] + +f[12] });
    } catch (e) { /* gone meanwhile */ }
  }
  let sum = 0;
  for (const [pid, p] of procs) {
    let x = p.pp;
    while (x > 1 && x !== process.pid && procs.has(x)) x = procs.get(x).pp;
    if (x === process.pid && pid !== process.pid) sum += p.ticks;
  }
  return sum;
};
// Waits (at most 20 s) until chromium uses at most one tick (10 ms) of CPU
// in 0.5 s.
const quiet = async () => {
  for (let i = 0, prev = childTicks(); i < 40; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = childTicks();
    if (now - prev <= 1) return;
    prev = now;
  }
};
// The first round's page is the first request after ember serve starts:
// once chromium is quiet this script writes SYNC/ready, and ui_load.py
// starts serve and writes its base URL to SYNC/go.
let base = "";
const serverStarted = async () => {
  fs.writeFileSync(path.join(conf.sync, "ready"), "");
  const go = path.join(conf.sync, "go");
  for (let i = 0; i < 6000 && !fs.existsSync(go); i++) await new Promise((r) => setTimeout(r, 10));
  return fs.readFileSync(go, "utf8");
};
const out = { profile_ms: [], redraw_ms: [], search_ms: [], timeline_ms: [], nodes: 0,
  asked_ms: [], answered_ms: [], arrived_ms: [] };
try {
  for (let i = 0; i < conf.rounds; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await ctx.newPage();
    await quiet();
    if (i === 0) base = await serverStarted();
    await page.goto(base + conf.profile);
    await page.waitForFunction(() => document.body.dataset.state, null, { timeout: 120000 });
    const r = await page.evaluate(() => {
      if (document.body.dataset.state !== "ready") return { error: document.getElementById("msg").textContent };
      const t0 = performance.now();
      ember.flame.zoomTo(0);
      const t1 = performance.now();
      ember.flame.setSearch(/fn_0[0-4]/);
      const t2 = performance.now();
      const e = performance.getEntriesByType("resource").find((x) => x.name.includes("/api/v1/calltree"));
      return { drawn: ember.drawnAt, redraw: t1 - t0, search: t2 - t1, nodes: ember.tree.n,
        asked: e.requestStart, answered: e.responseStart, arrived: e.responseEnd };
    });
    if (r.error) throw new Error(r.error);
    out.profile_ms.push(r.drawn); out.redraw_ms.push(r.redraw); out.search_ms.push(r.search);
    out.asked_ms.push(r.asked); out.answered_ms.push(r.answered); out.arrived_ms.push(r.arrived);
    out.nodes = r.nodes;
    await page.goto(base + conf.timeline);
    await page.waitForFunction(() => document.body.dataset.state, null, { timeout: 120000 });
    out.timeline_ms.push(await page.evaluate(() => ember.drawnAt));
    await ctx.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
