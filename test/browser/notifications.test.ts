/**
 * Being told when the turn is near and when it comes, in a real browser against the stack as `npm start`
 * runs it. A citizen who pressed "notify me" (notifications granted) and left the tab in the background
 * is shown a system notification, in the page's language, when the turn is about a minute away and when
 * it comes, each once; a citizen who never gave permission still sees the tab's title change; and the
 * page never asks for the permission, nor for the edge's push key, until the button is pressed.
 *
 * The browser's own calls are recorded, not replaced: `Notification.requestPermission`, the
 * `Notification` constructor and `ServiceWorkerRegistration.showNotification` are wrapped before the page
 * loads and go on to the real ones. The tab is put in the background by the page's own signal for it
 * (`document.visibilityState` and a `visibilitychange` event): a headless browser has no other window to
 * cover it with.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { joinAs, joinFromPage } from "./support/app-client.js";
import { citizenContext, launchBrowser, shot, startStack, stopAll, type Stack } from "./support/stack.js";

/** One shard letting one in every two seconds: a turn that comes within the test, near (under a minute) from the start. */
const bindings = {
  SHARDS: "1",
  ADMIT_PER_MINUTE: "30",
  MAX_ACTIVE: "100",
  COHORTS: cohortsBinding(["55-59"]),
};
const OPEN_BIRTH = "1963-05-01";
const AHEAD = 12;
const VIEW_TIMEOUT = 30_000;
const TURN_TIMEOUT = 90_000;

const WORDS = {
  ko: {
    near: "약 1분 뒤 차례입니다",
    turn: "차례가 되었습니다",
    turnBody: "예약 화면을 열어 정해진 시간 안에 접종 날짜와 시간을 골라 주세요.",
    alertTurn: "(차례입니다!) ",
    onTab: "알림이 켜져 있습니다. 이 창을 열어 두세요 (다른 창을 보고 있어도 됩니다).",
    offBtn: "알림 끄기",
    blocked: "이 브라우저 설정에서 이 사이트의 알림이 차단되어 있습니다. 알림 없이도 차례가 가까워지면 이 창의 제목이 바뀝니다.",
    bookTitle: "접종 예약 · 코로나19 예방접종 사전예약",
  },
  en: {
    near: "Your turn is about a minute away",
    turn: "It is your turn",
    turnBody: "Open the booking page and choose a date and time for your vaccination before your time runs out.",
    alertTurn: "(Your turn!) ",
    onTab: "Notifications are on. Keep this tab open (it may be in the background).",
    offBtn: "Turn off notifications",
    onBtn: "Notify me when it is my turn",
    offer: "Get a notification when your turn is about a minute away and when it comes. Your browser asks whether to allow notifications when you press the button.",
    blocked: "Notifications for this site are blocked in your browser's settings. Without them, the tab's title still changes when your turn is near.",
    bookTitle: "Book your vaccination · COVID-19 vaccine booking",
  },
} as const;
type Lang = keyof typeof WORDS;

/** What the page asked of the browser's notifications, recorded in the page before its scripts run. */
const RECORDER = `
  window.__asked = 0;
  window.__shown = [];
  if ("Notification" in window) {
    const Native = window.Notification;
    window.Notification = class extends Native {
      constructor(title, options) {
        super(title, options);
        window.__shown.push({ via: "page", title, body: options?.body ?? "", tag: options?.tag ?? "" });
      }
    };
    window.Notification.requestPermission = (...args) => {
      window.__asked += 1;
      return Native.requestPermission(...args);
    };
    const show = ServiceWorkerRegistration.prototype.showNotification;
    ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
      window.__shown.push({ via: "worker", title, body: options?.body ?? "", tag: options?.tag ?? "" });
      return show.call(this, title, options);
    };
  }
`;

interface Shown {
  via: "page" | "worker";
  title: string;
  body: string;
  tag: string;
}

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startStack(bindings);
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await stopAll(browser, stack);
});

const visible = (page: Page, selector: string, timeout = VIEW_TIMEOUT) => page.locator(selector).waitFor({ state: "visible", timeout });
const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();
const asked = (page: Page) => page.evaluate<number>("window.__asked");
const shown = (page: Page) => page.evaluate<Shown[]>("window.__shown");
/** The service worker's scope, once it is running; null before. */
const workerScope = (page: Page) => page.evaluate<string | null>("navigator.serviceWorker.getRegistration().then((r) => (r?.active ? r.scope : null))");
/** The titles of the notifications the service worker shows now. */
const openNotifications = (page: Page) => page.evaluate<string[]>("navigator.serviceWorker.getRegistration().then((r) => r.getNotifications()).then((all) => all.map((n) => n.title))");

/**
 * A citizen's browser, the page in `lang`, with the recorder; `granted`: notifications allowed for the
 * site (as after the browser's prompt was answered yes). Returns the page and the paths it asked for.
 */
