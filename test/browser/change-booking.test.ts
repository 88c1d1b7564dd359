import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { SLOTS_TTL_MS } from "../../src/edge/gate/slot-cache.js";
import { idTokens, newPhone } from "./support/identity.js";
import { citizenContext, launchBrowser, shot, startStack, type Stack } from "./support/stack.js";

/**
 * A citizen with a booking changes its slot and cancels it from the page, then books again with the pass
 * they still hold, in a real browser against the stack as `npm start` runs it. What is checked is what
 * the citizen sees, and that the origin agrees (the booking API, asked from the page with its cookies).
 */
let stack: Stack;
let browser: Browser;
const VIEW_TIMEOUT = 30_000;

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

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await stack?.stop();
  }
});

/** What the booking API says, asked from the page with its cookies (the pass cookie is HttpOnly). */
async function fromPage(page: Page, path: string): Promise<{ status: number; body: unknown }> {
  return page.evaluate(async (path) => {
    const res = await fetch(path, { headers: { accept: "application/json" } });
    return { status: res.status, body: await res.json() };
  }, path);
}

async function myBooking(page: Page): Promise<{ status: number; id?: string; slotId?: number }> {
  const { status, body } = await fromPage(page, "/api/bookings/me");
  const booking = (body as { booking?: { id: string; slot: { id: number } } }).booking;
  return { status, id: booking?.id, slotId: booking?.slot.id };
}

/**
 * The seats a slot has left, as the page reads them. The edge keeps a region's and day's slot list for
 * SLOTS_TTL_MS, so a read right after a booking changed may show the list from before: the read waits
 * that long first, and is the one that refreshes it.
 */
async function remaining(page: Page, slotId: number, query: string): Promise<number | undefined> {
  await page.waitForTimeout(SLOTS_TTL_MS + 100);
  const { body } = await fromPage(page, `/api/slots?${query}`);
  return (body as { slots: Array<{ id: number; remaining: number }> }).slots.find((s) => s.id === slotId)?.remaining;
}

