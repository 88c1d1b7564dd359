/**
 * The operators' console in a real browser (headless Chromium) against the whole stack as `npm start`
 * runs it: the operator opens the one-time link `npm start` printed, lands on /ops, and watches the
 * charts take in citizens as they join. Without the operator's cookie the API is a 401 and the page says
 * how to sign in; the link works once. Each cohort's state is said truthfully (admitting, paused, not open
 * yet), with the commands that change it, and every time is Korea time in a browser in New York. Screenshots
 * at 1280 px and at a 360 px phone's width are written to test-results/browser/ (git-ignored) to be looked at.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding, NOT_OPEN_YET } from "../../scripts/cohorts.js";
import { joinMany } from "../../bench/lib/edge-client.js";
import { idTokens as benchIdTokens } from "../../bench/lib/identity.js";
import { startEdge, type Edge } from "../../bench/lib/miniflare.js";
import { errorBody } from "../../src/contract/errors.js";
import { mintOperatorSession, OPERATOR_COOKIE } from "../../src/edge/operators/operator-tokens.js";
import { violations } from "./support/axe.js";
import { passOf, readBookings } from "./support/bookings-load.js";
import { idTokens, newPhone } from "./support/identity.js";
import { operatorLink } from "./support/operator.js";
import { artifactsDir, launchBrowser, root, shot, sleep, startStack, stopAll, type Stack } from "./support/stack.js";

/** 55-59 admits; 53-54 is open but paused by its own override; 50-52 has not opened. */
const cohorts = (JSON.parse(cohortsBinding(["55-59", "53-54", "50-52"], { "50-52": NOT_OPEN_YET })) as Array<Record<string, unknown>>).map((c) =>
  c.id === "53-54" ? { ...c, paused: true } : c,
);
const bindings = {
  SHARDS: "2",
  ADMIT_PER_MINUTE: "30",
  MAX_ACTIVE: "100",
  PAUSED: "false",
  COHORTS: JSON.stringify(cohorts),
};
const VIEW_TIMEOUT = 30_000;
const run = promisify(execFile);
/** Far from Korea (14 hours behind it in December): a console that used the browser's zone would show it. */
const BROWSER_TIME_ZONE = "America/New_York";

let stack: Stack;
let browser: Browser;
const offsite: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  stack = await startStack(bindings);
  browser = await launchBrowser();
});

afterAll(async () => {
  await stopAll(browser, stack);
  // The console loads nothing from elsewhere (uPlot is served by the edge), and breaks no CSP rule.
  expect(offsite).toEqual([]);
  expect(pageErrors).toEqual([]);
});

/** Citizens of 55-59 joining as an app does, with the development provider's id_tokens. */
/** Citizens join the line through the API; their tickets, in order. */
async function citizensJoin(count: number, birthdate = "1964-02-02"): Promise<string[]> {
  const tokens = await idTokens(stack, Array.from({ length: count }, () => ({ phoneNumber: newPhone(), birthdate })));
  const tickets: string[] = [];
  for (const idToken of tokens) {
    const res = await fetch(`${stack.base}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    expect(res.status, await res.clone().text()).toBe(200);
    tickets.push(((await res.json()) as { ticket: string }).ticket);
  }
  return tickets;
}

async function operatorPage(base = stack.base): Promise<Page> {
  // The language Chromium reports under LANG=C.UTF-8, which is no BCP 47 tag: Intl throws on it, so the
  // console must still draw its charts and raise no error with it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, locale: "en-US@posix", timezoneId: BROWSER_TIME_ZONE });
  await context.route(
    (url) => url.origin !== base,
    (route) => {
      offsite.push(route.request().url());
      return route.abort();
    },
  );
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (msg) => msg.type() === "error" && pageErrors.push(msg.text()));
  return page;
}

/** Seconds from `a` to `b` on a 24-hour clock ("HH:MM:SS" or "HH:MM"), the shorter way round. */
function clockGap(a: string, b: string): number {
  const seconds = (t: string) => t.split(":").reduce((acc, part, i) => acc + Number(part) * [3600, 60, 1][i]!, 0);
  const gap = Math.abs(seconds(a) - seconds(b)) % 86_400;
  return Math.min(gap, 86_400 - gap);
}

/** The time of day in Korea now, "HH:MM:SS". */
const koreaNow = () => new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Seoul", hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date());

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();

const joinedInFlowChart = async (page: Page, cohort: string) => Number((await page.locator(`[data-cohort="${cohort}"] [data-chart="flow"]`).getAttribute("data-joined")) ?? "NaN");

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + VIEW_TIMEOUT;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last seen ${JSON.stringify(value)}`);
    await sleep(250);
  }
}

