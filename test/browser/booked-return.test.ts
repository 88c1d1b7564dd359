import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { idTokens, newPhone } from "./support/identity.js";
import { citizenContext, launchBrowser, shot, sleep, startStack, type Stack } from "./support/stack.js";

/**
 * A citizen who booked and comes back after the pass has expired still sees the booking, not the
 * "your turn lapsed" text meant for those who never claimed. Short passes make the wait short.
 */
const PASS_TTL_SECONDS = 6;
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

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await stack?.stop();
  }
});

describe("coming back after booking", () => {
  it("shows the booking once the pass has expired", async () => {
    const { context } = await citizenContext(browser, stack);
    const page = await context.newPage();
    const visible = (selector: string) => page.locator(selector).waitFor({ state: "visible", timeout: 30_000 });
    await page.goto(`${stack.base}/`);
    await visible("#view-signin");
    // The citizen joins as an app does, with the provider's id_token, from this browser, so the ticket
    // cookie lands here (journey.test.ts signs in through the provider's pages; this test is about coming back).
    const [idToken] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate: "1963-04-05" }]);
    const joined = await page.evaluate(async (idToken) => {
      const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
      return res.status;
    }, idToken!);
    expect(joined).toBe(200);
    await page.reload();
    await visible("#view-book");
    await page.getByLabel("날짜", { exact: true }).selectOption({ index: 1 });
    await page.getByRole("button", { name: "예약 가능한 시간 보기" }).click();
    await visible("#book-form");
    await page.locator("#slot-list label.time:has(input:not([disabled]))").first().click();
    await page.getByRole("button", { name: "선택한 시간으로 예약하기" }).click();
    await visible("#view-done");
    const bookingId = (await page.locator("#booking-id").textContent())?.trim();
    expect(bookingId).toMatch(/^[0-9a-f-]{36}$/);

    await sleep((PASS_TTL_SECONDS + 2) * 1000);
    await page.reload();
    await visible("#view-done");
    await shot(page, "20-booked-after-pass-expired");
    expect((await page.locator("#booking-id").textContent())?.trim()).toBe(bookingId);
    expect(await page.locator("#done-note").textContent()).toContain("예약은 그대로 유지됩니다");
    expect(await page.locator("#view-expired").isVisible()).toBe(false);
    await context.close();
  });
});
