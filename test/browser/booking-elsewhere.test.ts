import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { violations } from "./support/axe.js";
import { idTokens, newPhone, smsCode } from "./support/identity.js";
import { citizenContext, launchBrowser, shot, sleep, startStack, stopAll, type Stack } from "./support/stack.js";

/**
 * A booking is never shown as made here when it was made elsewhere, and a booking can always be changed
 * or cancelled: a second tab of one browser, still on the slot choice, is told that the booking it finds
 * was made in another tab and that its own pick was not booked, and may keep it or move it there; a
 * citizen whose pass has expired signs in again at the provider, without joining the line, and changes
 * and cancels the booking with booking access. In Korean and in English, at a phone's width and a
 * desktop's, with axe finding nothing on the new screens. Passes are short here, so they expire within
 * the test.
 */
const PASS_TTL_SECONDS = 45;
const VIEW_TIMEOUT = 30_000;
const BIRTHDATE = "1963-04-05";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack({
    SHARDS: "1",
    ADMIT_PER_MINUTE: "60",
    MAX_ACTIVE: "10",
    PASS_TTL_SECONDS: String(PASS_TTL_SECONDS),
    COHORTS: cohortsBinding(["55-59"]),
  });
  browser = await launchBrowser();
});

afterAll(() => stopAll(browser, stack));

type Lang = "ko" | "en";
const WORDS = {
  ko: { date: "날짜", find: "예약 가능한 시간 보기", book: "선택한 시간으로 예약하기", change: "다른 시간으로 변경", changeSubmit: "선택한 시간으로 변경하기", cancel: "예약 취소", cancelYes: "예, 취소합니다" },
  en: { date: "Date", find: "Show available times", book: "Book the selected time", change: "Change slot", changeSubmit: "Move to the selected time", cancel: "Cancel booking", cancelYes: "Yes, cancel it" },
} as const;

const visible = (page: Page, selector: string) => page.locator(selector).waitFor({ state: "visible", timeout: VIEW_TIMEOUT });
const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").replace(/\s+/g, " ").trim();

/** Screenshots at a phone's width and a desktop's, and axe at both. */
async function record(page: Page, name: string): Promise<void> {
  await shot(page, `${name}-360`);
  expect(await violations(page)).toEqual([]);
  await page.setViewportSize({ width: 1280, height: 800 });
  await shot(page, `${name}-1280`);
  expect(await violations(page)).toEqual([]);
  await page.setViewportSize({ width: 360, height: 740 });
}

/** What the booking API says about the citizen's booking, asked from the page with its cookies. */
async function myBooking(page: Page): Promise<{ status: number; slotId?: number; state?: string }> {
  return page.evaluate(async () => {
    const res = await fetch("/api/bookings/me", { headers: { accept: "application/json" } });
    const body = (await res.json()) as { booking?: { slot: { id: number }; status: string } };
    return { status: res.status, slotId: body.booking?.slot.id, state: body.booking?.status };
  });
}

/** A citizen's browser in `lang`, joined as an app joins (so the cookies land in it), on the slot choice. */
async function admittedCitizen(lang: Lang): Promise<{ context: BrowserContext; page: Page; phone: string }> {
  const { context } = await citizenContext(browser, stack);
  const page = await context.newPage();
  await page.goto(`${stack.base}/`);
  await visible(page, "#view-signin");
  if (lang === "en") await page.locator("#lang").click();
  const phone = newPhone();
  const [idToken] = await idTokens(stack, [{ phoneNumber: phone, birthdate: BIRTHDATE }]);
  const joined = await page.evaluate(async (idToken) => {
    const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    return res.status;
  }, idToken!);
  expect(joined).toBe(200);
  await page.reload();
  await visible(page, "#view-book");
  return { context, page, phone };
}

