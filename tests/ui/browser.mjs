// tests/ui/browser.mjs CONFIG_JSON — the browser half of tests/ui/ui_browser.py:
// drives Debian's chromium (headless, a fresh temporary profile per launch)
// through ember's pages with playwright-core, checks what a user sees, and
// saves screenshots. Exits 1 with the first failed check.
import { createRequire } from "module";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(path.join(here, "node") + "/")("playwright-core");
const conf = JSON.parse(process.argv[2]);
const B = conf.base;

const fail = (msg) => { throw new Error(msg); };
const check = (cond, msg) => { if (!cond) fail(msg); };
const near = (v, want, tol) => Math.abs(v - want) <= tol;
const errors = [];   // console errors and uncaught exceptions on pages that should have none

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

const watch = (page, name) => {
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${name}: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
};

// Opens url and waits until the page says it is done (data-state).
const T0 = Date.now();
const open = async (page, url, want = "ready") => {
  console.log(`+${((Date.now() - T0) / 1000).toFixed(1)}s ${url}`);
  const t0 = Date.now();
  const resp = await page.goto(url);
  await page.waitForFunction(() => document.body && document.body.dataset.state, null,
    { timeout: 30000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  const msg = await page.evaluate(() => document.getElementById("msg").textContent);
  check(state === want, `${url}: state ${state}, want ${want} (message: ${msg})`);
  return { resp, ms: Date.now() - t0, msg };
};

const shot = (page, name) => page.screenshot({ path: path.join(conf.shots, name), fullPage: true });

// The function table as {name: [cells as numbers]}.
const table = (page) => page.evaluate(() => {
  const out = {};
  for (const tr of document.querySelectorAll("#functions tbody tr"))
    out[tr.dataset.name] = [...tr.children].slice(1).map((td) => parseFloat(td.textContent));
  return out;
});

try {
  // without credentials: 401 everywhere but /healthz
  // (a page cancels the browser's login prompt: net::ERR_INVALID_AUTH_CREDENTIALS)
  const anon = await browser.newContext();
  for (const p of ["/ui/", `/ui/profile?id=${conf.before}`, "/ui/common.js",
    `/api/v1/calltree?id=${conf.before}`, "/api/v1/timeline"]) {
    const res = await anon.request.get(B + p);
    check(res.status() === 401 && /^Basic /.test(res.headers()["www-authenticate"]),
      `${p} without credentials: ${res.status()}, want 401 with a Basic challenge`);
  }
  const ap = await anon.newPage();
  const denied = await ap.goto(B + "/ui/").then(() => "loaded", (e) => e.message);
  check(/ERR_INVALID_AUTH_CREDENTIALS/.test(denied), `/ui/ without credentials: ${denied}`);

  const ctx = await browser.newContext({
    httpCredentials: { username: conf.user, password: conf.password },
    viewport: { width: 1280, height: 900 },
  });
  const page = await ctx.newPage();
  watch(page, "serve");

  // the timeline
  let r = await open(page, B + "/ui/");
  check(r.resp.headers()["content-security-policy"] === "default-src 'self'",
    `/ui/ CSP: ${r.resp.headers()["content-security-policy"]}`);
  const ids = await page.evaluate(() =>
    [...document.querySelectorAll("#windows tbody tr td:first-child a")].map((a) => a.textContent));
  check(ids.includes(conf.before) && ids.includes(conf.after), `timeline rows: ${ids}`);
  await shot(page, "timeline.png");

  // a window before the switch: 50/30/20
  r = await open(page, `${B}/ui/profile?id=${conf.before}`);
  console.log(`profile page drawn in ${r.ms} ms`);
  let t = await table(page);
  const cum = (name) => (t[name] || fail(`no row for ${name}: ${Object.keys(t)}`))[3];
  for (const [f, want] of [["burn_alpha", 50], ["burn_beta", 30], ["burn_gamma", 20]])
    check(near(cum(f), want, 5), `${f}: ${cum(f)}% of the window, want ${want} +-5`);
  console.log(`shares: alpha ${cum("burn_alpha")} beta ${cum("burn_beta")} gamma ${cum("burn_gamma")}`);
  await page.waitForSelector("#prev:not(.hidden)", { timeout: 10000 });
  const prev = await page.getAttribute("#prev", "href");
  check(/^\/ui\/diff\?.*base=/.test(prev) && prev.includes(`id=${conf.before}`), `previous link ${prev}`);
  await shot(page, "profile.png");

  // clicking a frame zooms to it
  const rect = await page.evaluate(() => ember.flame.rectOf("burn_gamma"));
  check(rect && rect.w > 20, `burn_gamma is not drawn: ${JSON.stringify(rect)}`);
  await page.mouse.click(rect.x + rect.w / 2, rect.y + rect.h / 2);
  check(await page.evaluate(() => ember.flame.zoomedName()) === "burn_gamma", "the click did not zoom");
  const zr = await page.evaluate(() => [ember.flame.rectOf("burn_gamma").w,
    document.getElementById("flame").clientWidth]);
  check(zr[0] > 0.95 * zr[1], `zoomed burn_gamma is ${zr[0]} of ${zr[1]} px`);
  await shot(page, "zoom.png");
  await page.click("#reset-zoom");

  // search highlights and shows the share
  await page.fill("#search", "^burn_");
  const share = await page.textContent("#search-share");
  const m = /matches: ([\d.]+)%/.exec(share);
  check(m && +m[1] > 90, `search share: ${share}`);
  await page.fill("#search", "");

  // the sandwich of burn_beta: its inline callee below, its caller above
  await page.click('#functions tr[data-name="burn_beta"]');
  await page.waitForSelector("#sandwich:not(.hidden)");
  const callees = await page.evaluate(() => ember.callees.visibleNames());
  const callers = await page.evaluate(() => ember.callers.visibleNames());
  check(callees[0] === "burn_beta" && callees.includes("beta_inner"), `callees: ${callees}`);
  check(callers.includes("run") && callers.includes("main"), `callers: ${callers}`);
  await page.evaluate(() => document.getElementById("sandwich").scrollIntoView());
  await shot(page, "sandwich.png");

  // the table filters and sorts
  await page.fill("#table-filter", "^burn_");
  await page.click("#functions th:nth-child(5)");
  const names = await page.evaluate(() =>
    [...document.querySelectorAll("#functions tbody tr")].map((tr) => tr.dataset.name));
  check(names.join() === "burn_alpha,burn_beta,burn_gamma", `filtered, by cum: ${names}`);

  // the diff across the switch: alpha -30 points, gamma +30
  r = await open(page, `${B}/ui/diff?base=${conf.before}&id=${conf.after}`);
  t = await table(page);
  const delta = (name) => (t[name] || fail(`diff: no row for ${name}`))[5];
  check(delta("burn_alpha") < -15 && delta("burn_gamma") > 15 && Math.abs(delta("burn_beta")) < 8,
    `diff cum change: alpha ${delta("burn_alpha")} beta ${delta("burn_beta")} gamma ${delta("burn_gamma")}`);
  console.log(`diff: alpha ${delta("burn_alpha")} beta ${delta("burn_beta")} gamma ${delta("burn_gamma")}`);
  await shot(page, "diff.png");

  // a range with a function: only the stacks through burn_beta
  r = await open(page, `${B}/ui/profile?start=0&end=${Date.now() + 60000}&function=burn_beta`);
  t = await table(page);
  check(near(cum("burn_beta"), 100, 0.5) && !t.burn_alpha, `focused range: ${JSON.stringify(t.burn_beta)}`);

  // label filters: a comm that matches nothing, then the workload's
  r = await open(page, `${B}/ui/profile?id=${conf.before}&comm=nosuchcomm`, "empty");
  check(/No samples match/.test(r.msg), `filtered to nothing: ${r.msg}`);
  r = await open(page, `${B}/ui/profile?id=${conf.before}&comm=burn`);
  t = await table(page);
  check(near(cum("burn_alpha"), 50, 5), "comm=burn keeps the workload");
  // ... and through the form, whose inputs offer the values present
  const offered = await page.evaluate(() =>
    ["comm", "pid", "thread"].map((k) => document.querySelectorAll(`#l-${k} option`).length));
  check(offered.every((n) => n > 0), `label values offered: ${offered}`);
  await page.fill("#f-comm", "");
  await page.fill("#f-thread", "nosuchthread");
  await Promise.all([page.waitForNavigation(), page.click("#filters button")]);
  check(/thread=nosuchthread/.test(page.url()) && !/comm=/.test(page.url()), `form: ${page.url()}`);
  await page.waitForFunction(() => document.body.dataset.state === "empty");

  // bad input: a clear message on the page, 404/400 from the JSON
  const bad = await ctx.newPage();
  r = await open(bad, `${B}/ui/profile?id=20000101T000000Z-10s`, "error");
  check(/Not found: .*20000101T000000Z-10s/.test(r.msg), `unknown id: ${r.msg}`);
  await shot(bad, "error.png");
  r = await open(bad, `${B}/ui/profile?start=0&end=1`, "error");
  check(/Not found: no stored windows/.test(r.msg), `empty range: ${r.msg}`);
  r = await open(bad, `${B}/ui/profile?start=yesterday&end=1`, "error");
  check(/Bad request: start/.test(r.msg), `bad time: ${r.msg}`);
  for (const [p, st, re] of [
    ["/api/v1/calltree?id=20000101T000000Z-10s", 404, /no/],
    ["/api/v1/calltree?start=0&end=1", 404, /no stored windows/],
    ["/api/v1/calltree?start=soon&end=1", 400, /start/],
    [`/api/v1/calltree?id=${conf.before}&function=(`, 400, /function/],
    [`/api/v1/calltree?id=${conf.before}&comm=(`, 400, /comm/],
    ["/api/v1/calltree?id=../../etc/passwd", 400, /id/],
    ["/api/v1/calltree", 400, /id=ID/],
  ]) {
    const res = await ctx.request.get(B + p);
    const body = await res.text();
    check(res.status() === st && re.test(JSON.parse(body).error), `${p}: ${res.status()} ${body}`);
  }

  // ember view: a recorded file, and the same against a base
  const vp = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  watch(vp, "view");
  await open(vp, conf.view);
  t = await table(vp);
  check(t.burn_alpha && near(cum("burn_alpha"), 50, 8), `view: ${JSON.stringify(t.burn_alpha)}`);
  await shot(vp, "view.png");
  await open(vp, conf.view_diff);
  t = await table(vp);
  check(t.burn_alpha && t.burn_gamma, "view diff has the workload's functions");
  await shot(vp, "view_diff.png");

  check(errors.length === 0, "console errors:\n" + errors.join("\n"));
  console.log("browser checks ok");
} catch (e) {
  console.error("FAIL: " + e.message + (errors.length ? "\nconsole errors so far:\n" + errors.join("\n") : ""));
  process.exitCode = 1;
} finally {
  await browser.close();
}
