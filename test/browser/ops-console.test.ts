/**
 * The operators' console in a real browser (headless Chromium) against the whole stack as `npm start`
 * runs it: the operator opens the one-time link `npm start` printed, lands on /ops, and watches the
 * charts take in citizens as they join. Without the operator's cookie the API is a 401 and the page says
 * how to sign in; the link works once. Screenshots at 1280 px and at a phone's width are written to
 * test-results/browser/ (git-ignored) to be looked at.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding, NOT_OPEN_YET } from "../../scripts/cohorts.js";
import { errorBody } from "../../src/contract/errors.js";
import { idTokens, newPhone } from "./support/identity.js";
import { operatorLink } from "./support/operator.js";
import { artifactsDir, launchBrowser, shot, sleep, startStack, stopAll, type Stack } from "./support/stack.js";

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
async function citizensJoin(count: number, birthdate = "1964-02-02"): Promise<void> {
  const tokens = await idTokens(stack, Array.from({ length: count }, () => ({ phoneNumber: newPhone(), birthdate })));
  for (const idToken of tokens) {
    const res = await fetch(`${stack.base}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    expect(res.status, await res.clone().text()).toBe(200);
  }
}

async function operatorPage(): Promise<Page> {
  // The language Chromium reports under LANG=C.UTF-8, which is no BCP 47 tag: Intl throws on it, so the
  // console must still draw its charts and raise no error with it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, locale: "en-US@posix" });
  await context.route(
    (url) => url.origin !== stack.base,
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

    await citizensJoin(6);
    await waitFor(() => joinedInFlowChart(page, "55-59"), (n) => n >= before + 6, "six joins in the flow chart");
    await waitFor(async () => (await page.locator('[data-cohort="55-59"] [data-figure="joined"] strong').textContent()) ?? "", (t) => Number(t) >= 6, "the joined figure");
    // What is paused, and what has not opened, is said in words.
    await expect.poll(() => page.locator('[data-cohort="53-54"] .badge.paused').textContent()).toBe("PAUSED");
    expect(await page.locator('[data-cohort="50-52"] .badge.closed').textContent()).toMatch(/^opens /);
    expect(await page.locator('[data-cohort="50-52"] canvas').count()).toBe(0);
    expect(await page.locator("#bindings").textContent()).toContain("ADMIT_PER_MINUTE30");
    expect(await page.locator("#bindings").textContent()).toContain("AUTOPILOTtrue");
    // The autopilot's side: the rate in force against the configured one (a healthy origin: equal), and
    // the origin's health (no booking yet: nothing measured).
    expect(await page.locator('[data-cohort="55-59"] [data-figure="rate"] strong').textContent()).toBe("30 (30)");
    expect(await page.locator('[data-cohort="55-59"] [data-figure="origin"] strong').textContent()).toBe("– · –");
    // Let the admissions of the first seconds show before the picture is taken.
    await sleep(5_000);
    await shot(page, "ops-console-1280");

    // A phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(1_000);
    const widths = await page.evaluate<{ page: number; canvas: number }>(
      "({ page: document.documentElement.scrollWidth, canvas: Math.max(...[...document.querySelectorAll('canvas')].map((c) => c.getBoundingClientRect().right)) })",
    );
    expect(widths.page).toBeLessThanOrEqual(390);
    expect(widths.canvas).toBeLessThanOrEqual(390);
    await shot(page, "ops-console-phone");
    // The first screen as the phone shows it, at full size (the whole page is long).
    await page.screenshot({ path: join(artifactsDir, "ops-console-phone-first-screen.png") });

    // The link worked once.
    const again = await fetch(link, { redirect: "manual" });
    expect(again.status).toBe(401);
    expect(again.headers.getSetCookie()).toEqual([]);
    // And the API still refuses a request without the cookie.
    expect((await fetch(`${stack.base}/api/ops/queue`)).status).toBe(401);
    await page.context().close();
  });
});
