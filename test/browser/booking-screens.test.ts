import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { BOOKING_CODE_ALPHABET, booking as bookingSchema, slotDatesResponse, slotsResponse, type Booking } from "../../src/contract/booking.js";
import { idTokens, newPhone } from "./support/identity.js";
import { one, parseIcs, unescapeText, utcDateTime } from "./support/ics.js";
import { citizenContext, launchBrowser, shot, startStack, stopAll, type Stack } from "./support/stack.js";

/**
 * The booking screens as a citizen sees them, in Korean and in English, in a real browser against the
 * stack as `npm start` runs it: a first visit that asks nothing bound to fail, a date picker that starts on
 * a day with free seats, a short booking code to read out beside the id, an .ics file for the calendar,
 * times that say they are Korea time, and a heading that names each screen. Every screen is written at
 * 360 px and 1280 px into test-results/browser.
 */
let stack: Stack;
let browser: Browser;
const VIEW_TIMEOUT = 30_000;
const CODE = new RegExp(`^[${BOOKING_CODE_ALPHABET}]{8}$`);
const REGION = "11";

const WORDS = {
  ko: { titleWait: "예약 대기실", titleBook: "접종 예약", titleChange: "예약 변경", titleDone: "내 예약", koreaTime: "(한국 시간)", summary: "코로나19 예방접종" },
  en: { titleWait: "Waiting room", titleBook: "Book your vaccination", titleChange: "Change your booking", titleDone: "Your booking", koreaTime: "(Korea time)", summary: "COVID-19 vaccination" },
} as const;
type Lang = keyof typeof WORDS;

beforeAll(async () => {
  stack = await startStack({
    SHARDS: "1",
    ADMIT_PER_MINUTE: "60",
    MAX_ACTIVE: "10",
    PASS_TTL_SECONDS: "900",
    COHORTS: cohortsBinding(["55-59"]),
  });
  browser = await launchBrowser();
});

afterAll(() => stopAll(browser, stack));

/** Everything the page logged as an error, any script error, and every answer of 400 or more it got. */
function watch(page: Page): { errors: string[]; failed: string[]; statusAsked: () => number } {
  const errors: string[] = [];
  const failed: string[] = [];
  let statusAsked = 0;
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("request", (req) => new URL(req.url()).pathname === "/api/queue/status" && statusAsked++);
  page.on("response", (res) => res.status() >= 400 && failed.push(`${res.status()} ${new URL(res.url()).pathname}`));
  page.on("requestfailed", (req) => failed.push(`failed ${req.url()}`));
  return { errors, failed, statusAsked: () => statusAsked };
}

const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();
const visible = (page: Page, selector: string) => page.locator(selector).waitFor({ state: "visible", timeout: VIEW_TIMEOUT });

