/**
 * The citizen's page in a real browser (Debian's Chromium through playwright-core) against the whole
 * stack as `npm start` runs it. Every assertion is about what a person sees on a 360 px screen: the
 * words in the live region, the number of people ahead falling, the booking number on the
 * confirmation, the opening time of a cohort that is not open yet. Screenshots of each step are written
 * to test-results/browser/ (git-ignored).
 */
import { randomUUID } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { citizenContext, launchBrowser, shot, sleep, startStack, type Stack } from "./support/stack.js";

/** One shard and 30 admissions a minute: one person every two seconds, in strict order. */
const CLAIM_WINDOW_SECONDS = 12;
const bindings = {
  SHARDS: "1",
  ADMIT_PER_MINUTE: "30",
  MAX_ACTIVE: "100",
  PASS_TTL_SECONDS: "900",
  CLAIM_WINDOW_SECONDS: String(CLAIM_WINDOW_SECONDS),
  PAUSED: "false",
  COHORTS: JSON.stringify([
    { id: "55-59", label: { ko: "만 55~59세", en: "Ages 55-59" }, birthYears: [1962, 1966], opensAt: "2021-07-12T20:00:00+09:00" },
    { id: "50-52", label: { ko: "만 50~52세", en: "Ages 50-52" }, birthYears: [1969, 1971], opensAt: "2099-07-20T20:00:00+09:00" },
  ]),
};
const OPEN_COHORT_BIRTH = { year: "1963", month: "5", day: "1", iso: "1963-05-01" };
const LATER_COHORT_BIRTH = { year: "1970", month: "3", day: "4" };

/** Upper bounds on waits; none of them is an assertion about speed. */
const VIEW_TIMEOUT = 20_000;
const TURN_TIMEOUT = 90_000;

/** Every identity in this run is new, so runs never meet each other's places. */
const run = randomUUID().slice(0, 8);
const identity = (name: string) => `010-${run}-${name}`;

let stack: Stack;
let browser: Browser;
const contexts: Array<{ context: BrowserContext; offsite: string[] }> = [];

beforeAll(async () => {
  stack = await startStack(bindings);
  browser = await launchBrowser();
});

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await stack?.stop();
  }
  // The page must never reach past the stack: no fonts, analytics or CDNs.
  expect(contexts.flatMap((c) => c.offsite)).toEqual([]);
});

async function citizen(): Promise<Page> {
  const c = await citizenContext(browser, stack.base);
  contexts.push(c);
  return c.context.newPage();
}

/** People who join through the API and never come back: they make a line to wait behind. */
async function syntheticJoins(count: number, name: string): Promise<string[]> {
  const tickets: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${stack.base}/api/queue/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identity: identity(`${name}-${i}`), birthDate: "1964-02-02" }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    tickets.push(((await res.json()) as { ticket: string }).ticket);
  }
  return tickets;
}

const visible = (page: Page, selector: string, timeout = VIEW_TIMEOUT) => page.locator(selector).waitFor({ state: "visible", timeout });
const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").replace(/\s+/g, " ").trim();
const aheadOf = async (page: Page) => Number((await textOf(page, "#ahead")).replace(/[^\d]/g, ""));

async function fillJoinForm(page: Page, birth: { year: string; month: string; day: string }, who: string): Promise<void> {
  await page.getByLabel("연도", { exact: true }).fill(birth.year);
  await page.getByLabel("월", { exact: true }).fill(birth.month);
  await page.getByLabel("일", { exact: true }).fill(birth.day);
  await page.getByLabel("휴대전화 번호", { exact: true }).fill(who);
  await page.getByRole("button", { name: "대기열에 들어가기" }).click();
}

/** Opens the page as a newcomer and joins the open cohort's line; returns once the wait is shown. */
async function openAndJoin(page: Page, who: string): Promise<void> {
  await page.goto(`${stack.base}/`);
  await visible(page, "#view-join");
  await fillJoinForm(page, OPEN_COHORT_BIRTH, who);
  await visible(page, "#view-wait");
}

