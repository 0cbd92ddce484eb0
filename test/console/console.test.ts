// The console in a real browser (Debian's headless Chromium via playwright-core) against the real
// control plane (wrangler dev) with the example cluster kept live by npm start's demo: one dry-run
// shim per node against stand-in services. Signs in, reads the fleet and a cluster, watches a
// failover on screen, switches over as an operator, checks a viewer sees no action controls,
// the messages for bad and revoked tokens, the CSP, and axe-core; writes the README screenshots.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterAvailability, FleetAvailability } from "../../protocol/availability.js";
import { formatAvailability, formatBudgetLeft, formatSpan } from "../../protocol/availability-format.js";
import type { Fleet } from "../../protocol/fleet.js";
import { type ClusterSpec, validateSpec } from "../../protocol/spec.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { api, createCluster, loadSpecFile, REPO_ROOT } from "../../scripts/lib/control-plane.js";
import { Demo } from "../../scripts/lib/demo.js";
import { probeHostLb, specForDemoHost } from "../../scripts/lib/demo-host.js";
import { type ControlPlane, startControlPlane } from "../support/control-plane.js";
import { axe, launchChromium } from "./support/browser.js";

const SHOTS = join(REPO_ROOT, "docs/screenshots");
const GROUP = "server-api";

let cp: ControlPlane;
let demo: Demo;
let browser: Browser;
let clusterId = "";
let spec: ClusterSpec;
let dir = "";
const tokens = { operator: "", viewer: "", viewerId: "", admin: "", node: "" };
/** Every page's console errors and CSP reports, checked at the end. */
const problems: string[] = [];
/** Every request URL the browser made (the token must never be in one). */
const urls: string[] = [];

const status = async () => (await api(cp.url, cp.adminToken, "GET", `/v1/clusters/${clusterId}/status`)) as ClusterStatus;
const groupOf = (st: ClusterStatus, name = GROUP) => st.groups.find((g) => g.name === name)!;

/** Polls `check` every 100 ms until it returns a value (bounded). */
async function until<T>(what: string, ms: number, check: () => Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function newPage(opts: { width?: number; height?: number; dark?: boolean } = {}): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, colorScheme: opts.dark ? "dark" : "light", deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    // Chrome logs every 4xx reply to fetch as an error; the refusals tested here are on purpose.
    if (m.type() === "error" && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => urls.push(r.url()));
  return { ctx, page };
}

