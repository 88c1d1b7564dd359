/**
 * The citizen's page in a real browser (headless Chromium through playwright-core) against the whole
 * stack as `npm start` runs it, the development identity provider included. Citizens sign in on the
 * provider's own pages with a phone number, a birth date and the code the provider "texts" them (read
 * from the stack's output, as a person would read their phone). Every assertion is about what a person
 * sees on a 360 px screen: the words in the live region, the number of people ahead falling, the booking
 * number on the confirmation, the opening time of a cohort that is not open yet; and about what the
 * address bar keeps: never a code, a state, a token or a phone number. Screenshots of each step are
 * written to test-results/browser/ (git-ignored).
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding, NOT_OPEN_YET } from "../../scripts/cohorts.js";
import { queueStatus } from "../../src/contract/queue.js";
import { idTokens, newPhone, smsCode } from "./support/identity.js";
import { citizenContext, launchBrowser, shot, sleep, startStack, type Stack } from "./support/stack.js";

/** One shard and 30 admissions a minute: one person every two seconds, in strict order. */
const CLAIM_WINDOW_SECONDS = 12;
/** Short, so a citizen can stay away past it within the test. */
const RETURN_WINDOW_SECONDS = 15;
const bindings = {
  SHARDS: "1",
  ADMIT_PER_MINUTE: "30",
  MAX_ACTIVE: "100",
  PASS_TTL_SECONDS: "900",
  CLAIM_WINDOW_SECONDS: String(CLAIM_WINDOW_SECONDS),
  RETURN_WINDOW_SECONDS: String(RETURN_WINDOW_SECONDS),
  PAUSED: "false",
  COHORTS: cohortsBinding(["55-59", "50-52"], { "50-52": NOT_OPEN_YET }),
};
/** Birth dates as the identity provider's registry will hold them (its first login of a number records it). */
const OPEN_COHORT_BIRTH = "1963-05-01";
const LATER_COHORT_BIRTH = "1970-03-04";
const SYNTHETIC_BIRTH = "1964-02-02";

/** Upper bounds on waits; none of them is an assertion about speed. */
const VIEW_TIMEOUT = 20_000;
const TURN_TIMEOUT = 90_000;

let stack: Stack;
let browser: Browser;
const contexts: Array<{ context: BrowserContext; offsite: string[] }> = [];
/** Every address each citizen's tab showed, in order (navigations and history rewrites alike). */
const addressBars = new Map<Page, string[]>();

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

/** A citizen's own browser (cookies and storage of its own), with a tab whose address bar is recorded. */
async function citizen(): Promise<Page> {
  const c = await citizenContext(browser, stack);
  contexts.push(c);
  return tab(c.context);
}

async function tab(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const seen: string[] = [];
  addressBars.set(page, seen);
  // Fired for every committed navigation and for same-document changes (history.replaceState) too.
  page.on("framenavigated", (frame) => frame === page.mainFrame() && seen.push(frame.url()));
  return page;
}

