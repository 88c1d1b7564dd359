/**
 * The waiting screen's numbers, in a real browser against the whole stack, in Korean and in English: one
 * figure for the place (the count ahead), the same as the status answer and never more than the people
 * the operators' console counts waiting; a paused line that says so and promises no time; and a lost
 * connection said at the first failed poll, with the last numbers kept and marked as old. Screenshots of
 * the waiting screen at 360 px and 1280 px go to test-results/browser/.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { queueStatus, type QueueStatus } from "../../src/contract/queue.js";
import { MAX_POLL_MS } from "../../src/edge/queue/wait-estimate.js";
import { idTokens, newPhone, signInOnPage } from "./support/identity.js";
import { operatorCookie } from "./support/operator.js";
import { citizenContext, launchBrowser, shot, stopAll, startStack, type Stack } from "./support/stack.js";

/**
 * Four shards, a cap of one a shard and a claim window longer than the suite: the first ticket of each
 * shard is let in and never claims, so every line stands still and the figures can be compared exactly.
 */
const bindings = {
  SHARDS: "4",
  ADMIT_PER_MINUTE: "60",
  MAX_ACTIVE: "4",
  CLAIM_WINDOW_SECONDS: "900",
  PAUSED: "false",
  // 53-54 is paused by its own override: its citizens wait with no admissions.
  COHORTS: JSON.stringify((JSON.parse(cohortsBinding(["55-59", "53-54"])) as Array<{ id: string }>).map((c) => (c.id === "53-54" ? { ...c, paused: true } : c))),
};
const OPEN_BIRTH = "1963-05-01";
const PAUSED_BIRTH = "1967-04-05";
const VIEW_TIMEOUT = 20_000;

/** What each language shows, word for word. */
const WORDS = {
  ko: {
    line: "만 55~59세 대기열",
    pausedTitle: "대기열이 잠시 멈췄습니다",
    etaPaused: "입장이 다시 시작되면 계산합니다",
    notice: /^(연결이 불안정합니다|대기열 서버와 연결이 끊겼습니다)\. 순서는 유지됩니다\. 다시 연결하는 중…$/,
    stale: /^아래 숫자는 .+\(한국 시간\)에 확인한 것으로, 지금과 다를 수 있습니다\./,
  },
  en: {
    line: "Line for Ages 55-59",
    pausedTitle: "The line is paused",
    etaPaused: "worked out again when admissions resume",
    notice: /^The connection (is unstable|to the waiting room is lost)\. Your place is kept\. Reconnecting…$/,
    stale: /^The numbers below are from .+ \(Korea time\) and may be out of date\./,
  },
} as const;
type Lang = keyof typeof WORDS;