/** A screenshot at the phone's 360 px (the context's) and at a desktop's 1280 px. */
async function shots(page: Page, name: string): Promise<void> {
  await shot(page, `${name}-360`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await shot(page, `${name}-1280`);
  await page.setViewportSize({ width: 360, height: 740 });
}

/** What the edge answers the page's own origin, with its cookies. */
async function fromPage(page: Page, path: string): Promise<{ status: number; body: unknown }> {
  return page.evaluate(async (path) => {
    const res = await fetch(path, { headers: { accept: "application/json" } });
    return { status: res.status, body: await res.json() };
  }, path);
}

/** The Seoul calendar day of an instant. */
const seoulDay = (iso: string) => new Date(Date.parse(iso) + 9 * 3600_000).toISOString().slice(0, 10);

/**
 * A slot's start as the page writes it, read back into its parts: the Korean and English forms, each
 * ending with the words that say the time is Korea's.
 */
function readSlotTime(lang: Lang, text: string): { month: number; day: number; hour: number; minute: number } {
  if (lang === "ko") {
    const m = /^(\d{1,2})월 (\d{1,2})일 \([월화수목금토일]\) (오전|오후) (\d{1,2}):(\d{2}) \(한국 시간\)$/.exec(text);
    if (!m) throw new Error(`not a Korean slot time: ${text}`);
    const hour = (Number(m[4]) % 12) + (m[3] === "오후" ? 12 : 0);
    return { month: Number(m[1]), day: Number(m[2]), hour, minute: Number(m[5]) };
  }
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([A-Z][a-z]{2}) (\d{1,2}), (\d{1,2}):(\d{2})\s(AM|PM) \(Korea time\)$/.exec(text);
  if (!m) throw new Error(`not an English slot time: ${text}`);
  const hour = (Number(m[3]) % 12) + (m[5] === "PM" ? 12 : 0);
  return { month: months.indexOf(m[1]!) + 1, day: Number(m[2]), hour, minute: Number(m[4]) };
}

/** The same parts of an instant, in Korea. */
function seoulParts(iso: string): { month: number; day: number; hour: number; minute: number } {
  const seoul = new Date(Date.parse(iso) + 9 * 3600_000);
  return { month: seoul.getUTCMonth() + 1, day: seoul.getUTCDate(), hour: seoul.getUTCHours(), minute: seoul.getUTCMinutes() };
}

describe("a first visit", () => {
  it.each(["ko", "en"] as const)("asks nothing bound to fail and logs no console error (%s)", async (lang) => {
    const { context, offsite } = await citizenContext(browser, stack);
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");
    if (lang === "en") {
      await page.locator("#lang").click();
      await page.reload();
      await visible(page, "#view-signin");
    }
    await page.waitForLoadState("networkidle");
    expect(await page.locator("html").getAttribute("lang")).toBe(lang);
    expect(await textOf(page, "h1")).toBe(WORDS[lang].titleWait);
    expect(seen.errors).toEqual([]);
    expect(seen.failed).toEqual([]);
    // No ticket was ever given to this browser: there is no status to ask for.
    expect(seen.statusAsked()).toBe(0);
    expect(offsite).toEqual([]);
    await context.close();
  });

  it("a browser told it holds a ticket the edge does not know asks once, shows the sign-in, and then stops asking", async () => {
    const { context } = await citizenContext(browser, stack);
    const page = await context.newPage();
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");
    // The hint without a ticket: a ticket cookie lost or refused, as after the edge's secret changed.
    await context.addCookies([{ name: "wr_ticket_held", value: "1", url: stack.base }]);
    const seen = watch(page);
    await page.reload();
    await visible(page, "#view-signin");
    await page.waitForLoadState("networkidle");
    expect(seen.statusAsked()).toBe(1);
    expect(seen.failed).toEqual(["401 /api/queue/status"]);
    expect((await context.cookies()).map((c) => c.name)).not.toContain("wr_ticket_held");
    await page.reload();
    await visible(page, "#view-signin");
    await page.waitForLoadState("networkidle");
    expect(seen.statusAsked()).toBe(1);
    await context.close();
  });
});

describe("the booking screens", () => {
  it.each(["ko", "en"] as const)("start on a free day, give a short code and an .ics file, in Korea time, under fitting headings (%s)", async (lang) => {
    const words = WORDS[lang];
    const { context, offsite } = await citizenContext(browser, stack);
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${stack.base}/`);
    await visible(page, "#view-signin");
    if (lang === "en") await page.locator("#lang").click();
    // Joined as an app joins, from this browser, so the cookies land here (journey.test.ts signs in through the provider's pages).
    const [idToken] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate: "1962-03-04" }]);
    const joined = await page.evaluate(async (idToken) => {
      const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
      await res.text();
      return res.status;
    }, idToken!);
    expect(joined).toBe(200);
    await page.reload();
    await visible(page, "#view-book");

    // The heading names the screen; the view's own heading has the focus.
    expect(await textOf(page, "h1")).toBe(words.titleBook);
    expect(await page.title()).toContain(words.titleBook);
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("book-title");

    // The date picker starts on the first day the region has a free seat in a slot still to come, as the
    // slot list itself says (asked without a date, it lists what is still to come, earliest first).
    const upcoming = slotsResponse.parse((await fromPage(page, `/api/slots?region=${REGION}`)).body).slots;
    const firstFree = upcoming.find((s) => s.remaining > 0 && Date.parse(s.startsAt) > Date.now());
    expect(firstFree).toBeDefined();
    await expect.poll(() => page.locator("#date").inputValue()).toBe(seoulDay(firstFree!.startsAt));
    const dates = slotDatesResponse.parse((await fromPage(page, `/api/slots/dates?region=${REGION}`)).body).dates;
    expect(dates[0]?.date).toBe(seoulDay(firstFree!.startsAt));
    await shots(page, `booking-${lang}-01-choose`);

    // Searching straight away finds times: nobody has to guess a day first.
    await page.locator("#slot-form button[type=submit]").click();
    await visible(page, "#book-form");
    expect(await textOf(page, "#slots-msg")).toContain(words.koreaTime);
    const free = page.locator("#slot-list label.time:has(input:not([disabled]))");
    expect(await free.count()).toBeGreaterThan(0);
    await free.first().click();
    const slotId = Number(await page.locator("#slot-list input:checked").inputValue());
    await shots(page, `booking-${lang}-02-times`);
    await page.locator("#book-btn").click();
    await visible(page, "#view-done");

    // Booked: a code to read out, the id as a reference, as the origin holds them.
    expect(await textOf(page, "h1")).toBe(words.titleDone);
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("done-title");
    const mine = await fromPage(page, "/api/bookings/me");
    expect(mine.status).toBe(200);
    const booking: Booking = bookingSchema.parse((mine.body as { booking: unknown }).booking);
    expect(booking.slot.id).toBe(slotId);
    const code = await textOf(page, "#booking-code");
    expect(code).toMatch(CODE);
    expect(code).toBe(booking.code);
    expect(await textOf(page, "#booking-id")).toBe(booking.id);
    // Nothing asks the citizen to note down the id; the code is what they give at the clinic.
    const done = await textOf(page, "#view-done");
    expect(done).not.toMatch(/note your booking number|예약 번호를 적어/i);
    expect(done).toMatch(lang === "ko" ? /예약 코드를 알려 주세요/ : /Give your booking code at the clinic/);
    // The live region spells the code out, so a screen reader reads it character by character.
    expect(await textOf(page, "#live")).toContain([...code].join(" "));
    // Kept on this device with the booking, for a return after the pass has expired.
    const stored = (await page.evaluate("JSON.stringify(Object.entries(localStorage))")) as string;
    const kept = (JSON.parse(stored) as Array<[string, string]>).filter(([k]) => k.startsWith("wr:booking:")).map(([, v]) => JSON.parse(v) as unknown);
    expect(kept).toEqual([expect.objectContaining({ id: booking.id, code })]);

    // The time says it is Korea's, and is the slot's in Korea (the device is in Los Angeles).
    const when = await textOf(page, "#done-time");
    expect(when.endsWith(words.koreaTime)).toBe(true);
    expect(readSlotTime(lang, when)).toEqual(seoulParts(booking.slot.startsAt));
    await shots(page, `booking-${lang}-03-booked`);

    // Add to calendar: a file made on the device, which parses as iCalendar and holds the right time.
    const link = page.locator("#add-calendar");
    expect(await link.isVisible()).toBe(true);
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe(`vaccination-${code}.ics`);
    const ics = readFileSync((await download.path())!, "utf8");
    const calendar = parseIcs(ics);
    expect(calendar.name).toBe("VCALENDAR");
    expect(one(calendar, "VERSION").value).toBe("2.0");
    expect(one(calendar, "PRODID").value).not.toBe("");
    const [event] = calendar.components;
    expect(event?.name).toBe("VEVENT");
    expect(calendar.components).toHaveLength(1);
    expect(one(event!, "UID").value).toBe(`${booking.id}@127.0.0.1`);
    expect(Math.abs(utcDateTime(one(event!, "DTSTAMP").value) - Date.now())).toBeLessThan(5 * 60_000);
    const start = utcDateTime(one(event!, "DTSTART").value);
    expect(new Date(start).toISOString()).toBe(new Date(booking.slot.startsAt).toISOString());
    expect(utcDateTime(one(event!, "DTEND").value) - start).toBe(30 * 60_000);
    expect(unescapeText(one(event!, "SUMMARY").value)).toBe(words.summary);
    expect(unescapeText(one(event!, "LOCATION").value)).toBe(`${booking.slot.clinic.name}, ${booking.slot.clinic.address}`);
    const description = unescapeText(one(event!, "DESCRIPTION").value);
    expect(description).toContain(code);
    expect(description).toContain(booking.id);
    expect(description.split("\n").length).toBeGreaterThan(1);

    // Changing the slot: its own heading, the booking's time in Korea time.
    await page.locator("#change-btn").click();
    await visible(page, "#keep-btn");
    expect(await textOf(page, "h1")).toBe(words.titleChange);
    expect(await textOf(page, "#change-intro")).toContain(when);
    await page.locator("#slot-form button[type=submit]").click();
    await visible(page, "#book-form");
    await shots(page, `booking-${lang}-04-change`);
    await page.locator("#keep-btn").click();
    await visible(page, "#view-done");
    expect(await textOf(page, "h1")).toBe(words.titleDone);

    // Cancelling asks first.
    await page.locator("#cancel-btn").click();
    await visible(page, "#cancel-confirm");
    await shots(page, `booking-${lang}-05-cancel-confirm`);
    await page.locator("#cancel-yes").click();
    await visible(page, "#view-book");
    expect(await textOf(page, "h1")).toBe(words.titleBook);
    await expect.poll(() => page.locator("#date").inputValue()).toBe(seoulDay(firstFree!.startsAt));
    await shots(page, `booking-${lang}-06-cancelled`);

    // No script error on the way; the only failed answer is "no booking yet" when the turn came.
    expect(seen.errors.filter((e) => !e.includes("404"))).toEqual([]);
    expect(seen.failed).toEqual(["404 /api/bookings/me"]);
    expect(offsite).toEqual([]);
    await context.close();
  });
});
