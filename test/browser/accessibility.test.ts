/**
 * Accessibility, tested rather than assumed, in a real browser against the stack as `npm start` runs it.
 * axe (the engine behind most accessibility audits) checks every screen of the citizen's journey in
 * Korean and in English against the WCAG 2.0, 2.1 and 2.2 level A and AA rules, and must find nothing;
 * then a citizen signs in (axe checks the provider's pages on the way), waits, chooses a slot and books
 * with the keyboard alone, and the focus is always visible and goes where the next step is.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding, NOT_OPEN_YET } from "../../scripts/cohorts.js";
import { joinResponse, queueStatus } from "../../src/contract/queue.js";
import { violations } from "./support/axe.js";
import { idTokens, newPhone, smsCode } from "./support/identity.js";
import { citizenContext, launchBrowser, shot, sleep, startStack, stopAll, type Stack } from "./support/stack.js";

/** Short, so a turn left unclaimed lapses within the test; a page that is open claims its turn at once. */
const CLAIM_WINDOW_SECONDS = 12;
/** Short, so the lapsing citizen can stay away past it within the test. */
const RETURN_WINDOW_SECONDS = 15;
/**
 * One shard, one admission every two seconds: a line a test can see itself wait in. A cohort that opens
 * in 2099, for the "not open yet" screen. The rest (the cap on active passes, their lifetime) is
 * wrangler.toml's, far from anything these tests reach.
 */
const bindings = {
  SHARDS: "1",
  ADMIT_PER_MINUTE: "30",
  CLAIM_WINDOW_SECONDS: String(CLAIM_WINDOW_SECONDS),
  RETURN_WINDOW_SECONDS: String(RETURN_WINDOW_SECONDS),
  COHORTS: cohortsBinding(["55-59", "50-52"], { "50-52": NOT_OPEN_YET }),
};
const OPEN_COHORT_BIRTH = "1963-05-01";
const VIEW_TIMEOUT = 30_000;
const TURN_TIMEOUT = 90_000;

let stack: Stack;
let browser: Browser;
/** What each citizen's browser tried to reach off the machine (citizenContext aborts and lists it). */
const offsite: string[][] = [];

beforeAll(async () => {
  stack = await startStack(bindings);
  browser = await launchBrowser();
});

afterAll(async () => {
  await stopAll(browser, stack);
  expect(offsite.flat()).toEqual([]);
});

async function citizen(): Promise<Page> {
  const c = await citizenContext(browser, stack);
  offsite.push(c.offsite);
  return c.context.newPage();
}

const visible = (page: Page, selector: string, timeout = VIEW_TIMEOUT) => page.locator(selector).waitFor({ state: "visible", timeout });

/** Checks the screen in the page's current language, then in the other, and switches back. */
async function expectAccessibleInBothLanguages(page: Page, screen: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const lang = await page.locator("html").getAttribute("lang");
    expect(await violations(page), `${screen} (${lang})`).toEqual([]);
    await page.locator("#lang").click();
    expect(await page.locator("html").getAttribute("lang"), "the language switched").not.toBe(lang);
  }
}

/** The focused element, and whether a sighted keyboard user can see it is focused. */
async function focused(page: Page): Promise<{ id: string; tag: string; ringVisible: boolean }> {
  const active = page.locator("*:focus");
  if ((await active.count()) === 0) return { id: "", tag: "body", ringVisible: false };
  return active.evaluate((el) => {
    const view = el.ownerDocument.defaultView!;
    // A slot's radio button is transparent over its drawn box: the box is what shows the focus.
    const drawn = el.tagName === "INPUT" && el.getAttribute("type") === "radio" && el.nextElementSibling ? el.nextElementSibling : el;
    const style = view.getComputedStyle(drawn);
    const rect = drawn.getBoundingClientRect();
    const onScreen = rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0 && rect.left < view.innerWidth;
    const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    return { id: el.id, tag: el.tagName.toLowerCase(), ringVisible: el.matches(":focus-visible") && ring && onScreen };
  });
}

/** Presses Tab until the element with this id has the focus, visibly (at most `limit` presses). */
async function tabTo(page: Page, id: string, limit = 15): Promise<void> {
  const passed: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    passed.push(now.id || now.tag);
    if (now.id === id) {
      expect(now.ringVisible, `focus on #${id} is visible`).toBe(true);
      return;
    }
  }
  throw new Error(`#${id} was not reached with ${limit} presses of Tab; focus went through ${passed.join(", ")}`);
}

