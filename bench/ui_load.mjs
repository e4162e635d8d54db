// bench/ui_load.mjs CONFIG_JSON — the browser half of bench/ui_load.py:
// opens ember's pages in Debian's chromium (headless, playwright-core from
// tests/ui/node) and prints JSON timings: for each round, the time from
// navigation start to the flame graph drawn (the page's own clock), a
// redraw of the whole tree, and the timeline page drawn.
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
const out = { profile_ms: [], redraw_ms: [], search_ms: [], timeline_ms: [], nodes: 0 };
try {
  for (let i = 0; i < conf.rounds; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await ctx.newPage();
    await page.goto(conf.profile);
    await page.waitForFunction(() => document.body.dataset.state, null, { timeout: 120000 });
    const r = await page.evaluate(() => {
      if (document.body.dataset.state !== "ready") return { error: document.getElementById("msg").textContent };
      const t0 = performance.now();
      ember.flame.zoomTo(0);
      const t1 = performance.now();
      ember.flame.setSearch(/fn_0[0-4]/);
      const t2 = performance.now();
      return { drawn: ember.drawnAt, redraw: t1 - t0, search: t2 - t1, nodes: ember.tree.n };
    });
    if (r.error) throw new Error(r.error);
    out.profile_ms.push(r.drawn); out.redraw_ms.push(r.redraw); out.search_ms.push(r.search);
    out.nodes = r.nodes;
    await page.goto(conf.timeline);
    await page.waitForFunction(() => document.body.dataset.state, null, { timeout: 120000 });
    out.timeline_ms.push(await page.evaluate(() => ember.drawnAt));
    await ctx.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