let stack: Stack;
let browser: Browser;
let operator: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startStack(bindings);
  browser = await launchBrowser();
  operator = await operatorCookie(stack);
  // Lines to wait behind, spread over the shards by the citizens' keys; nobody of them ever claims.
  const tokens = await idTokens(stack, [
    ...Array.from({ length: 16 }, () => ({ phoneNumber: newPhone(), birthdate: "1964-02-02" })),
    ...Array.from({ length: 24 }, () => ({ phoneNumber: newPhone(), birthdate: "1968-02-02" })),
  ]);
  for (const idToken of tokens) {
    const res = await fetch(`${stack.base}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    expect(res.status).toBe(200);
  }
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await stopAll(browser, stack);
});

const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").replace(/\s+/g, " ").trim();
const visible = (page: Page, selector: string, timeout = VIEW_TIMEOUT) => page.locator(selector).waitFor({ state: "visible", timeout });
const digits = (text: string) => Number(text.replace(/[^\d]/g, ""));

/** A citizen signed in through the provider's pages in their own browser, waiting, the page in `lang`. */
async function waitingCitizen(lang: Lang, birthdate: string): Promise<Page> {
  const { context } = await citizenContext(browser, stack);
  contexts.push(context);
  await context.addInitScript({ content: `localStorage.setItem("wr:lang", ${JSON.stringify(lang)})` });
  const page = await context.newPage();
  await page.goto(`${stack.base}/`);
  await signInOnPage(page, stack, birthdate, VIEW_TIMEOUT);
  await visible(page, "#view-wait");
  await placeFound(page);
  return page;
}

/**
 * Waits until the page shows a count: for a second or two after a join the cohort's shards have not ranked
 * the place yet, and the page says it is finding it (status `placing`) instead of a number.
 */
async function placeFound(page: Page): Promise<void> {
  await expect.poll(async () => /\d/.test(await textOf(page, "#ahead")), { timeout: VIEW_TIMEOUT }).toBe(true);
}

/** The status the page's own cookie gets, as the page would. */
async function statusOf(page: Page): Promise<QueueStatus> {
  const body: unknown = await page.evaluate(async () => (await fetch("/api/queue/status", { cache: "no-store" })).json());
  return queueStatus.parse(body);
}

/** The answer to the page's own `n`-th status poll from now that shows a count (not a place being found). */
async function pagePolls(page: Page, n: number): Promise<QueueStatus> {
  let last: QueueStatus | undefined;
  for (let seen = 0; seen < n; ) {
    const res = await page.waitForResponse((r) => new URL(r.url()).pathname === "/api/queue/status", { timeout: VIEW_TIMEOUT });
    last = queueStatus.parse(await res.json());
    if (!last.placing) seen++;
  }
  return last!;
}

/** The people the operators' console counts waiting in a cohort. */
async function opsWaiting(cohort: string): Promise<number> {
  const res = await fetch(`${stack.base}/api/ops/queue`, { headers: { cookie: operator } });
  expect(res.status).toBe(200);
  const view = (await res.json()) as { cohorts: Array<{ id: string; waiting: number }> };
  return view.cohorts.find((c) => c.id === cohort)!.waiting;
}

async function shots(page: Page, name: string): Promise<void> {
  await shot(page, `${name}-360`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(page, `${name}-1280`);
  await page.setViewportSize({ width: 360, height: 740 });
}

describe.each(["ko", "en"] as const)("the waiting screen's numbers (%s)", (lang) => {
  const words = WORDS[lang];

  it("shows one place figure, the count ahead, agreeing with the status and the operators' count", async () => {
    const page = await waitingCitizen(lang, OPEN_BIRTH);
    // Nobody joins the cohort from here on, so its waiting only falls: the operators' count now bounds the
    // count ahead of any later answer whose figures are newer (the cohort's are a second or two old, so two
    // of the page's polls later).
    const waiting = await opsWaiting("55-59");
    const s = await pagePolls(page, 2);
    expect(s.state).toBe("waiting");
    // The page shows what its own poll was told (the line moves: a fresh status could say one fewer).
    await expect.poll(async () => digits(await textOf(page, "#ahead"))).toBe(s.ahead);
    // The progress line counts from the same figure: of those ahead at the join, those let in since.
    // (Korean says the start first, English the number let in: the larger is the start.)
    const figures = ((await textOf(page, "#progress-text")).match(/\d[\d,]*/g) ?? []).map(digits);
    expect(figures).toHaveLength(2);
    expect(Math.max(...figures) - Math.min(...figures)).toBe(s.ahead);
    // The line names the cohort and nothing else: no shard-local number beside the count ahead.
    expect(await textOf(page, "#wait-queue")).toBe(words.line);
    expect(s.ahead).toBeGreaterThan(0);
    expect(s.ahead).toBeLessThanOrEqual(waiting - 1);
    await shots(page, `wait-${lang}-waiting`);
  });

  it("says a paused line is paused, and promises no time", async () => {
    const page = await waitingCitizen(lang, PAUSED_BIRTH);
    const s = await statusOf(page);
    expect(s).toMatchObject({ state: "paused", cohort: "53-54", etaSeconds: null });
    expect(await textOf(page, "#wait-title")).toBe(words.pausedTitle);
    expect(await page.locator("#paused-text").isVisible()).toBe(true);
    expect(await textOf(page, "#eta")).toBe(words.etaPaused);
    await expect.poll(async () => digits(await textOf(page, "#ahead"))).toBe(s.ahead);
    expect(s.ahead).toBeGreaterThan(0);
    expect(s.ahead).toBeLessThanOrEqual((await opsWaiting("53-54")) - 1);
    await shots(page, `wait-${lang}-paused`);
  });

  it("says the connection is lost at the first failed poll once the edge stops answering, keeping the numbers marked old", async () => {
    const page = await waitingCitizen(lang, OPEN_BIRTH);
    const ahead = digits(await textOf(page, "#ahead"));
    const { nextPollMs } = await statusOf(page);
    // Polls that fail from here on (the edge accepts no answer: stopped, not gone), counted as the page makes them.
    let failed = 0;
    page.on("requestfailed", (req) => new URL(req.url()).pathname === "/api/queue/status" && failed++);
    const edge = stack.pid("edge");
    const stoppedAt = Date.now();
    process.kill(edge, "SIGSTOP");
    try {
      await visible(page, "#notice", 2 * MAX_POLL_MS + 10_000);
      const shownAfterMs = Date.now() - stoppedAt;
      expect(failed, "failed polls before the page said so").toBeLessThanOrEqual(2);
      // Within two poll intervals (the page's own, and never more than MAX_POLL_MS), plus the poll's timeout.
      expect(shownAfterMs).toBeLessThanOrEqual(2 * Math.max(nextPollMs, MAX_POLL_MS));
      expect(await textOf(page, "#notice")).toMatch(words.notice);
      // The last numbers stay, marked as old.
      expect(await textOf(page, "#stale-text")).toMatch(words.stale);
      expect(digits(await textOf(page, "#ahead"))).toBe(ahead);
      expect(await page.locator("#ahead-figure").getAttribute("class")).toContain("stale");
      await shots(page, `wait-${lang}-connection-lost`);
    } finally {
      process.kill(edge, "SIGCONT");
    }
    // Back: the notice and the marks go at the next poll.
    await page.locator("#notice").waitFor({ state: "hidden", timeout: 60_000 });
    expect(await page.locator("#stale-text").isVisible()).toBe(false);
    expect(await page.locator("#ahead-figure").getAttribute("class")).not.toContain("stale");
  });
});