async function signIn(page: Page, token: string): Promise<void> {
  // The form is there once the document is: waiting for "load" (every asset) failed once in CI
  // after 30 s with wrangler dev slowed by other work on the 2 cores.
  await page.goto(`${cp.url}/`, { waitUntil: "domcontentloaded", timeout: 60_000 });
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function openCluster(page: Page): Promise<void> {
  await page.locator(`tr[data-cluster="${clusterId}"] a`).click();
  await page.locator("[data-testid=grid]").waitFor();
}

const shownHolder = (page: Page, group = GROUP) => page.locator(`[data-holder="${group}"]`).textContent();

async function expectAccessible(page: Page, where: string): Promise<void> {
  const serious = (await axe(page)).filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), `axe on ${where}`).toEqual([]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chime-console-"));
  browser = await launchChromium();
  cp = await startControlPlane({ logLevel: "warn", readyTimeoutMs: 90_000 });
  tokens.admin = cp.adminToken;
  // The example cluster with a short lease, so a failover takes about 2 s instead of 4.
  // As npm start loads it: lb groups on a balancer this host's kernel can read (the demo's
  // dry-run directors read it; a kernel without IPVS cannot answer `ipvsadm -Sn`).
  const adapted = specForDemoHost(loadSpecFile(), probeHostLb());
  for (const n of adapted.notes) console.log(`demo: ${n}`);
  const raw = adapted.spec as { policy: Record<string, unknown> };
  raw.policy = { ...raw.policy, heartbeatIntervalMs: 500, leaseTtlMs: 1500, driftMarginMs: 300, holdDownMs: 0 };
  const v = validateSpec(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  spec = v.spec;
  const made = await createCluster(cp.url, cp.adminToken, raw, "dc1");
  clusterId = made.clusterId;
  // A second site whose cluster has no shim yet: no holder, so the fleet lists it first.
  await createCluster(cp.url, cp.adminToken, { ...raw, name: "edge" }, "dc2");
  tokens.node = made.nodeTokens.server1!;
  demo = await Demo.start({ url: cp.url, clusterId, spec, nodeTokens: made.nodeTokens, dir });
  const mk = async (role: string) => (await api(cp.url, cp.adminToken, "POST", "/v1/tokens", { role, label: `console test ${role}` })) as { token: string; info: { id: string } };
  tokens.operator = (await mk("operator")).token;
  const viewer = await mk("viewer");
  tokens.viewer = viewer.token;
  tokens.viewerId = viewer.info.id;
  // Live: every group held by a healthy node.
  await until("every group held", 30_000, async () => (await status()).groups.every((g) => g.holder !== null && g.health === "ok"));
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("the fleet console in Chromium", () => {
  it("explains a bad token and a node token at sign-in", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, "cha_admin_not-a-real-token");
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/not accepted: it is unknown, revoked or expired/);
    await page.getByLabel("API token").fill(tokens.admin.slice(0, -2));
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/unknown, revoked or expired/);
    await page.getByLabel("API token").fill(tokens.node);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/node token: it may only heartbeat/);
    await expectAccessible(page, "sign-in with an error");
    await ctx.close();
  });

  it("signs an operator in and shows the example cluster in the fleet, polled with ETags", async () => {
    const { ctx, page } = await newPage();
    const fleetReplies: number[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/v1/fleet")) fleetReplies.push(r.status());
    });
    await signIn(page, tokens.operator);
    const row = page.locator(`tr[data-cluster="${clusterId}"]`);
    // A wait, not a timing goal: on a busy machine the demo's shims take longer to settle.
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 30_000 }).toBe("healthy");
    // Worst first: the silent cluster of dc2 above the healthy one.
    expect(await page.locator("tr[data-cluster]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-cluster")))).toEqual(["dc2.edge", clusterId]);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "fleet.png") });
    expect(await page.getByTestId("who").textContent()).toMatch(/^operator · all sites/);
    // The token is in session storage, not in the URL or any request URL.
    expect(await page.evaluate<string | null>(`sessionStorage.getItem("chime-ha.token")`)).toBe(tokens.operator);
    expect(page.url()).not.toContain(tokens.operator);
    // Conditional polling: unchanged fleets come back as 304.
    await expect.poll(() => fleetReplies.filter((s) => s === 304).length, { timeout: 10_000 }).toBeGreaterThan(0);
    await page.getByRole("searchbox").fill("no-such-cluster");
    await expect.poll(() => row.count()).toBe(0);
    await page.getByRole("searchbox").fill("chimestack");
    await expect.poll(() => row.count()).toBe(1);
    await page.getByRole("searchbox").fill("");
    await page.getByLabel("Site").selectOption("dc2");
    await expect.poll(() => row.count()).toBe(0);
    await page.getByLabel("Site").selectOption("all");
    await expectAccessible(page, "fleet");
    await ctx.close();
  });

  it("shows the cluster: grid, topology, decisions and events, readable in light, dark and at phone width", async () => {
    const { ctx, page } = await newPage({ height: 1400 });
    mkdirSync(SHOTS, { recursive: true });
    await signIn(page, tokens.operator);
    await openCluster(page);
    const st = await status();
    expect(await shownHolder(page)).toBe(groupOf(st).holder);
    for (const n of spec.nodes) await expect.poll(() => page.locator(`[data-topo-node="${n.name}"]`).count()).toBe(1);
    await expect.poll(() => page.locator("[data-testid=decisions] li").count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator("[data-testid=events] tbody tr").count()).toBeGreaterThan(0);
    // A lease bar for each held group, and it moves between polls.
    expect(await page.locator("td.holder meter").count()).toBe(spec.groups.length);
    // Event filters: only critical, then back.
    await page.getByLabel("Severity").selectOption("critical");
    const severities = await page.locator("[data-testid=events] tbody .badge").allTextContents();
    expect(severities.every((s) => s === "critical")).toBe(true);
    await page.getByLabel("Severity").selectOption("info");
    await expectAccessible(page, "cluster view (light)");
    await page.screenshot({ path: join(SHOTS, "cluster.png") });
    await ctx.close();

    const dark = await newPage({ dark: true, height: 1400 });
    await signIn(dark.page, tokens.operator);
    await openCluster(dark.page);
    await expectAccessible(dark.page, "cluster view (dark)");
    await dark.page.screenshot({ path: join(SHOTS, "cluster-dark.png") });
    await dark.ctx.close();

    const phone = await newPage({ width: 390, height: 844 });
    await signIn(phone.page, tokens.operator);
    await phone.page.locator(`tr[data-cluster="${clusterId}"]`).waitFor();
    // Nothing but the tables' own scroll areas is wider than the screen.
    expect(await phone.page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await openCluster(phone.page);
    expect(await phone.page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await phone.page.screenshot({ path: join(SHOTS, "cluster-phone.png") });
    await phone.ctx.close();
  });

  it("shows the new holder within 2 s of the control plane's decision when the holder's heartbeats stop, without a reload", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, tokens.operator);
    await openCluster(page);
    const old = groupOf(await status()).holder!;
    expect(await shownHolder(page)).toBe(old);
    await page.evaluate("window.marker = 42");
    await demo.kill(old);
    try {
      const next = await until("a new holder", 20_000, async () => {
        const h = groupOf(await status()).holder;
        return h !== null && h !== old ? h : null;
      });
      const decidedAt = Date.now();
      // A function, not a string: the page's CSP forbids eval.
      type Doc = { document: { querySelector(s: string): { textContent: string | null } | null } };
      await page.waitForFunction(([g, h]) => (globalThis as unknown as Doc).document.querySelector(`[data-holder="${g}"]`)?.textContent === h, [GROUP, next] as const, { timeout: 2000, polling: 50 });
      console.log(`console: ${GROUP} moved ${old} -> ${next}; on screen ${Date.now() - decidedAt} ms after the status API showed it`);
      expect(await page.evaluate<number | undefined>("window.marker")).toBe(42);
      await expect.poll(() => page.locator(`[data-alive="${old}"]`).textContent(), { timeout: 5000 }).toBe("not alive");
    } finally {
      await demo.revive(old);
    }
    await ctx.close();
  });

  it("shows each group's availability, budget, downtime, outages and MTTR as the ledger has them after an outage, on the cluster and in the fleet", async () => {
    const { ctx, page } = await newPage({ height: 1400 });
    // Every ledger reply the panel got, by the end of its window. The panel is compared with the
    // reply it rendered: asking the API again later for the same window need not give the same
    // figures, because the ledger dates what it learns late back to when it happened (a silent
    // holder's outage from its last heartbeat, an apply error from when it was first seen).
    const replies = new Map<number, ClusterAvailability>();
    page.on("response", (r) => {
      if (r.status() === 200 && new URL(r.url()).pathname === `/v1/clusters/${clusterId}/availability`) {
        (r.json() as Promise<ClusterAvailability>).then((b) => replies.set(b.to, b)).catch(() => undefined);
      }
    });
    await signIn(page, tokens.operator);
    await openCluster(page);
    // A scripted outage: the holder's shim is SIGKILLed and comes back once the group is served elsewhere.
    // (Once the other server is a candidate again: the test before revived it.)
    const old = await until("a holder and a healthy standby", 20_000, async () => {
      const g = groupOf(await status());
      return g.holder && (g.members ?? []).every((m) => m.node === g.holder || m.why === null) ? g.holder : null;
    });
    // The ledger dates an outage from the holder's last sign of life, so the new one is told apart by its start.
    const downStarts = async () => {
      const a = (await api(cp.url, cp.adminToken, "GET", `/v1/clusters/${clusterId}/availability`)) as ClusterAvailability;
      return a.groups.find((g) => g.group === GROUP)!.intervals.filter((iv) => iv.kind === "down");
    };
    const before = new Set((await downStarts()).map((iv) => iv.start));
    await demo.kill(old);
    let endedAt = 0;
    try {
      endedAt = await until("the outage ended in the ledger", 30_000, async () => (await downStarts()).find((iv) => !before.has(iv.start) && iv.end !== null)?.end);
    } finally {
      await demo.revive(old);
    }
    const panel = page.getByTestId("availability");
    const cell = (g: string, f: string) => panel.locator(`tr[data-avail-group="${g}"] [data-f="${f}"]`).textContent({ timeout: 1000 });
    const tone = (g: string, c: string) => panel.locator(`tr[data-avail-group="${g}"] [data-c="${c}"] .budget`).getAttribute("class", { timeout: 1000 });
    // What the panel shows, read between two equal `to`s (one render), and the ledger reply it rendered.
    const [shown, rep] = await until("the panel past the outage", 20_000, async () => {
      const to = Number(await panel.getAttribute("data-to", { timeout: 1000 }));
      if (!(to > endedAt)) return null;
      const rows: Record<string, Record<string, string | null>> = {};
      for (const g of spec.groups.map((x) => x.name)) {
        rows[g] = {};
        for (const f of ["month", "rolling30d", "downtime", "outages", "mttr"]) rows[g]![f] = await cell(g, f);
        rows[g]!.budgetMonth = await panel.locator(`tr[data-avail-group="${g}"] [data-c="budget-month"] [data-f="budget"]`).textContent({ timeout: 1000 });
        rows[g]!.budget30d = await panel.locator(`tr[data-avail-group="${g}"] [data-c="budget-30d"] [data-f="budget"]`).textContent({ timeout: 1000 });
        rows[g]!.tone30d = await tone(g, "budget-30d");
        rows[g]!.toneMonth = await tone(g, "budget-month");
      }
      if (Number(await panel.getAttribute("data-to")) !== to) return null;
      const reply = replies.get(to);
      return reply ? ([rows, reply] as const) : null;
    });
    const toneOf = (ratio: number) => `budget ${ratio <= 0 ? "spent" : ratio < 0.25 ? "low" : ""}`;
    for (const g of rep.groups) {
      expect(shown[g.group], g.group).toEqual({
        month: formatAvailability(g.availability),
        rolling30d: formatAvailability(g.budget.rolling30d.availability),
        downtime: formatSpan(g.downMs),
        outages: String(g.outages),
        mttr: g.mttrMs === null ? "-" : formatSpan(g.mttrMs),
        budgetMonth: formatBudgetLeft(g.budget.month.leftRatio),
        budget30d: formatBudgetLeft(g.budget.rolling30d.leftRatio),
        toneMonth: toneOf(g.budget.month.leftRatio),
        tone30d: toneOf(g.budget.rolling30d.leftRatio),
      });
    }
    // Real figures: the outage is there, in the budget too.
    const mine = rep.groups.find((g) => g.group === GROUP)!;
    expect(mine.downMs).toBeGreaterThan(0);
    expect(mine.outages).toBeGreaterThan(0);
    expect(mine.budget.month.leftRatio).toBeLessThan(1);
    console.log(`console: ${GROUP} after the outage: ${shown[GROUP]!.downtime} down, ${shown[GROUP]!.outages} outage(s), MTTR ${shown[GROUP]!.mttr}, month ${shown[GROUP]!.month}, budget left ${shown[GROUP]!.budgetMonth} (month), ${shown[GROUP]!.budget30d} (30 days)`);
    // The outage list, with the ledger's reasons.
    await panel.locator(`[data-incidents="${GROUP}"] summary`).click();
    const last = mine.intervals.filter((iv) => iv.kind === "down").at(-1)!;
    const row = panel.locator(`[data-incidents="${GROUP}"] tr[data-kind=down]`).first();
    expect(await row.locator("[data-f=lasted]").textContent()).toBe(formatSpan(last.end! - last.start));
    expect(await row.textContent()).toContain(last.startReason);
    expect(await row.textContent()).toContain(last.endReason!);
    await expectAccessible(page, "cluster view with the availability panel");
    await panel.screenshot({ path: join(SHOTS, "availability.png") });

    // The fleet: this month's availability and budget left of the worst group, as the newest roll-up has them.
    const fleetReplies: FleetAvailability[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/v1/availability") && r.status() === 200) void r.json().then((b: FleetAvailability) => fleetReplies.push(b), () => undefined);
    });
    await page.goto(`${cp.url}/#/`);
    const fleetRow = page.locator(`tr[data-cluster="${clusterId}"]`);
    const shownFleet = await until("the fleet row showing the newest roll-up", 20_000, async () => {
      const reply = fleetReplies.at(-1)?.clusters.find((c) => c.id === clusterId);
      const g = await fleetRow.locator("[data-avail-group]").getAttribute("data-avail-group", { timeout: 500 });
      const sum = reply?.groups.find((x) => x.group === g);
      if (!reply || !sum) return null;
      const month = await fleetRow.locator("[data-f=month]").textContent({ timeout: 500 });
      const budget = await fleetRow.locator("[data-f=budget]").textContent({ timeout: 500 });
      return month === formatAvailability(sum.month.availability) && budget === formatBudgetLeft(sum.month.leftRatio) ? { reply, sum } : null;
    });
    // The row's group has the least of this month's budget left; the month's downtime of every group
    // not down now (its figure holds still) is the cluster ledger's, and the outage is in it.
    expect(shownFleet.sum.month.leftRatio).toBe(Math.min(...shownFleet.reply.groups.filter((x) => x.month.availability !== null).map((x) => x.month.leftRatio)));
    const ledger = ((await api(cp.url, cp.adminToken, "GET", `/v1/clusters/${clusterId}/availability`)) as ClusterAvailability).groups.filter((g) => g.since !== null && !g.intervals.some((iv) => iv.kind === "down" && iv.end === null));
    expect(ledger.map((g) => g.group)).toContain(GROUP);
    const usedInFleet = new Map(shownFleet.reply.groups.map((g) => [g.group, g.month.usedMs]));
    expect(ledger.map((g) => [g.group, usedInFleet.get(g.group)])).toEqual(ledger.map((g) => [g.group, g.downMs]));
    expect(usedInFleet.get(GROUP)).toBeGreaterThan(0);
    // Worst state first by default (dc2's cluster has no holder); by budget, the cluster that spent some comes first.
    const order = () => page.locator("tr[data-cluster]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-cluster")));
    expect(await order()).toEqual(["dc2.edge", clusterId]);
    await page.getByLabel("Order").selectOption("budget");
    expect(await order()).toEqual([clusterId, "dc2.edge"]);
    await page.getByLabel("Order").selectOption("state");
    await expectAccessible(page, "fleet with availability");
    await page.screenshot({ path: join(SHOTS, "fleet.png") });
    await ctx.close();
  });

  it("lets an operator switch over from the UI, and shows the engine's answer, refusals included", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, tokens.operator);
    await openCluster(page);
    // Both servers healthy candidates again.
    const st = await until("both servers candidates", 20_000, async () => {
      const s = await status();
      const g = groupOf(s);
      return g.holder && (g.members ?? []).every((m) => m.node === g.holder || m.why === null) ? s : null;
    });
    const from = groupOf(st).holder!;
    const to = (groupOf(st).members ?? []).find((m) => m.node !== from)!.node;
    await page.locator(`th[data-group="${GROUP}"] [data-action=switchover]`).click();
    const dialog = page.getByRole("dialog", { name: `Switch over ${GROUP}` });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // The current holder is not offered; the other server is.
    expect(await dialog.getByRole("radio", { name: new RegExp(`^${from}`) }).isDisabled()).toBe(true);
    await dialog.getByRole("radio", { name: new RegExp(`^${to}`) }).check();
    expect(await dialog.locator(".what").textContent()).toContain(`moves from ${from} to ${to}`);
    await expectAccessible(page, "switchover dialog");
    await dialog.locator("[data-confirm]").click();
    await expect.poll(() => page.getByTestId("outcome").textContent(), { timeout: 10_000 }).toMatch(new RegExp(`Switchover of ${GROUP} to ${to}: accepted`));
    await expect.poll(() => shownHolder(page), { timeout: 10_000 }).toBe(to);
    expect(groupOf(await status()).holder).toBe(to);

    // Cluster maintenance on: a switchover is refused, and the console says why.
    await page.locator("[data-action=cluster-maintenance]").click();
    await page.getByRole("dialog").locator("[data-confirm]").click();
    await expect.poll(() => page.getByTestId("outcome").textContent(), { timeout: 10_000 }).toMatch(/Cluster maintenance on: accepted/);
    await expect.poll(() => page.locator("[data-action=cluster-maintenance]").textContent()).toMatch(/End cluster maintenance/);
    await page.locator(`th[data-group="${GROUP}"] [data-action=switchover]`).click();
    await page.getByRole("dialog").locator("[data-confirm]").click();
    await expect.poll(() => page.getByTestId("outcome").textContent(), { timeout: 10_000 }).toMatch(/Refused by the engine: .*maintenance/);
    await page.locator("[data-action=cluster-maintenance]").click();
    await page.getByRole("dialog").locator("[data-confirm]").click();
    await expect.poll(() => page.getByTestId("outcome").textContent(), { timeout: 10_000 }).toMatch(/Cluster maintenance off: accepted/);
    await ctx.close();
  });

  it("gives a viewer no action controls", async () => {
    const { ctx, page } = await newPage();
    await signIn(page, tokens.viewer);
    await openCluster(page);
    expect(await page.getByTestId("who").textContent()).toMatch(/^viewer/);
    expect(await page.locator("[data-action]").count()).toBe(0);
    expect(await page.getByRole("button", { name: /switch over|drain|maintenance|operation|ack/i }).count()).toBe(0);
    await ctx.close();
  });

  it("ends the session with a clear message when the token is revoked, and on sign-out", async () => {
    const { ctx, page } = await newPage();
    const t = (await api(cp.url, cp.adminToken, "POST", "/v1/tokens", { role: "viewer", label: "to be revoked" })) as { token: string; info: { id: string } };
    await signIn(page, t.token);
    await page.locator(`tr[data-cluster="${clusterId}"]`).waitFor();
    await api(cp.url, cp.adminToken, "DELETE", `/v1/tokens/${t.info.id}`);
    await expect.poll(() => page.getByRole("status").first().textContent(), { timeout: 10_000 }).toMatch(/Your token stopped working/);
    expect(await page.evaluate<string | null>(`sessionStorage.getItem("chime-ha.token")`)).toBeNull();
    await signIn(page, tokens.viewer);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => page.getByLabel("API token").isVisible()).toBe(true);
    expect(await page.evaluate<string | null>(`sessionStorage.getItem("chime-ha.token")`)).toBeNull();
    await ctx.close();
  });

  it("ran with no console error, no CSP violation, and no token in any URL", async () => {
    expect(problems).toEqual([]);
    for (const t of Object.values(tokens).filter(Boolean)) expect(urls.filter((u) => u.includes(t))).toEqual([]);
    // The page is served with the CSP the browser enforced above.
    const res = await fetch(`${cp.url}/`, { headers: { accept: "text/html" } });
    await res.text();
    expect(res.headers.get("content-security-policy")).toMatch(/script-src 'self'.*frame-ancestors 'none'/);
    const fleet = (await api(cp.url, cp.adminToken, "GET", "/v1/fleet")) as Fleet;
    expect(fleet.clusters.map((c) => c.id)).toContain(clusterId);
  });
});