/** Lists a day's slots on the slot choice and picks the `nth` free one; returns its id. */
async function pickSlot(page: Page, lang: Lang, nth: number): Promise<number> {
  await page.getByLabel(WORDS[lang].date, { exact: true }).selectOption({ index: 1 });
  await page.getByRole("button", { name: WORDS[lang].find }).click();
  await visible(page, "#book-form");
  await page.locator("#slot-list label.time:has(input:not([disabled]))").nth(nth).click();
  return Number(await page.locator("#slot-list input:checked").inputValue());
}

describe("a booking made in another tab", () => {
  it.each(["ko", "en"] as const)("is shown as made elsewhere, with the pick here not booked, and can be kept or moved (%s)", async (lang) => {
    const { context, page: first } = await admittedCitizen(lang);
    const second = await context.newPage();
    await second.goto(`${stack.base}/`);
    await visible(second, "#view-book");

    // Both tabs on the slot choice; the first books one time, the second then picks another.
    const booked = await pickSlot(first, lang, 0);
    const picked = await pickSlot(second, lang, 1);
    expect(picked).not.toBe(booked);
    await first.getByRole("button", { name: WORDS[lang].book }).click();
    await visible(first, "#view-done");
    const bookedTime = await text(first, "#done-time");
    await second.getByRole("button", { name: WORDS[lang].book }).click();
    await visible(second, "#view-done");

    // The second tab says what was and was not done, never that its own pick is confirmed.
    const title = await text(second, "#done-title");
    const said = await text(second, "#elsewhere-text");
    if (lang === "ko") {
      expect(title).toBe("이미 예약이 있습니다");
      expect(said).toMatch(/^다른 탭이나 기기에서 이미 예약하셨습니다: .+\. 이 화면에서 고르신 .+은\(는\) 예약되지 않았습니다\.$/);
    } else {
      expect(title).toBe("You already have a booking");
      expect(said).toMatch(/^You already have a booking, made in another tab or device: .+\. .+ was not booked\.$/);
    }
    expect(said).toContain(bookedTime);
    expect(await second.locator("#done-actions").isVisible()).toBe(false);
    expect(await myBooking(second)).toMatchObject({ status: 200, slotId: booked });
    await record(second, `40-booked-elsewhere-${lang}`);

    // Keeping it shows the booking as it is; the second tab can still choose to move it to its pick.
    if (lang === "ko") {
      await second.getByRole("button", { name: "이 예약 유지하기" }).click();
      expect(await second.locator("#elsewhere").isVisible()).toBe(false);
      expect(await second.locator("#done-actions").isVisible()).toBe(true);
      expect(await myBooking(second)).toMatchObject({ status: 200, slotId: booked });
    } else {
      await second.getByRole("button", { name: /^Change to / }).click();
      await visible(second, "#view-done");
      expect(await text(second, "#done-note")).toBe("Your booking has been moved.");
      expect(await myBooking(second)).toMatchObject({ status: 200, slotId: picked });
    }
    await context.close();
  });
});

/**
 * Signs in at the development provider's pages, as a person does, from the link `selector`; returns once
 * the browser is back on the page.
 */
async function signInAtProvider(page: Page, selector: string, phone: string): Promise<void> {
  await Promise.all([page.waitForEvent("load", { timeout: VIEW_TIMEOUT }), page.locator(selector).click()]);
  if (new URL(page.url()).origin !== stack.idp) return;
  const since = stack.output().length;
  await page.getByLabel(/휴대전화 번호|Mobile phone number/).fill(phone.replace(/^\+82(\d{2})(\d{3,4})(\d{4})$/, "0$1-$2-$3"));
  await page.getByLabel(/생년월일|Date of birth/).fill(BIRTHDATE);
  await page.getByRole("button", { name: /인증번호 받기|Send me a code/ }).click();
  const code = await smsCode(stack, phone, since);
  await page.getByLabel(/인증번호 6자리|6-digit code/).fill(code);
  await page.getByRole("button", { name: /확인|Verify/ }).click();
  await page.waitForURL((url) => url.origin === stack.base, { timeout: VIEW_TIMEOUT });
}

