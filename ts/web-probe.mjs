// Drive the web view in headless Chromium through a list of steps; print one JSON object (what the
// page showed at each snapshot, every request it sent, every console error or page error).
//
// node web-probe.mjs URL  with PROBE_STEPS (a JSON list of steps: wait, waitStatus, press, click,
// eval, hide, mark, snapshot, viewport), and optionally PROBE_ROUTES_FILE (a JSON list of
// {match: a regex on the URL, status, body, contentType, headers, hang, after, until}: answers the
// page gets instead of the server's) and PROBE_VIEWPORT ("WxH").
import { readFileSync } from "node:fs";

import { chromium } from "playwright-core";

const [url] = process.argv.slice(2);
const steps = JSON.parse(process.env.PROBE_STEPS ?? "[]");
const routes = JSON.parse(process.env.PROBE_ROUTES_FILE ? readFileSync(process.env.PROBE_ROUTES_FILE, "utf8") : "[]");
const [vw, vh] = (process.env.PROBE_VIEWPORT ?? "1440x900").split("x").map(Number);
const out = { ok: true, problems: [], requests: [], snapshots: {}, evals: {} };
const t0 = Date.now();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const hung = [];
try {
  const page = await browser.newPage({ viewport: { width: vw, height: vh } });
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") out.problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => out.problems.push(`page error: ${e.message}`));
  page.on("dialog", async (d) => { out.problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on("request", (r) => out.requests.push({ t: Date.now() - t0, url: r.url() }));
  for (const route of routes) {
    const re = new RegExp(route.match);
    await page.route((u) => re.test(u.href), async (r) => {
      if (route.after && Date.now() - t0 < route.after) return r.continue();
      if (route.until && Date.now() - t0 > route.until) return r.continue();
      if (route.hang) { hung.push(r); return; }
      await r.fulfill({ status: route.status ?? 200, contentType: route.contentType ?? "application/json",
        headers: route.headers ?? {}, body: typeof route.body === "string" ? route.body : JSON.stringify(route.body) });
    });
  }
  const snap = () => page.evaluate(() => {
    const rows = (sel) => [...document.querySelectorAll(`${sel} tbody tr`)].map((tr) => [...tr.children].map((td) => td.textContent));
    return {
      status: document.querySelector("#status").textContent,
      statusOffline: document.querySelector("#status").classList.contains("offline"),
      title: document.querySelector("#market-title").textContent,
      facts: document.querySelector("#market-facts").textContent,
      markets: rows("#markets"),
      marketClasses: [...document.querySelectorAll("#markets tbody tr")].map((tr) => [tr.dataset.material, tr.children[2]?.className]),
      book: rows("#book"),
      trades: rows("#trades"),
      footballers: rows("#footballers"),
      timeline: [...document.querySelectorAll("#goal-timeline li")].map((li) => li.textContent),
      candles: [...document.querySelectorAll("#chart svg g title")].map((t) => t.textContent),
      axis: [...document.querySelectorAll("#chart svg text.axis")].map((t) => t.textContent),
      active: document.activeElement ? `${document.activeElement.tagName}:${document.activeElement.textContent.slice(0, 40)}` : null,
      injected: window.__pwned ?? null,
      imgs: document.querySelectorAll("main img, main svg:not(.candles), main script, main iframe").length,
      docWidth: document.documentElement.scrollWidth,
      overflow: [...document.querySelectorAll("main section")].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => s.id),
    };
  });
  await page.goto(url, { waitUntil: "load" });
  for (const step of steps) {
    if (step.wait) await page.waitForTimeout(step.wait);
    if (step.waitStatus) await page.locator("#status", { hasText: step.waitStatus }).waitFor({ timeout: 15000 });
    if (step.press) await page.keyboard.press(step.press);
    if (step.click) await page.click(step.click);
    if (step.eval) out.evals[step.name ?? step.eval] = await page.evaluate(step.eval);
    if (step.hide) await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    if (step.mark) out.snapshots[step.mark + ":t"] = Date.now() - t0;
    if (step.snapshot) out.snapshots[step.snapshot] = await snap();
    if (step.screenshot) await page.screenshot({ path: step.screenshot, fullPage: true });
    if (step.viewport) await page.setViewportSize({ width: step.viewport[0], height: step.viewport[1] });
  }
} catch (error) {
  out.ok = false;
  out.error = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