/** People who join through the app API with the provider's id_tokens and never come back: a line to wait behind. */
async function syntheticJoins(count: number): Promise<string[]> {
  const tokens = await idTokens(stack, Array.from({ length: count }, () => ({ phoneNumber: newPhone(), birthdate: SYNTHETIC_BIRTH })));
  const tickets: string[] = [];
  for (const idToken of tokens) {
    const res = await fetch(`${stack.base}/api/queue/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ idToken }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    tickets.push(((await res.json()) as { ticket: string }).ticket);
  }
  return tickets;
}

const visible = (page: Page, selector: string, timeout = VIEW_TIMEOUT) => page.locator(selector).waitFor({ state: "visible", timeout });
const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").replace(/\s+/g, " ").trim();
/** The count ahead the page shows, once it shows one (while the place is being found it shows none). */
const aheadOf = async (page: Page) => {
  await expect.poll(async () => /\d/.test(await textOf(page, "#ahead")), { timeout: VIEW_TIMEOUT }).toBe(true);
  return Number((await textOf(page, "#ahead")).replace(/[^\d]/g, ""));
};

const onOrigin = (origin: string) => (url: URL) => url.origin === origin;

/** How a person types their number: the national form (010-1234-5678), which the provider normalises. */
const national = (e164: string) => e164.replace(/^\+82(\d{2})(\d{3,4})(\d{4})$/, "0$1-$2-$3");

/**
 * Signs in on the development provider's own pages, as a person does: phone number and birth date, then
 * the six-digit code it "texts" (read from the stack's output). Starts from the page's sign-in link (or
 * the expired view's) and returns once the browser is back on the waiting page. A browser that signed in
 * at the provider within its session (an hour) is not asked again: the round trip then shows no page of
 * the provider's, and the result says so.
 */
async function signIn(page: Page, link: "signin" | "rejoin", phone: string, birthdate: string, screenshot?: string): Promise<"asked" | "remembered"> {
  // The next document to finish loading: the provider's login page, or ours if the provider remembered.
  await Promise.all([page.waitForEvent("load", { timeout: VIEW_TIMEOUT }), page.locator(`#${link}`).click()]);
  if (new URL(page.url()).origin !== stack.idp) return "remembered";
  const since = stack.output().length;
  await page.getByLabel(/휴대전화 번호|Mobile phone number/).fill(national(phone));
  await page.getByLabel(/생년월일|Date of birth/).fill(birthdate);
  if (screenshot) await shot(page, `${screenshot}-provider-phone`);
  await page.getByRole("button", { name: /인증번호 받기|Send me a code/ }).click();
  const code = await smsCode(stack, phone, since);
  await page.getByLabel(/인증번호 6자리|6-digit code/).fill(code);
  if (screenshot) await shot(page, `${screenshot}-provider-code`);
  await page.getByRole("button", { name: /확인|Verify/ }).click();
  await page.waitForURL(onOrigin(stack.base), { timeout: VIEW_TIMEOUT });
  return "asked";
}

/** Opens the page as a newcomer, signs in with a birth date in the open cohort; returns once the wait is shown. */
async function openAndSignIn(page: Page, phone: string, screenshot?: string): Promise<void> {
  await page.goto(`${stack.base}/`);
  await visible(page, "#view-signin");
  expect(await signIn(page, "signin", phone, OPEN_COHORT_BIRTH, screenshot)).toBe("asked");
  await visible(page, "#view-wait");
}

/**
 * What the address bar of the waiting page ever said after the provider sent the citizen back: the
 * callback's code and state, any token and the phone number must never be among it, and the page ends
 * on its bare address.
 */
function expectCleanAddresses(page: Page, phones: string[]): void {
  const seen = addressBars.get(page) ?? [];
  const ours = seen.filter((u) => new URL(u).origin === stack.base);
  expect(ours.length, `addresses seen: ${seen.join(" → ")}`).toBeGreaterThan(0);
  for (const address of ours) {
    expect(address).not.toMatch(/[?&#](code|state|id_token|access_token|iss|session_state)=/);
    expect(address).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
    const digits = address.replace(/\D/g, "");
    for (const phone of phones) {
      expect(digits).not.toContain(phone.replace(/\D/g, "").slice(-8));
    }
    // The callback itself is a redirect, never a page the citizen is left on.
    expect(new URL(address).pathname).not.toMatch(/^\/auth\//);
  }
  expect(page.url()).toBe(`${stack.base}/`);
}

/** Waits, bounded, until `read` gives a value that `ok` accepts; returns it. */
async function waitUntil<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeout: number, what: string, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await sleep(everyMs);
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
    await visible(page, "#view-signin");
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
    // Signing in is a plain link to the edge, which takes the citizen to the provider in their language.
    expect(await page.locator("html").getAttribute("lang")).toBe("ko");
    await expect.poll(() => textOf(page, "h1")).toBe("예약 대기실");
    expect(await page.getByRole("link", { name: "본인 인증하고 줄 서기" }).getAttribute("href")).toBe("/auth/login?lang=ko");
    // Nothing on the page asks for who the citizen is: that is the provider's to ask.
    expect(await page.locator("input:visible").count()).toBe(0);
    await page.getByRole("button", { name: "English" }).click();
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    expect(await textOf(page, "h1")).toBe("Waiting room");
    expect(await page.getByRole("link", { name: "Sign in and join the line" }).getAttribute("href")).toBe("/auth/login?lang=en");
    expect(await textOf(page, "#view-signin")).toContain("birth date the identity provider holds");
    const hangul = /[\uac00-\ud7a3]/;
    // Everything rendered (hidden views excluded), but the button that offers Korean.
    const englishPage = (await page.locator("body").innerText()).replaceAll("한국어", "");
    expect(englishPage, "no Korean left on the English page (but the language button)").not.toMatch(hangul);
    await shot(page, "02-first-load-en");
    await page.reload();
    await visible(page, "#view-signin");
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    await page.getByRole("button", { name: "한국어" }).click();
    expect(await page.locator("html").getAttribute("lang")).toBe("ko");
    expect(await textOf(page, "h1")).toBe("예약 대기실");
  });

  it("a citizen whose cohort is not open yet signs in and sees when it opens, in Korea time, in either language", async () => {
    const page = await citizen();
    const phone = newPhone();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");
    expect(await signIn(page, "signin", phone, LATER_COHORT_BIRTH, "03-later")).toBe("asked");
    await visible(page, "#signin-note");
    // The edge said why, and which cohort, in the address it sent the browser back to...
    expect(addressBars.get(page)).toContain(`${stack.base}/?signin=cohort_not_open&cohort=50-52`);
    // ...and the page took it out of the address bar once read.
    await expect.poll(() => page.url()).toBe(`${stack.base}/`);
    // 2099-07-20T20:00+09:00; the device is in Los Angeles, where that is 04:00 the same day.
    const ko = await textOf(page, "#signin-note");
    expect(ko).toContain("만 50~52세");
    expect(ko).toContain("2099년 7월 20일");
    expect(ko).toContain("오후 8:00");
    expect(ko).toContain("한국 시간");
    expect(await textOf(page, "#live")).toBe(ko);
    await expect(page.locator("#view-wait").isVisible()).resolves.toBe(false);
    await shot(page, "03-cohort-not-open-ko");

    await page.getByRole("button", { name: "English" }).click();
    const en = await textOf(page, "#signin-note");
    expect(en).toContain("Ages 50-52");
    expect(en).toContain("July 20, 2099");
    expect(en).toContain("8:00 PM");
    expect(en).toContain("Korea time");
    await shot(page, "04-cohort-not-open-en");
    expectCleanAddresses(page, [phone]);

    // A refresh keeps nothing of it: the message was for that return only, and no place was made.
    await page.reload();
    await visible(page, "#view-signin");
    expect(await page.locator("#signin-note").isVisible()).toBe(false);
    await page.getByRole("button", { name: "한국어" }).click();
  });

  it("a browser that has not signed in sees the sign-in step, and the booking API refuses it", async () => {
    const page = await citizen();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");
    expect(await page.locator("#view-wait").isVisible()).toBe(false);
    expect(await textOf(page, "#live")).toBe("");
    expect((await callApi(page, "/api/queue/status")).status).toBe(401);
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

  it("a sign-in that ends without a place is explained on the sign-in view, and the address bar keeps nothing of it", async () => {
    const page = await citizen();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");

    // In English, the provider's pages are in English too; the citizen cancels there.
    await page.getByRole("button", { name: "English" }).click();
    await Promise.all([page.waitForEvent("load", { timeout: VIEW_TIMEOUT }), page.locator("#signin").click()]);
    expect(new URL(page.url()).origin).toBe(stack.idp);
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    await page.getByRole("link", { name: /Cancel/ }).click();
    await page.waitForURL(onOrigin(stack.base), { timeout: VIEW_TIMEOUT });
    await visible(page, "#signin-note");
    const cancelled = "Signing in was cancelled. To join the line, please sign in again.";
    expect(await textOf(page, "#signin-note")).toBe(cancelled);
    expect(await textOf(page, "#live")).toBe(cancelled);
    // Focus is on the view's heading, so a screen reader continues from what happened.
    expect(await page.evaluate("document.activeElement?.id")).toBe("signin-title");
    expect(addressBars.get(page)).toContain(`${stack.base}/?signin=cancelled`);
    await expect.poll(() => page.url()).toBe(`${stack.base}/`);
    await shot(page, "04b-sign-in-cancelled-en");
    await page.getByRole("button", { name: "한국어" }).click();

    // A birth date no cohort covers, as the provider verified it: told so, with no place made.
    const phone = newPhone();
    expect(await signIn(page, "signin", phone, "1990-01-01")).toBe("asked");
    await visible(page, "#signin-error");
    expect(await textOf(page, "#signin-error")).toBe("본인 인증 기관에 등록된 생년월일로는 예약할 수 있는 나이대가 없습니다.");
    expect(addressBars.get(page)).toContain(`${stack.base}/?signin=not_eligible`);
    expect(await page.locator("#view-wait").isVisible()).toBe(false);
    expectCleanAddresses(page, [phone]);
    await shot(page, "04c-sign-in-not-eligible");

    // The other ways back from the callback, as the edge sends them, and words the page does not know.
    const reasons: Array<[string, string]> = [
      ["invalid_identity", "본인 인증 결과를 확인하지 못했습니다. 다시 본인 인증을 해 주세요."],
      ["rate_limited", "짧은 시간에 시도가 너무 많았습니다. 1분쯤 기다린 뒤 다시 본인 인증을 해 주세요. 이미 받은 순서는 그대로입니다."],
      ["unavailable", "본인 인증 기관이나 대기열 서버가 잠시 응답하지 않습니다. 잠시 후 다시 시도해 주세요."],
      ["failed", "본인 인증을 마치지 못했습니다. 다시 시도해 주세요."],
      ["%3Cb%3Enope%3C%2Fb%3E", "본인 인증을 마치지 못했습니다. 다시 시도해 주세요."],
    ];
    for (const [reason, text] of reasons) {
      await page.goto(`${stack.base}/?signin=${reason}`);
      await visible(page, "#signin-error");
      expect(await textOf(page, "#signin-error"), reason).toBe(text);
      expect(await page.locator("#signin-note").isVisible(), reason).toBe(false);
      await expect.poll(() => page.url()).toBe(`${stack.base}/`);
    }
    // A cohort the edge does not list: no label or time is made up for it.
    await page.goto(`${stack.base}/?signin=cohort_not_open&cohort=70-74`);
    await visible(page, "#signin-note");
    expect(await textOf(page, "#signin-note")).toBe("이 나이대의 예약은 아직 시작하지 않았습니다. 아래의 나이대별 예약 시작 시각을 확인해 주세요.");
    // "Your earlier place lapsed" belongs to a new place; without one, nothing is said.
    await page.goto(`${stack.base}/?signin=rejoined`);
    await visible(page, "#view-signin");
    await expect.poll(() => page.url()).toBe(`${stack.base}/`);
    expect(await page.locator("#signin-note").isVisible()).toBe(false);
    expect(await page.locator("#signin-error").isVisible()).toBe(false);
  });

  it("two citizens sign in, see their place fall, keep it across a refresh and a second device, get admitted and book", async () => {
    // A line to wait behind: people who joined a moment earlier and will never claim their turn, long
    // enough (two seconds a turn) that b still waits after a second device has signed in on a busy machine.
    await syntheticJoins(16);
    const a = await citizen();
    const b = await citizen();
    const [phoneA, phoneB] = [newPhone(), newPhone()];
    // The page itself never joins: only the edge does, from the provider's verified answer.
    const pageJoins: string[] = [];
    for (const p of [a, b]) p.on("request", (req) => new URL(req.url()).pathname === "/api/queue/join" && pageJoins.push(req.url()));
    await openAndSignIn(a, phoneA, "05-a");
    const firstA = await aheadOf(a);
    await openAndSignIn(b, phoneB);
    const firstB = await aheadOf(b);
    expect(firstA).toBeGreaterThan(0);
    expect(firstB).toBeGreaterThan(0);
    // The page shows one figure for a place, the count ahead; the ticket's number in its line stays in the answer.
    const ticketNumber = async (page: Page) => queueStatus.parse((await callApi(page, "/api/queue/status")).body).seq!;
    expect(await ticketNumber(b), "b joined after a, in the same one-shard line").toBeGreaterThan(await ticketNumber(a));
    expect(await textOf(b, "#wait-queue")).toBe("만 55~59세 대기열");

    expect(await textOf(b, "#live")).toMatch(/^앞에 약 [\d,]+명, 예상 대기 시간 .+\.$/);
    // The wait is a range, from the configured rate to a slower pace, and never one number: at 2 s a turn
    // any slack adds at least a second, so its ends never meet. The page shows both ends, or "under a
    // minute" while even the later end is; a lone "약 N분" would be the range collapsed.
    const polled = await b.waitForResponse((res) => new URL(res.url()).pathname === "/api/queue/status" && res.ok());
    const eta = queueStatus.parse(await polled.json()).etaSeconds;
    expect(eta, "a citizen in a moving line is given a wait").not.toBeNull();
    expect(eta!.high, "the later end of the wait").toBeGreaterThan(eta!.low);
    if (eta!.high < 60) {
      await expect.poll(() => textOf(b, "#eta")).toBe("1분 이내");
    } else {
      await expect.poll(() => textOf(b, "#eta")).toMatch(/^약 \d+~\d+분$/);
      const [low, high] = (await textOf(b, "#eta")).match(/\d+/g)!.map(Number);
      expect(low).toBeLessThan(high!);
    }
    await shot(a, "05-a-waiting");
    await shot(b, "06-b-waiting");

    // b signs in again on a second device (a browser of its own): the same place, not a new one.
    const bAgain = await citizen();
    await openAndSignIn(bAgain, phoneB, "06b-b-second-device");
    expect(await textOf(bAgain, "#wait-queue")).toBe(await textOf(b, "#wait-queue"));
    expect(await bAgain.locator("#wait-note").isVisible()).toBe(false);
    expectCleanAddresses(bAgain, [phoneB]);
    await shot(bAgain, "06c-b-second-device-same-place");
    await bAgain.context().close();

    // While b waits, the booking API refuses b: a ticket is not a pass, and nothing on the client makes one.
    const early = await callApi(b, "/api/bookings", { method: "POST", body: { slotId: 1 } });
    expect(early.status).toBe(401);
    expect(early.body.error?.code).toBe("invalid_token");

    // b's place falls, and the live region says so.
    const fallen = await waitUntil(() => aheadOf(b), (n) => n < firstB, TURN_TIMEOUT, "b's place to fall");
    // The live region speaks at most every so often far from the front, so it may say the old figure a while.
    const announced = async () => Number(/앞에 약 ([\d,]+)명/.exec(await textOf(b, "#live"))?.[1]?.replace(/,/g, "") ?? 0);
    await expect.poll(() => textOf(b, "#live"), { timeout: VIEW_TIMEOUT }).toMatch(/^(앞에 약 [\d,]+명|곧 차례입니다)/);
    await expect.poll(announced, { timeout: 2 * VIEW_TIMEOUT }).toBeLessThan(firstB);
    expect(await textOf(b, "#progress-text")).toContain(`앞에 있던 ${firstB}명 중`);
    await shot(b, "07-b-place-fell");

    // b refreshes while waiting: the same ticket, a place no further back, the bar still measured from joining.
    const ticketLine = await textOf(b, "#wait-queue");
    expect(ticketLine).toBe("만 55~59세 대기열");
    const beforeReload = await aheadOf(b);
    expect(beforeReload).toBeLessThanOrEqual(fallen);
    await b.reload();
    await visible(b, "#view-wait");
    expect(await b.locator("#view-signin").isVisible()).toBe(false);
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
    // The live region spells out the short code, not the id (booking-screens.test.ts looks at the code).
    const codeA = await textOf(a, "#booking-code");
    expect(await textOf(a, "#live")).toBe(`예약이 확정되었습니다. 예약 코드 ${[...codeA].join(" ")}.`);
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

    expect(pageJoins).toEqual([]);
    expectCleanAddresses(a, [phoneA]);
    expectCleanAddresses(b, [phoneB]);
  });

  it("a citizen whose turn lapsed unclaimed and who stayed away past the return window is told so plainly and can join again at the back", async () => {
    await syntheticJoins(2);
    const page = await citizen();
    const phoneE = newPhone();
    await openAndSignIn(page, phoneE);
    // E walks away before the turn comes; someone joins right behind.
    await page.close();
    const [behind] = await syntheticJoins(1);
    await waitUntil(
      async () => {
        const res = await fetch(`${stack.base}/api/queue/status`, { headers: { authorization: `Bearer ${behind}` } });
        return (await res.json()) as { state: string; ahead: number };
      },
      (s) => s.state === "admitted" || s.ahead === 0,
      TURN_TIMEOUT,
      "the line to pass e",
      // Slower than a test could poll: the edge limits status polls per ticket.
      1_000,
    );
    // e's admission now runs out unclaimed, and e stays away past the return window.
    await sleep((CLAIM_WINDOW_SECONDS + RETURN_WINDOW_SECONDS + 3) * 1000);

    const back = await tab(page.context());
    await back.goto(`${stack.base}/`);
    await visible(back, "#view-expired");
    expect(await textOf(back, "#expired-title")).toBe("순서가 만료되었습니다");
    expect(await textOf(back, "#view-expired p")).toContain("맨 뒤에서 새 순서를 받습니다");
    expect(await textOf(back, "#live")).toBe("순서가 만료되었습니다. 다시 줄을 설 수 있습니다.");
    await shot(back, "15-e-expired");

    // Joining again takes a freshly verified identity: the button signs in again.
    await syntheticJoins(3);
    expect(await back.getByRole("link", { name: "다시 본인 인증하고 줄 서기" }).getAttribute("href")).toBe("/auth/login?lang=ko");
    await signIn(back, "rejoin", phoneE, OPEN_COHORT_BIRTH);
    await visible(back, "#view-wait");
    expect(await textOf(back, "#wait-note")).toBe("이전 순서는 만료되어, 맨 뒤에서 새 순서를 받았습니다.");
    expect(await aheadOf(back)).toBeGreaterThan(0);
    expectCleanAddresses(back, [phoneE]);
    await shot(back, "16-e-joined-again");
  });
  it("a network error while waiting shows a calm notice and keeps the place", async () => {
    await syntheticJoins(5);
    const page = await citizen();
    await openAndSignIn(page, newPhone());
    const ticketLine = await textOf(page, "#wait-queue");
    const before = await aheadOf(page);

    // The connection drops: every status poll fails.
    const failing = (url: URL) => url.pathname === "/api/queue/status";
    await page.route(failing, (route) => route.abort("internetdisconnected"));
    await visible(page, "#notice");
    // Unstable at the first failed poll, lost from the second.
    expect(await textOf(page, "#notice")).toMatch(/^(연결이 불안정합니다|대기열 서버와 연결이 끊겼습니다)\. 순서는 유지됩니다\. 다시 연결하는 중…$/);
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