/** People who join through the app API and never claim their turn; returns their tickets. */
async function lineAhead(count: number): Promise<string[]> {
  const tokens = await idTokens(stack, Array.from({ length: count }, () => ({ phoneNumber: newPhone(), birthdate: "1964-02-02" })));
  const tickets: string[] = [];
  for (const idToken of tokens) {
    const res = await fetch(`${stack.base}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    expect(res.status).toBe(200);
    tickets.push(joinResponse.parse(await res.json()).ticket);
  }
  return tickets;
}

/** Joins the open cohort from this page, as an app joins, so the ticket cookie lands in its browser. */
async function joinFrom(page: Page): Promise<void> {
  const [idToken] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate: OPEN_COHORT_BIRTH }]);
  const status = await page.evaluate(async (idToken) => {
    const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    return res.status;
  }, idToken!);
  expect(status).toBe(200);
}

describe("accessibility of the citizen's page", () => {
  it("every screen of the journey, in Korean and in English, has no WCAG A or AA violation axe can find", async () => {
    const page = await citizen();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");
    // The schedule of openings is folded away at first; its contents are checked open too.
    await page.locator("details.schedule summary").click();
    await expectAccessibleInBothLanguages(page, "sign-in step");

    // The ways a sign-in comes back without a place, as the edge sends them.
    for (const query of ["signin=cancelled", "signin=not_eligible", "signin=rate_limited", "signin=unavailable", "signin=cohort_not_open&cohort=50-52", "signin=place_given_up&cohort=55-59"]) {
      await page.goto(`${stack.base}/?${query}`);
      await page.locator("#signin-note:visible, #signin-error:visible").waitFor({ state: "visible", timeout: VIEW_TIMEOUT });
      await expectAccessibleInBothLanguages(page, `sign-in returned with ?${query}`);
    }
    await shot(page, "a11y-01-sign-in-error");

    // Waiting.
    await lineAhead(8);
    await joinFrom(page);
    // Someone right behind, who closes the tab and lets the turn lapse (for the expired screen below),
    // and someone behind them whose admission says the lapsing turn has come.
    const lapsing = await citizen();
    await lapsing.goto(`${stack.base}/`);
    await visible(lapsing, "#view-signin");
    await joinFrom(lapsing);
    await lapsing.close();
    const [behind] = await lineAhead(1);
    await page.reload();
    await visible(page, "#view-wait");
    await expectAccessibleInBothLanguages(page, "waiting");
    await shot(page, "a11y-02-waiting");

    // Giving a place up: the confirmation, then the screen that follows (a citizen at the back, whom nobody waits for).
    const leaver = await citizen();
    await leaver.goto(`${stack.base}/`);
    await visible(leaver, "#view-signin");
    await joinFrom(leaver);
    await leaver.reload();
    await visible(leaver, "#view-wait");
    await leaver.locator("#leave-btn").click();
    await visible(leaver, "#leave-confirm");
    await expectAccessibleInBothLanguages(leaver, "confirming leaving the line");
    await leaver.locator("#leave-yes").click();
    await visible(leaver, "#view-left");
    await expectAccessibleInBothLanguages(leaver, "left the line");
    await leaver.close();

    // A connection that drops while waiting: the notice over the waiting view.
    const failing = (url: URL) => url.pathname === "/api/queue/status";
    await page.route(failing, (route) => route.abort("internetdisconnected"));
    await visible(page, "#notice");
    await expectAccessibleInBothLanguages(page, "waiting, connection lost");
    await page.unroute(failing);
    await page.evaluate("window.dispatchEvent(new Event('online'))");

    // Admitted: the choice of region and day, then the times found.
    await visible(page, "#view-book", TURN_TIMEOUT);
    await expectAccessibleInBothLanguages(page, "admitted");
    await page.locator("#date").selectOption({ index: 1 });
    await page.locator("#slot-form button[type=submit]").click();
    await visible(page, "#book-form");
    await page.locator("#slot-list label.time:has(input:not([disabled]))").first().click();
    await expectAccessibleInBothLanguages(page, "slot choice");
    await shot(page, "a11y-03-slot-choice");

    // Booked, then the change and cancel screens a booked citizen can reach while the pass lives.
    await page.locator("#book-btn").click();
    await visible(page, "#view-done");
    await expectAccessibleInBothLanguages(page, "booked");
    await shot(page, "a11y-04-booked");
    await page.locator("#change-btn").click();
    await visible(page, "#keep-btn");
    await page.locator("#slot-form button[type=submit]").click();
    await visible(page, "#book-form");
    await expectAccessibleInBothLanguages(page, "changing the booking");
    await page.locator("#keep-btn").click();
    await visible(page, "#view-done");
    await page.locator("#cancel-btn").click();
    await visible(page, "#cancel-confirm");
    await expectAccessibleInBothLanguages(page, "confirming a cancellation");

    // The turn that lapsed unclaimed: the expired screen.
    for (let deadline = Date.now() + TURN_TIMEOUT; ; await sleep(1_000)) {
      const res = await fetch(`${stack.base}/api/queue/status`, { headers: { authorization: `Bearer ${behind}` } });
      // Admitted, or already lapsed itself: either way the line has passed the citizen ahead of it.
      if (["admitted", "expired"].includes(queueStatus.parse(await res.json()).state)) break;
      if (Date.now() > deadline) throw new Error("the line did not reach the citizen behind the lapsing one");
    }
    await sleep((CLAIM_WINDOW_SECONDS + RETURN_WINDOW_SECONDS + 3) * 1000);
    const back = await lapsing.context().newPage();
    await back.goto(`${stack.base}/`);
    await visible(back, "#view-expired");
    await expectAccessibleInBothLanguages(back, "expired");
    await shot(back, "a11y-05-expired");
  });

  it("a citizen signs in, waits, chooses a slot and books with the keyboard alone, always seeing where the focus is", async () => {
    await lineAhead(4);
    const page = await citizen();
    const phone = newPhone();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");

    // First the way past the header (shown once focused), then the language, then the one action of the view.
    await page.keyboard.press("Tab");
    expect(await focused(page)).toMatchObject({ tag: "a", id: "", ringVisible: true });
    expect(await page.locator("*:focus").getAttribute("href")).toBe("#main");
    await tabTo(page, "lang", 1);
    await tabTo(page, "signin", 1);
    await Promise.all([page.waitForURL((url) => url.origin === stack.idp, { timeout: VIEW_TIMEOUT }), page.keyboard.press("Enter")]);

    // The provider's pages (the development provider's, standing in for the national one): axe finds
    // nothing on them either; their fields come in order, and each form is sent with Enter.
    expect(await violations(page), "the provider's phone and birth date page").toEqual([]);
    await tabTo(page, "phone");
    await page.keyboard.type(phone.replace(/^\+82/, "0"));
    await tabTo(page, "birthdate", 1);
    await page.keyboard.type(OPEN_COHORT_BIRTH);
    const since = stack.output().length;
    await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
    await visible(page, "#code");
    const code = await smsCode(stack, phone, since);
    expect(await violations(page), "the provider's code page").toEqual([]);
    if ((await focused(page)).id !== "code") await tabTo(page, "code");
    await page.keyboard.type(code);
    await Promise.all([page.waitForURL((url) => url.origin === stack.base, { timeout: VIEW_TIMEOUT }), page.keyboard.press("Enter")]);
    await visible(page, "#view-wait");
    await shot(page, "a11y-06-keyboard-waiting");

    // The turn comes: focus moves to the new view's heading, so the next Tab goes on from there.
    await visible(page, "#view-book", TURN_TIMEOUT);
    await expect.poll(async () => (await focused(page)).id).toBe("book-title");
    await tabTo(page, "region", 1);
    await tabTo(page, "date", 1);
    const today = await page.locator("#date").inputValue();
    // Arrow keys change a closed select's choice without opening it.
    await page.keyboard.press("ArrowDown");
    expect(await page.locator("#date").inputValue(), "ArrowDown chose the next day").not.toBe(today);
    await page.keyboard.press("Tab");
    expect(await focused(page)).toMatchObject({ tag: "button", ringVisible: true });
    await page.keyboard.press("Enter");
    await visible(page, "#book-form");

    // The times are one radio group: Tab enters it, arrows move the choice, Space takes it.
    await page.keyboard.press("Tab");
    const first = await focused(page);
    expect(first, "Tab goes from the search to the first time with seats").toMatchObject({ tag: "input", ringVisible: true });
    await page.keyboard.press("Space");
    const checked = () => page.locator("#slot-list input:checked").getAttribute("value");
    const firstChoice = await checked();
    expect(firstChoice).not.toBeNull();
    await page.keyboard.press("ArrowRight");
    expect(await focused(page)).toMatchObject({ tag: "input", ringVisible: true });
    expect(await checked(), "the arrow moved the choice to the next time").not.toBe(firstChoice);
    await page.keyboard.press("ArrowLeft");
    expect(await checked(), "and back").toBe(firstChoice);
    await shot(page, "a11y-07-keyboard-slot-choice");
    await tabTo(page, "book-btn", 1);
    await page.keyboard.press("Enter");

    // Booked: focus lands on the confirmation's heading, and the booking is the origin's.
    await visible(page, "#view-done");
    await expect.poll(async () => (await focused(page)).id).toBe("done-title");
    const bookingId = ((await page.locator("#booking-id").textContent()) ?? "").trim();
    expect(bookingId).toMatch(/^[0-9a-f-]{36}$/);
    const mine = await page.evaluate(async () => ((await (await fetch("/api/bookings/me")).json()) as { booking?: { id: string; slot: { id: number } } }).booking);
    expect(mine?.id).toBe(bookingId);
    expect(String(mine?.slot.id)).toBe(firstChoice);
    await shot(page, "a11y-08-keyboard-booked");
  });
});