describe("a booking after the pass has expired", () => {
  it("is changed and cancelled after signing in again, without joining the line (ko and en)", async () => {
    const citizens = await Promise.all((["ko", "en"] as const).map(async (lang) => ({ lang, ...(await admittedCitizen(lang)) })));
    const booked = new Map<Lang, number>();
    for (const { lang, page } of citizens) {
      booked.set(lang, await pickSlot(page, lang, 0));
      await page.getByRole("button", { name: WORDS[lang].book }).click();
      await visible(page, "#view-done");
    }
    await sleep((PASS_TTL_SECONDS + 2) * 1000);

    for (const { lang, page, phone, context } of citizens) {
      const statusBefore = await page.evaluate(async () => (await fetch("/api/queue/status")).json());
      await page.reload();
      await visible(page, "#access-offer");
      expect(await page.locator("#done-actions").isVisible()).toBe(false);
      expect(await text(page, "#access-signin")).toBe(lang === "ko" ? "본인 인증하고 변경·취소하기" : "Sign in to change or cancel");
      await record(page, `41-booking-kept-offer-${lang}`);

      await signInAtProvider(page, "#access-signin", phone);
      await visible(page, "#done-actions");
      expect(await text(page, "#done-note")).toContain(lang === "ko" ? "본인 인증이 되었습니다" : "You are signed in");
      expect(await page.locator("#access-offer").isVisible()).toBe(false);
      await record(page, `42-booking-access-${lang}`);
      // No place was taken: the ticket is as it was (same place, still past its pass).
      const statusAfter = await page.evaluate(async () => (await fetch("/api/queue/status")).json());
      expect(statusAfter).toMatchObject({ seq: (statusBefore as { seq: number }).seq, state: (statusBefore as { state: string }).state });

      // Change, through the usual change screen.
      await page.getByRole("button", { name: WORDS[lang].change }).click();
      await visible(page, "#view-book");
      // The day is chosen, as a citizen would, not left to the picker: until the region's free days
      // arrive it stands on today, whose slots have all passed after 18:00 in Seoul, and a search made
      // then finds none (and the slot list stays hidden).
      const moved = await pickSlot(page, lang, 0);
      expect(moved).not.toBe(booked.get(lang));
      await page.getByRole("button", { name: WORDS[lang].changeSubmit }).click();
      await visible(page, "#view-done");
      expect(await myBooking(page)).toMatchObject({ status: 200, slotId: moved });

      // Booking access books nothing new.
      const refused = await page.evaluate(async (slotId) => {
        const res = await fetch("/api/bookings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ slotId }) });
        return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
      }, moved);
      expect(refused).toEqual({ status: 403, code: "insufficient_scope" });

      // Cancel: nothing is left to reach, and the page shows the way back into the line.
      await page.getByRole("button", { name: WORDS[lang].cancel }).click();
      await page.getByRole("button", { name: WORDS[lang].cancelYes }).click();
      await visible(page, "#view-signin");
      expect(await text(page, "#signin-note")).toBe(lang === "ko" ? "예약이 취소되었습니다. 다시 예약하려면 본인 인증을 하고 줄을 서 주세요." : "Your booking is cancelled. To book again, sign in and join the line.");
      expect(await myBooking(page)).toMatchObject({ status: 404 });
      await record(page, `43-booking-access-cancelled-${lang}`);

      // Signing in this way with no booking says so, and offers the line.
      await Promise.all([page.waitForEvent("load", { timeout: VIEW_TIMEOUT }), page.goto(`${stack.base}/auth/booking-access?lang=${lang}`)]);
      await page.waitForURL((url) => url.origin === stack.base, { timeout: VIEW_TIMEOUT });
      await visible(page, "#view-signin");
      expect(await text(page, "#signin-note")).toBe(
        lang === "ko" ? "변경하거나 취소할 예약이 없습니다. 예약하려면 본인 인증을 하고 줄을 서 주세요." : "You have no booking to change or cancel. To book, sign in and join the line.",
      );
      await context.close();
    }
  }, 360_000);
});