async function citizen(lang: Lang, granted: boolean): Promise<{ page: Page; paths: string[] }> {
  const { context, offsite } = await citizenContext(browser, stack);
  contexts.push(context);
  if (granted) await context.grantPermissions(["notifications"], { origin: stack.base });
  await context.addInitScript({ content: `localStorage.setItem("wr:lang", ${JSON.stringify(lang)});${RECORDER}` });
  const page = await context.newPage();
  const paths: string[] = [];
  page.on("request", (req) => paths.push(new URL(req.url()).pathname));
  await page.goto(`${stack.base}/`);
  await visible(page, "#view-signin");
  expect(offsite).toEqual([]);
  return { page, paths };
}

/**
 * Skips a test that needs notifications shown when this Chromium answers "denied" even to a site it was
 * told to allow: the headless shell npm installs (`BROWSER=bundled`, or a machine without Debian's
 * `chromium`) does, so there these tests say they were skipped rather than pass or fail on nothing.
 */
async function skipUnlessGranted(page: Page, skip: (note: string) => never): Promise<void> {
  const permission = await page.evaluate<string>("Notification.permission");
  if (permission !== "granted") skip(`this Chromium answers "${permission}" to a site it was told to allow; Debian's chromium shows notifications`);
}

/** Joins from the page; the page then shows the wait. */
async function joinAndWait(page: Page): Promise<void> {
  await joinFromPage(stack, page, OPEN_BIRTH);
  await page.reload();
  await visible(page, "#view-wait");
}

/** People who join through the app API and never come to a page: the line the citizen waits behind. */
async function lineAhead(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await joinAs(stack, "1964-02-02");
}