describe("the operators' console", () => {
  it("is closed without the operator's credential", async () => {
    const api = await fetch(`${stack.base}/api/ops/queue`);
    expect(api.status).toBe(401);
    expect(errorBody.parse(await api.json()).error.code).toBe("operator_required");
    const history = await fetch(`${stack.base}/api/ops/cohorts/55-59/history`);
    expect(history.status).toBe(401);
    const page = await fetch(`${stack.base}/ops`);
    expect(page.status).toBe(401);
    const text = await page.text();
    expect(text).toContain("one-time operator link");
    expect(text).not.toContain("55-59");
  });

  it("opens with the printed one-time link, draws the lines live as citizens join, at 1280 px and on a phone", async () => {
    const page = await operatorPage();
    const link = operatorLink(stack);
    await page.goto(link);
    expect(page.url()).toBe(`${stack.base}/ops`);
    await page.locator('[data-cohort="55-59"] [data-chart="flow"] canvas').waitFor({ state: "visible", timeout: VIEW_TIMEOUT });
    // The cookie is HttpOnly: the page's own script cannot read it.
    expect(await page.evaluate<string>("document.cookie")).not.toContain("wr_operator");
    expect((await page.context().cookies()).find((c) => c.name === "wr_operator")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    const before = await joinedInFlowChart(page, "55-59");

    const leftBefore = Number(await page.locator('[data-cohort="55-59"] [data-chart="flow"]').getAttribute("data-departed"));
    const tickets = await citizensJoin(6);
    await waitFor(() => joinedInFlowChart(page, "55-59"), (n) => n >= before + 6, "six joins in the flow chart");
    await waitFor(async () => (await page.locator('[data-cohort="55-59"] [data-figure="joined"] strong').textContent()) ?? "", (t) => Number(t) >= 6, "the joined figure");
    // Two of them give their places up: counted in the minute's departures and in the cohort's figure.
    for (const ticket of tickets.slice(-2)) {
      const res = await fetch(`${stack.base}/api/queue/ticket`, { method: "DELETE", headers: { authorization: `Bearer ${ticket}` } });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    await waitFor(async () => Number(await page.locator('[data-cohort="55-59"] [data-chart="flow"]').getAttribute("data-departed")), (n) => n >= leftBefore + 2, "two departures in the flow chart");
    await waitFor(async () => (await page.locator('[data-cohort="55-59"] [data-figure="departed"] strong').textContent()) ?? "", (t) => Number(t) >= 2, "the departures figure");
    // Each cohort is named once: no "Ages 55-59 (55-59)".
    expect(await text(page, '[data-cohort="55-59"] h2 > span:first-child')).toBe("Ages 55-59");

    // A fresh start admits at the configured rate: the autopilot has cut nothing, so nothing says slowed.
    expect(await page.locator('[data-cohort="55-59"]').getAttribute("data-state")).toBe("admitting");
    expect(await page.locator(".badge.slowed").count()).toBe(0);
    expect(await text(page, '[data-cohort="55-59"] .badge')).toBe("admitting");
    expect(await text(page, '[data-cohort="55-59"] [data-figure="rate"] strong')).toBe("30");
    expect(await text(page, '[data-cohort="55-59"] [data-figure="rate"] small')).toBe("as configured");
    // The origin's health: no booking yet, nothing measured.
    expect(await text(page, '[data-cohort="55-59"] [data-figure="origin"] strong')).toBe("– · –");

    // Paused says so, and shows no live-looking rate in force, only what applies on resume.
    await expect.poll(() => page.locator('[data-cohort="53-54"]').getAttribute("data-state")).toBe("paused");
    expect(await text(page, '[data-cohort="53-54"] .badge.paused')).toBe("PAUSED");
    expect(await text(page, '[data-cohort="53-54"] [data-figure="rate"] strong')).toBe("paused");
    expect(await text(page, '[data-cohort="53-54"] [data-figure="rate"] small')).toBe("on resume 30");
    expect(await text(page, '[data-cohort="53-54"] .note')).toContain("Nobody is admitted while paused");
    expect(await page.locator('[data-cohort="53-54"] .badge.slowed, [data-cohort="53-54"] .badge.climbing').count()).toBe(0);

    // Not open yet, with its opening in Korea time (20:00 KST; 07:00 in the browser's New York).
    expect(await page.locator('[data-cohort="50-52"]').getAttribute("data-state")).toBe("not open yet");
    expect(await text(page, '[data-cohort="50-52"] .badge.closed')).toBe("not open yet · opens Jul 20, 2099, 20:00 KST");
    expect(await text(page, '[data-cohort="50-52"] [data-figure="rate"] strong')).toBe("not open");
    expect(await text(page, '[data-cohort="50-52"] [data-figure="rate"] small')).toBe("opens at 30/min");
    expect(await page.locator('[data-cohort="50-52"] canvas').count()).toBe(0);

    // The time of the view is Korea time, labelled, and Korea's hour, not New York's.
    const asOf = (await text(page, "#at")).match(/^As of (\d\d:\d\d:\d\d) KST \(Korea time\)/);
    expect(asOf, await text(page, "#at")).not.toBeNull();
    expect(clockGap(asOf![1]!, koreaNow())).toBeLessThan(120);
    // So is the chart's time: the legend of the point under the cursor (the minute under way, at the right).
    const flow = page.locator('[data-cohort="55-59"] [data-chart="flow"]');
    const plotArea = flow.locator(".u-over");
    const box = (await plotArea.boundingBox())!;
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    const legendTime = (await text(page, '[data-cohort="55-59"] [data-chart="flow"] .u-legend .u-series:first-child .u-value')).match(/^(\d\d:\d\d) KST$/);
    expect(legendTime).not.toBeNull();
    expect(clockGap(legendTime![1]!, koreaNow().slice(0, 5))).toBeLessThan(120);
    await page.mouse.move(0, 0);

    // The commands that change each cohort, to copy, and those for the whole edge.
    const commands = async (cohort: string) => page.locator(`[data-cohort="${cohort}"] .commands code`).allTextContents();
    expect(await commands("55-59")).toEqual(["npm run ops -- pause 55-59", "npm run ops -- rate 55-59 30"]);
    expect(await commands("53-54")).toEqual(["npm run ops -- resume 53-54", "npm run ops -- rate 53-54 30"]);
    expect(await commands("50-52")).toEqual(["npm run ops -- pause 50-52", "npm run ops -- rate 50-52 30"]);
    const edgeCommands = page.locator(".edge-commands");
    expect(await edgeCommands.locator("code").allTextContents()).toEqual(
      expect.arrayContaining(["npm run ops -- status", "npm run ops -- rate all <per-minute>", "npm run ops -- pause all", "npm run ops -- reset"]),
    );
    expect(await edgeCommands.textContent()).toContain("without a restart");

    expect(await page.locator("#bindings").textContent()).toContain("ADMIT_PER_MINUTE30");
    expect(await page.locator("#bindings").textContent()).toContain("AUTOPILOTtrue");
    // Every state, the commands and the charts pass axe's WCAG A/AA rules.
    expect(await violations(page)).toEqual([]);

    // Let the admissions of the first seconds show before the picture is taken.
    await sleep(5_000);
    await shot(page, "ops-console-1280");

    // A phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 780 });
    await sleep(1_000);
    const widths = await page.evaluate<{ page: number; canvas: number }>(
      "({ page: document.documentElement.scrollWidth, canvas: Math.max(...[...document.querySelectorAll('canvas')].map((c) => c.getBoundingClientRect().right)) })",
    );
    expect(widths.page).toBeLessThanOrEqual(360);
    expect(widths.canvas).toBeLessThanOrEqual(360);
    expect(await violations(page), "at 360 px").toEqual([]);
    await shot(page, "ops-console-360");
    // Each state at the phone's width, at full size.
    for (const cohort of ["55-59", "53-54", "50-52"]) await page.locator(`[data-cohort="${cohort}"]`).screenshot({ path: join(artifactsDir, `ops-console-360-${cohort}.png`) });
    // The first screen as the phone shows it, at full size (the whole page is long).
    await page.screenshot({ path: join(artifactsDir, "ops-console-360-first-screen.png") });

    // The rate raised with the command the console shows, on the running edge: the autopilot climbs to it
    // (no origin traffic to judge), which is climbing, not slowed, and the command follows the new rate.
    await run(process.execPath, ["--import", "tsx", "scripts/ops.ts", "rate", "55-59", "60"], { cwd: root, env: { ...process.env, EDGE_STATE_DIR: stack.edgeState, NO_COLOR: "1" } });
    await waitFor(() => page.locator('[data-cohort="55-59"]').getAttribute("data-state"), (s) => s === "climbing", "climbing to the raised rate");
    expect(await text(page, '[data-cohort="55-59"] .badge.climbing')).toBe("climbing to 60/min");
    expect(await page.locator(".badge.slowed").count()).toBe(0);
    await waitFor(() => commands("55-59"), (c) => c[1] === "npm run ops -- rate 55-59 60", "the rate command at the new rate");
    await page.locator('[data-cohort="55-59"]').screenshot({ path: join(artifactsDir, "ops-console-360-climbing.png") });

    // The link worked once.
    const again = await fetch(link, { redirect: "manual" });
    expect(again.status).toBe(401);
    expect(again.headers.getSetCookie()).toEqual([]);
    // And the API still refuses a request without the cookie.
    expect((await fetch(`${stack.base}/api/ops/queue`)).status).toBe(401);
    await page.context().close();
  });
});

/**
 * The autopilot's side, on the edge in workerd (as test/browser/autopilot.test.ts runs it) in front of an
 * origin this test slows down: the console says "slowed" with the reason while the autopilot cuts for the
 * origin's latency, and "climbing", not slowed, while it climbs back. AUTOPILOT_TIME_SCALE=20 makes a
 * decision every 250 ms and the climb from the floor 15 s.
 */
describe("the operators' console while the autopilot steers", () => {
  // Far apart, so a machine busy with other work does not make the quick origin look slow.
  const TARGET_P95_MS = 1_000;
  const SLOW_MS = 2_500;
  let origin: Server;
  let delayMs = 0;
  let edge: Edge;

  beforeAll(async () => {
    origin = createServer((req, res) => {
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ slots: [] }));
      }, delayMs);
    });
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    edge = await startEdge({
      bundle: "edge",
      assets: true,
      vars: {
        ORIGIN_URL: `http://127.0.0.1:${(origin.address() as AddressInfo).port}`,
        SHARDS: "1",
        ADMIT_PER_MINUTE: "240",
        MAX_ACTIVE: "10000",
        CLAIM_WINDOW_SECONDS: "900",
        PRESENCE_SECONDS: "3600",
        AUTOPILOT: "true",
        ADMIT_FLOOR_PER_MINUTE: "24",
        ORIGIN_TARGET_P95_MS: String(TARGET_P95_MS),
        AUTOPILOT_TIME_SCALE: "20",
      },
      // One citizen's reads play a crowd's bookings: the per-pass limit is raised for this edge.
      rateLimits: { PASS_LIMIT: { limit: 100_000, period: 10 } },
    });
  });

  afterAll(async () => {
    await edge?.dispose();
    await new Promise((resolve) => origin?.close(resolve));
  });

  it("says slowed, and why, while the autopilot cuts for the origin, then climbing, not slowed, as it recovers", async () => {
    const tickets = await joinMany(edge.url, await benchIdTokens(0, 200), 8);
    const load = readBookings(edge.url, await passOf(edge.url, tickets.find((t) => t.seq === 1)!.ticket));
    const page = await operatorPage(edge.url);
    try {
      await page.context().addCookies([{ name: OPERATOR_COOKIE, value: await mintOperatorSession(edge.vars.OPERATOR_SECRET!), url: edge.url }]);
      await page.goto(`${edge.url}/ops`);
      const cohort = page.locator('[data-cohort="55-59"]');
      const state = () => cohort.getAttribute("data-state");
      await cohort.waitFor({ state: "visible", timeout: VIEW_TIMEOUT });

      delayMs = SLOW_MS;
      await waitFor(state, (s) => s === "slowed", "slowed while the origin is slow");
      expect(await text(page, '[data-cohort="55-59"] .badge.slowed')).toBe("slowed by the autopilot: latency above target");
      expect(await text(page, '[data-cohort="55-59"] [data-figure="rate"] small')).toBe("cut from 240");
      expect(await text(page, '[data-cohort="55-59"] .note')).toContain("The origin is in trouble");
      expect(await violations(page)).toEqual([]);
      await page.locator('[data-cohort="55-59"]').screenshot({ path: join(artifactsDir, "ops-console-1280-slowed.png") });

      delayMs = 0;
      await waitFor(state, (s) => s === "climbing", "climbing once the origin is quick again");
      expect(await page.locator(".badge.slowed").count()).toBe(0);
      expect(await text(page, '[data-cohort="55-59"] .badge.climbing')).toBe("climbing to 240/min");
      expect(await text(page, '[data-cohort="55-59"] [data-figure="rate"] small')).toBe("climbing to 240");
      await page.locator('[data-cohort="55-59"]').screenshot({ path: join(artifactsDir, "ops-console-1280-climbing.png") });
    } finally {
      delayMs = 0;
      await load.stop();
      await page.context().close();
    }
  });
});