describe("changing a booking from the page", () => {
  it("a citizen books, moves the booking to another time, cancels it, and books again with the same pass", async () => {
    const { context, offsite } = await citizenContext(browser, stack);
    const page = await context.newPage();
    const visible = (selector: string) => page.locator(selector).waitFor({ state: "visible", timeout: VIEW_TIMEOUT });
    const text = async (selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();
    await page.goto(`${stack.base}/`);
    await visible("#view-signin");
    // Joined as an app joins, from this browser, so the cookies land here (journey.test.ts signs in through the provider's pages).
    const citizen = { phoneNumber: newPhone(), birthdate: "1964-08-09" };
    const join = async () => {
      const [idToken] = await idTokens(stack, [citizen]);
      return page.evaluate(async (idToken) => {
        const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
        const body = (await res.json()) as { status?: { state: string; seq: number; pass?: string } };
        return { status: res.status, state: body.status?.state, seq: body.status?.seq, pass: body.status?.pass, body };
      }, idToken!);
    };
    const joined = await join();
    expect(joined.status).toBe(200);
    await page.reload();
    await visible("#view-book");

    // Book the first free time of a day.
    await page.getByLabel("날짜", { exact: true }).selectOption({ index: 1 });
    const date = await page.getByLabel("날짜", { exact: true }).inputValue();
    const region = await page.getByLabel("지역", { exact: true }).inputValue();
    const slotsQuery = `region=${region}&date=${date}`;
    await page.getByRole("button", { name: "예약 가능한 시간 보기" }).click();
    await visible("#book-form");
    const free = page.locator("#slot-list label.time:has(input:not([disabled]))");
    await free.first().click();
    const firstSlot = Number(await page.locator("#slot-list input:checked").inputValue());
    await page.getByRole("button", { name: "선택한 시간으로 예약하기" }).click();
    await visible("#view-done");
    const bookingId = await text("#booking-id");
    const firstTime = await text("#done-time");
    expect(await myBooking(page)).toEqual({ status: 200, id: bookingId, slotId: firstSlot });
    const before = { first: await remaining(page, firstSlot, slotsQuery) };
    await shot(page, "30-booked-with-change-and-cancel");

    // Change the slot: the current one is shown but not offered, another is picked.
    await page.getByRole("button", { name: "다른 시간으로 변경" }).click();
    await visible("#view-book");
    expect(await text("#book-title")).toBe("예약 시간 변경");
    expect(await text("#change-intro")).toContain(firstTime.split(" ").pop()!);
    expect(await page.locator(`#slot-list input[value="${firstSlot}"]`).isDisabled()).toBe(true);
    expect(await text(`#slot-list label.current`)).toContain("지금 예약");
    await free.first().click();
    const secondSlot = Number(await page.locator("#slot-list input:checked").inputValue());
    expect(secondSlot).not.toBe(firstSlot);
    const secondBefore = await remaining(page, secondSlot, slotsQuery);
    await shot(page, "31-changing-slot");
    await page.getByRole("button", { name: "선택한 시간으로 변경하기" }).click();
    await visible("#view-done");
    expect(await text("#done-note")).toBe("예약 시간이 변경되었습니다.");
    expect(await text("#booking-id")).toBe(bookingId);
    expect(await text("#done-time")).not.toBe(firstTime);
    expect(await myBooking(page)).toEqual({ status: 200, id: bookingId, slotId: secondSlot });
    // The old seat came back and the new one was taken, in the same step.
    expect(await remaining(page, firstSlot, slotsQuery)).toBe(before.first! + 1);
    expect(await remaining(page, secondSlot, slotsQuery)).toBe(secondBefore! - 1);
    await shot(page, "32-slot-changed");

    // Cancel, after saying yes.
    await page.getByRole("button", { name: "예약 취소" }).click();
    await visible("#cancel-confirm");
    await page.getByRole("button", { name: "아니요, 유지합니다" }).click();
    expect(await page.locator("#cancel-confirm").isVisible()).toBe(false);
    expect((await myBooking(page)).status).toBe(200);
    await page.getByRole("button", { name: "예약 취소" }).click();
    await shot(page, "33-cancel-confirm");
    await page.getByRole("button", { name: "예, 취소합니다" }).click();
    await visible("#view-book");
    expect(await text("#book-note")).toMatch(/^예약이 취소되었습니다\. .+까지\(한국 시간\) 다시 예약할 수 있습니다\.$/);
    expect(await text("#book-title")).toBe("차례가 되었습니다");
    expect(await myBooking(page)).toMatchObject({ status: 404 });
    expect(await remaining(page, secondSlot, slotsQuery)).toBe(secondBefore);
    await shot(page, "34-cancelled-book-again");

    // Signing in again after the cancel finds the same place and the same live pass: the slot choice again,
    // not a spent ticket.
    const rejoined = await join();
    expect(rejoined).toMatchObject({ status: 200, state: "admitted", seq: joined.seq });
    expect(rejoined.pass).toBeTruthy();
    await page.reload();
    await visible("#view-book");
    expect(await page.locator("#view-expired").isVisible()).toBe(false);
    await page.getByLabel("날짜", { exact: true }).selectOption(date);

    // Book again with the pass the citizen still holds: a new booking.
    await page.getByRole("button", { name: "예약 가능한 시간 보기" }).click();
    await visible("#book-form");
    await free.first().click();
    const thirdSlot = Number(await page.locator("#slot-list input:checked").inputValue());
    await page.getByRole("button", { name: "선택한 시간으로 예약하기" }).click();
    await visible("#view-done");
    const rebookedId = await text("#booking-id");
    expect(rebookedId).toMatch(/^[0-9a-f-]{36}$/);
    expect(rebookedId).not.toBe(bookingId);
    expect(await myBooking(page)).toEqual({ status: 200, id: rebookedId, slotId: thirdSlot });

    // A refresh shows the new booking, still changeable, in either language.
    await page.reload();
    await visible("#view-done");
    expect(await text("#booking-id")).toBe(rebookedId);
    await page.locator("#lang").click();
    expect(await page.getByRole("button", { name: "Change slot" }).isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Cancel booking" }).isVisible()).toBe(true);
    await shot(page, "35-rebooked-en");
    expect(offsite).toEqual([]);
    await context.close();
  });
});