/** Puts the tab in the background (or brings it back) as the page sees it. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate(`(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => ${JSON.stringify(hidden ? "hidden" : "visible")} });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => ${hidden} });
    document.dispatchEvent(new Event("visibilitychange"));
  })()`);
}

describe("told when the turn is near and when it comes", () => {
  it("the page asks for the permission, and for the edge's push key, only when “notify me” is pressed", async ({ skip }) => {
    await lineAhead(AHEAD);
    const { page, paths } = await citizen("en", true);
    await skipUnlessGranted(page, skip);
    // Granted already, so a page that asked on load would be answered at once, without a prompt: it must not ask.
    expect(await asked(page)).toBe(0);
    await joinAndWait(page);
    await page.waitForLoadState("networkidle");
    expect(await asked(page)).toBe(0);
    expect(paths).not.toContain("/api/push/key");
    expect(await workerScope(page)).toBeNull();
    await page.locator("#notify-btn").click();
    await expect.poll(() => textOf(page, "#notify-text"), { timeout: VIEW_TIMEOUT }).toBe(WORDS.en.onTab);
    expect(await asked(page)).toBe(1);
    expect(paths.filter((path) => path === "/api/push/key")).toHaveLength(1);
    // Turned off: the choice is forgotten on this device, and a reload offers the button again.
    await page.locator("#notify-btn").click();
    await expect.poll(() => textOf(page, "#notify-btn")).toBe(WORDS.en.onBtn);
    await page.reload();
    await visible(page, "#view-wait");
    expect(await textOf(page, "#notify-btn")).toBe(WORDS.en.onBtn);
    expect(await asked(page)).toBe(0);
  });

  it("a push is shown by the service worker, one per state, and reported to the edge as received", async ({ skip }) => {
    const { page } = await citizen("ko", true);
    await skipUnlessGranted(page, skip);
    const received: Array<{ method: string; body: string }> = [];
    page.context().on("request", (req) => {
      if (new URL(req.url()).pathname === "/api/queue/push-received") received.push({ method: req.method(), body: req.postData() ?? "" });
    });
    await page.evaluate("navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready)");
    const cdp = await page.context().newCDPSession(page);
    const registrationId = new Promise<string>((resolve) =>
      cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
        const found = registrations.find((r) => r.scopeURL === `${stack.base}/` && !r.isDeleted);
        if (found) resolve(found.registrationId);
      }),
    );
    await cdp.send("ServiceWorker.enable");
    // The worker reports a push once its notice is shown; the test reads the notices only then, since
    // Chromium's getNotifications, asked while a notice is being shown, can drop the one not yet on screen.
    const push = async (payload: unknown, count: number) => {
      await cdp.send("ServiceWorker.deliverPushMessage", { origin: stack.base, registrationId: await registrationId, data: JSON.stringify(payload) });
      await expect.poll(() => received.length, { timeout: VIEW_TIMEOUT }).toBe(count);
    };
    const message = { cohort: "55-59", url: "/", body: "예약 대기실 화면으로 돌아와 주세요." };
    await push({ ...message, state: "near", title: "약 1분 뒤 차례입니다" }, 1);
    await expect.poll(() => openNotifications(page), { timeout: VIEW_TIMEOUT }).toEqual(["약 1분 뒤 차례입니다"]);
    // The same state again replaces it; the turn having come takes the near one away.
    await push({ ...message, state: "near", title: "약 1분 뒤 차례입니다 (2)" }, 2);
    await expect.poll(() => openNotifications(page), { timeout: VIEW_TIMEOUT }).toEqual(["약 1분 뒤 차례입니다 (2)"]);
    await push({ ...message, state: "admitted", title: "차례가 되었습니다" }, 3);
    await expect.poll(() => openNotifications(page), { timeout: VIEW_TIMEOUT }).toEqual(["차례가 되었습니다"]);
    expect(received).toEqual([
      { method: "POST", body: '{"kind":"near"}' },
      { method: "POST", body: '{"kind":"near"}' },
      { method: "POST", body: '{"kind":"admitted"}' },
    ]);
  });

  it("a citizen who pressed “notify me” and left the tab in the background gets a notification in Korean when the turn is near and when it comes, each once", async ({ skip }) => {
    await lineAhead(AHEAD);
    const { page, paths } = await citizen("ko", true);
    await skipUnlessGranted(page, skip);
    await joinAndWait(page);
    // Nothing asked of the browser, or of the edge's push, before the button is pressed.
    expect(await asked(page)).toBe(0);
    expect(paths).not.toContain("/api/push/key");

    await page.locator("#notify-btn").click();
    // The edge of this branch offers no push (404): the page notifies from the tab and says to keep it open.
    await expect.poll(() => textOf(page, "#notify-text"), { timeout: VIEW_TIMEOUT }).toBe(WORDS.ko.onTab);
    expect(await asked(page)).toBe(1);
    expect(paths).toContain("/api/push/key");
    expect(await textOf(page, "#notify-btn")).toBe(WORDS.ko.offBtn);
    // The service worker is registered at the root and running.
    await expect.poll(() => workerScope(page)).toBe(`${stack.base}/`);

    // Remembered on this device: a reload shows notifications on, asking the browser and the edge nothing.
    paths.length = 0;
    await page.reload();
    await visible(page, "#view-wait");
    expect(await textOf(page, "#notify-btn")).toBe(WORDS.ko.offBtn);
    expect(await textOf(page, "#notify-text")).toBe(WORDS.ko.onTab);
    expect(await asked(page)).toBe(0);
    expect(paths).not.toContain("/api/push/key");
    await shot(page, "notify-01-on");

    await setHidden(page, true);
    await visible(page, "#view-book", TURN_TIMEOUT);
    await expect.poll(async () => (await shown(page)).some((n) => n.tag === "wr-admitted"), { timeout: VIEW_TIMEOUT }).toBe(true);
    const notes = await shown(page);
    expect(notes.filter((n) => n.tag === "wr-near")).toEqual([{ via: "worker", title: WORDS.ko.near, body: expect.any(String), tag: "wr-near" }]);
    expect(notes.filter((n) => n.tag === "wr-admitted")).toEqual([{ via: "worker", title: WORDS.ko.turn, body: WORDS.ko.turnBody, tag: "wr-admitted" }]);
    // The service worker really shows it (the near one it replaced is gone).
    expect(await openNotifications(page)).toEqual([WORDS.ko.turn]);
    expect(await page.title()).toBe(`${WORDS.ko.alertTurn}${WORDS.ko.bookTitle}`);

    // Back to the tab: the title is the page's own again, and the notification has been read.
    await setHidden(page, false);
    await expect.poll(() => page.title()).toBe(WORDS.ko.bookTitle);
    await expect.poll(() => openNotifications(page)).toEqual([]);
  });

  it("without permission the tab's title still says the turn has come (English), and no notification is shown", async () => {
    await lineAhead(AHEAD);
    const { page, paths } = await citizen("en", false);
    await joinAndWait(page);
    // Never granted: denied (as this headless browser answers a site it was told nothing about) or not yet
    // asked; the page says which without asking.
    const permission = await page.evaluate<string>("Notification.permission");
    expect(["denied", "default"]).toContain(permission);
    expect(await page.locator("#notify-btn").isVisible()).toBe(permission === "default");
    expect(await textOf(page, "#notify-text")).toBe(permission === "denied" ? WORDS.en.blocked : WORDS.en.offer);
    await setHidden(page, true);
    await visible(page, "#view-book", TURN_TIMEOUT);
    await expect.poll(() => page.title(), { timeout: VIEW_TIMEOUT }).toBe(`${WORDS.en.alertTurn}${WORDS.en.bookTitle}`);
    expect(await shown(page)).toEqual([]);
    expect(await asked(page)).toBe(0);
    expect(paths).not.toContain("/api/push/key");
    await setHidden(page, false);
    await expect.poll(() => page.title()).toBe(WORDS.en.bookTitle);
  });
});