/** Waits, bounded, until `read` gives a value that `ok` accepts; returns it. */
async function waitUntil<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeout: number, what: string): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await sleep(250);
    last = await read();
  }
  return last;
}

/** What the page's own origin answers a script that calls the API (cookies included). */
async function callApi(page: Page, path: string, init: { method?: string; body?: unknown; bearer?: string } = {}) {
  return page.evaluate(
    async ({ path, init }) => {
      const headers: Record<string, string> = { accept: "application/json" };
      if (init.body !== undefined) headers["content-type"] = "application/json";
      if (init.bearer) headers.authorization = `Bearer ${init.bearer}`;
      const res = await fetch(path, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
      return { status: res.status, body: (await res.json()) as { error?: { code: string }; booking?: { id: string } } };
    },
    { path, init },
  );
}

/** Chooses a region and tomorrow (Korea time), picks the first time with seats, books; returns what was picked. */
async function bookFirstFreeSlot(page: Page, region: string, screenshot: string): Promise<{ clinic: string; time: string }> {
  await page.getByLabel("지역", { exact: true }).selectOption(region);
  await page.getByLabel("날짜", { exact: true }).selectOption({ index: 1 });
  await page.getByRole("button", { name: "예약 가능한 시간 보기" }).click();
  await visible(page, "#book-form");
  const choice = page.locator("#slot-list label.time:has(input:not([disabled]))").first();
  const time = ((await choice.locator("span").first().evaluate((el) => el.firstChild?.textContent)) ?? "").trim();
  const clinic = await choice.evaluate((el) => el.closest("fieldset")?.querySelector("legend strong")?.textContent ?? "");
  await choice.click();
  await expect.poll(() => choice.locator("input").isChecked()).toBe(true);
  await shot(page, screenshot);
  await page.getByRole("button", { name: "선택한 시간으로 예약하기" }).click();
  await visible(page, "#view-done");
  return { clinic, time };
}

describe("the waiting page", () => {
  it("first load: at most 50 KB transferred, cacheable worldwide, in Korean with an English switch", async () => {
    const page = await citizen();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    const urls = new Map<string, string>();
    const transferred = new Map<string, number>();
    cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
    // encodedDataLength at the end of a load: every byte that came over the wire, headers included.
    cdp.on("Network.loadingFinished", (e) => transferred.set(e.requestId, e.encodedDataLength));
    const cacheControl = new Map<string, string>();
    page.on("response", (res) => cacheControl.set(new URL(res.url()).pathname, res.headers()["cache-control"] ?? ""));

    await page.goto(`${stack.base}/`);
    await visible(page, "#view-join");
    await page.waitForLoadState("networkidle", { timeout: VIEW_TIMEOUT });
    await shot(page, "01-first-load-ko");

    const loaded = [...transferred.keys()].map((id) => new URL(urls.get(id) ?? "about:blank").pathname);
    const script = loaded.find((p) => /^\/assets\/app\.[0-9a-f]{12}\.js$/.test(p));
    const styles = loaded.find((p) => /^\/assets\/app\.[0-9a-f]{12}\.css$/.test(p));
    expect(loaded).toContain("/");
    expect(script, `loaded: ${loaded.join(", ")}`).toBeDefined();
    expect(styles, `loaded: ${loaded.join(", ")}`).toBeDefined();
    const total = [...transferred.values()].reduce((a, b) => a + b, 0);
    console.log(`first load: ${total} bytes transferred over ${loaded.length} requests (${loaded.join(", ")})`);
    expect(total, `first load transferred ${total} bytes over ${loaded.join(", ")}`).toBeLessThanOrEqual(50 * 1024);

    // HTML: short-lived, so a release reaches everyone within minutes; a CDN may serve it stale meanwhile.
    const html = cacheControl.get("/") ?? "";
    expect(html).toMatch(/\bpublic\b/);
    expect(Number(/(?:^|[ ,])max-age=(\d+)/.exec(html)?.[1])).toBeGreaterThan(0);
    expect(Number(/(?:^|[ ,])max-age=(\d+)/.exec(html)?.[1])).toBeLessThanOrEqual(300);
    expect(html).toMatch(/s-maxage=\d+/);
    expect(html).not.toMatch(/immutable|no-store|private/);
    // Script and stylesheet: named by their content, so cached for a year and never revalidated.
    for (const asset of [script!, styles!]) {
      expect(cacheControl.get(asset)).toMatch(/\bpublic\b/);
      expect(cacheControl.get(asset)).toMatch(/max-age=31536000/);
      expect(cacheControl.get(asset)).toMatch(/\bimmutable\b/);
    }

    // Korean by default, every visible string switches to English, and the choice is remembered.
    expect(await page.locator("html").getAttribute("lang")).toBe("ko");
    await expect.poll(() => textOf(page, "h1")).toBe("예약 대기실");
    await page.getByRole("button", { name: "English" }).click();
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    expect(await textOf(page, "h1")).toBe("Waiting room");
    await expect(page.getByRole("button", { name: "Join the line" }).isVisible()).resolves.toBe(true);
    await expect(page.getByLabel("Phone number", { exact: true }).isVisible()).resolves.toBe(true);
    const hangul = /[\uac00-\ud7a3]/;
    // Everything rendered (hidden views excluded), but the button that offers Korean.
    const englishPage = (await page.locator("body").innerText()).replaceAll("한국어", "");
    expect(englishPage, "no Korean left on the English page (but the language button)").not.toMatch(hangul);
    await shot(page, "02-first-load-en");
    await page.reload();
    await visible(page, "#view-join");
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    await page.getByRole("button", { name: "한국어" }).click();
    expect(await page.locator("html").getAttribute("lang")).toBe("ko");
    expect(await textOf(page, "h1")).toBe("예약 대기실");
  });

  it("a citizen whose cohort is not open yet sees when it opens, in Korea time, in either language", async () => {
    const page = await citizen();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-join");
    await fillJoinForm(page, LATER_COHORT_BIRTH, identity("later"));
    await visible(page, "#opens");
    // 2099-07-20T20:00+09:00; the device is in Los Angeles, where that is 04:00 the same day.
    const ko = await textOf(page, "#opens");
    expect(ko).toContain("만 50~52세");
    expect(ko).toContain("2099년 7월 20일");
    expect(ko).toContain("오후 8:00");
    expect(ko).toContain("한국 시간");
    expect(await textOf(page, "#live")).toBe(ko);
    await expect(page.locator("#view-wait").isVisible()).resolves.toBe(false);
    await shot(page, "03-cohort-not-open-ko");

    await page.getByRole("button", { name: "English" }).click();
    const en = await textOf(page, "#opens");
    expect(en).toContain("Ages 50-52");
    expect(en).toContain("July 20, 2099");
    expect(en).toContain("8:00 PM");
    expect(en).toContain("Korea time");
    await shot(page, "04-cohort-not-open-en");
  });

  it("a citizen without a pass who calls the booking API directly is refused", async () => {
    const page = await citizen();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-join");
    for (const [path, init] of [
      ["/api/bookings", { method: "POST", body: { slotId: 1 } }],
      ["/api/slots?region=11", {}],
      ["/api/bookings/me", {}],
      ["/api/bookings", { method: "POST", body: { slotId: 1 }, bearer: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." }],
    ] as const) {
      const answer = await callApi(page, path, init);
      expect(answer.status, path).toBe(401);
      expect(answer.body.error?.code, path).toBe("invalid_token");
    }
  });

  it("two citizens join, see their place fall, keep it across a refresh, get admitted and book", async () => {
    // A line to wait behind: people who joined a moment earlier and will never claim their turn.
    await syntheticJoins(8, "ahead");
    const a = await citizen();
    const b = await citizen();
    await openAndJoin(a, identity("a"));
    const firstA = await aheadOf(a);
    await openAndJoin(b, identity("b"));
    const firstB = await aheadOf(b);
    expect(firstA).toBeGreaterThan(0);
    expect(firstB).toBeGreaterThan(0);
    const ticketNumber = async (page: Page) => Number(/접수 번호 (\d+)$/.exec(await textOf(page, "#wait-queue"))?.[1]);
    expect(await ticketNumber(b), "b joined after a, in the same one-shard line").toBeGreaterThan(await ticketNumber(a));
    expect(await textOf(b, "#live")).toMatch(/^앞에 약 [\d,]+명, 예상 대기 시간 .+\.$/);
    expect(await textOf(b, "#eta")).toMatch(/^(1분 이내|약 \d+(~\d+)?분)$/);
    await shot(a, "05-a-waiting");
    await shot(b, "06-b-waiting");

    // While b waits, the booking API refuses b: a ticket is not a pass, and nothing on the client makes one.
    const early = await callApi(b, "/api/bookings", { method: "POST", body: { slotId: 1 } });
    expect(early.status).toBe(401);
    expect(early.body.error?.code).toBe("invalid_token");

    // b's place falls, and the live region says so.
    const fallen = await waitUntil(() => aheadOf(b), (n) => n < firstB, TURN_TIMEOUT, "b's place to fall");
    await expect.poll(() => textOf(b, "#live"), { timeout: VIEW_TIMEOUT }).toMatch(/^(앞에 약 [\d,]+명|곧 차례입니다)/);
    const announced = Number(/앞에 약 ([\d,]+)명/.exec(await textOf(b, "#live"))?.[1]?.replace(/,/g, "") ?? 0);
    expect(announced).toBeLessThan(firstB);
    expect(await textOf(b, "#progress-text")).toContain(`앞에 있던 ${firstB}명 중`);
    await shot(b, "07-b-place-fell");

    // b refreshes while waiting: the same ticket, a place no further back, the bar still measured from joining.
    const ticketLine = await textOf(b, "#wait-queue");
    expect(ticketLine).toMatch(/^만 55~59세 대기열 · 접수 번호 \d+$/);
    const beforeReload = await aheadOf(b);
    expect(beforeReload).toBeLessThanOrEqual(fallen);
    await b.reload();
    await visible(b, "#view-wait");
    expect(await b.locator("#view-join").isVisible()).toBe(false);
    expect(await textOf(b, "#wait-queue")).toBe(ticketLine);
    expect(await aheadOf(b)).toBeLessThanOrEqual(beforeReload);
    expect(await textOf(b, "#progress-text")).toContain(`앞에 있던 ${firstB}명 중`);
    await shot(b, "08-b-after-refresh");

    // a's turn comes: the page says so and offers slots.
    await visible(a, "#view-book", TURN_TIMEOUT);
    expect(await textOf(a, "#live")).toBe("차례가 되었습니다. 접종 날짜와 시간을 고르세요.");
    expect(await textOf(a, "#pass-until")).toMatch(/까지 예약을 마쳐 주세요 \(한국 시간\)/);
    await shot(a, "09-a-admitted");
    const pickedA = await bookFirstFreeSlot(a, "11", "10-a-chooses-a-slot");
    const idA = await textOf(a, "#booking-id");
    expect(idA).toMatch(/^[0-9a-f-]{36}$/);
    expect(await textOf(a, "#live")).toBe(`예약이 확정되었습니다. 예약 번호 ${idA}.`);
    expect(await textOf(a, "#done-clinic")).toBe(pickedA.clinic);
    expect(await textOf(a, "#done-address")).toContain("서울특별시");
    expect(await textOf(a, "#done-time")).toContain(pickedA.time);
    expect((await callApi(a, "/api/bookings/me")).body.booking?.id).toBe(idA);
    await shot(a, "11-a-booked");

    await visible(b, "#view-book", TURN_TIMEOUT);
    await shot(b, "12-b-admitted");
    await bookFirstFreeSlot(b, "26", "13-b-chooses-a-slot");
    const idB = await textOf(b, "#booking-id");
    expect(idB).toMatch(/^[0-9a-f-]{36}$/);
    expect(idB).not.toBe(idA);
    expect(await textOf(b, "#done-address")).toContain("부산광역시");
    await shot(b, "14-b-booked");

    // A refresh after booking shows the same booking, not a new turn.
    await a.reload();
    await visible(a, "#view-done");
    expect(await textOf(a, "#booking-id")).toBe(idA);
  });

  it("a citizen whose turn lapsed unclaimed is told so plainly and can join again at the back", async () => {
    await syntheticJoins(2, "before-e");
    const page = await citizen();
    await openAndJoin(page, identity("e"));
    // E walks away before the turn comes; someone joins right behind.
    await page.close();
    const [behind] = await syntheticJoins(1, "behind-e");
    await waitUntil(
      async () => {
        const res = await fetch(`${stack.base}/api/queue/status`, { headers: { authorization: `Bearer ${behind}` } });
        return (await res.json()) as { state: string; ahead: number };
      },
      (s) => s.state === "admitted" || s.ahead === 0,
      TURN_TIMEOUT,
      "the line to pass e",
    );
    // e's admission now runs out unclaimed.
    await sleep((CLAIM_WINDOW_SECONDS + 3) * 1000);

    const back = await page.context().newPage();
    await back.goto(`${stack.base}/`);
    await visible(back, "#view-expired");
    expect(await textOf(back, "#expired-title")).toBe("순서가 만료되었습니다");
    expect(await textOf(back, "#view-expired p")).toContain("맨 뒤에서 새 순서를 받습니다");
    expect(await textOf(back, "#live")).toBe("순서가 만료되었습니다. 다시 줄을 설 수 있습니다.");
    await shot(back, "15-e-expired");

    await syntheticJoins(3, "before-e-again");
    await back.getByRole("button", { name: "다시 줄 서기" }).click();
    await visible(back, "#view-join");
    await fillJoinForm(back, OPEN_COHORT_BIRTH, identity("e"));
    await visible(back, "#view-wait");
    expect(await textOf(back, "#wait-note")).toBe("이전 순서는 만료되어, 맨 뒤에서 새 순서를 받았습니다.");
    expect(await aheadOf(back)).toBeGreaterThan(0);
    await shot(back, "16-e-joined-again");
  });
  it("a network error while waiting shows a calm notice and keeps the place", async () => {
    await syntheticJoins(5, "before-n");
    const page = await citizen();
    await openAndJoin(page, identity("n"));
    const ticketLine = await textOf(page, "#wait-queue");
    const before = await aheadOf(page);

    // The connection drops: every status poll fails.
    const failing = (url: URL) => url.pathname === "/api/queue/status";
    await page.route(failing, (route) => route.abort("internetdisconnected"));
    await visible(page, "#notice");
    expect(await textOf(page, "#notice")).toBe("연결이 불안정합니다. 순서는 유지됩니다. 다시 연결하는 중…");
    expect(await page.locator("#view-wait").isVisible()).toBe(true);
    expect(await textOf(page, "#wait-queue")).toBe(ticketLine);
    await shot(page, "17-n-connection-lost");

    // It comes back: the page asks at once, the notice goes, the place is the same one.
    await page.unroute(failing);
    await page.evaluate("window.dispatchEvent(new Event('online'))");
    await page.locator("#notice").waitFor({ state: "hidden", timeout: VIEW_TIMEOUT });
    if (await page.locator("#view-wait").isVisible()) {
      expect(await textOf(page, "#wait-queue")).toBe(ticketLine);
      expect(await aheadOf(page)).toBeLessThanOrEqual(before);
    } else {
      await visible(page, "#view-book");
    }
    await shot(page, "18-n-reconnected");
  });
});
