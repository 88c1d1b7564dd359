/**
 * Leaving the line from the waiting page, in a real browser against the whole stack: the button asks once
 * more and says a new join is a place at the back; confirmed, the page says the place is given up, stops
 * asking for a status, and offers the way back in; the people behind move up; and a reload finds no place.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { joinAs, statusOf } from "./support/app-client.js";
import { signInOnPage } from "./support/identity.js";
import { citizenContext, launchBrowser, shot, stopAll, startStack, type Stack } from "./support/stack.js";

/**
 * One shard and a cap of one with a claim window longer than the suite: the first citizen is let in and
 * never claims, so the line stands still and everyone's count can be compared exactly.
 */
const bindings = {
  SHARDS: "1",
  ADMIT_PER_MINUTE: "60",
  MAX_ACTIVE: "1",
  CLAIM_WINDOW_SECONDS: "900",
  PAUSED: "false",
  COHORTS: cohortsBinding(["55-59"]),
};
const BIRTH = "1963-05-01";
const VIEW_TIMEOUT = 20_000;

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startStack(bindings);
  browser = await launchBrowser();
  // The one let in, holding the cap, and one waiting ahead of the page's citizen.
  await joinAs(stack, BIRTH);
  await joinAs(stack, BIRTH);
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await stopAll(browser, stack);
});

const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").replace(/\s+/g, " ").trim();
const visible = (page: Page, selector: string) => page.locator(selector).waitFor({ state: "visible", timeout: VIEW_TIMEOUT });

describe("leaving the line from the waiting page", () => {
  it("asks once more, gives the place up, moves the people behind up, and offers a new place at the back", async () => {
    const { context } = await citizenContext(browser, stack);
    contexts.push(context);
    await context.addInitScript({ content: `localStorage.setItem("wr:lang", "en")` });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on("response", (r) => r.status() >= 400 && failures.push(`${r.status()} ${r.url()}`));
    page.on("console", (m) => m.type() === "error" && failures.push(m.text()));
    await page.goto(`${stack.base}/`);
    await signInOnPage(page, stack, BIRTH, VIEW_TIMEOUT);
    await visible(page, "#view-wait");
    await expect.poll(() => textOf(page, "#ahead"), { timeout: VIEW_TIMEOUT }).toBe("1");

    // Someone joins behind: one ahead of them is the page's citizen.
    const behind = await joinAs(stack, BIRTH);
    await expect.poll(async () => (await statusOf(stack, behind.ticket)).ahead, { timeout: VIEW_TIMEOUT }).toBe(2);

    // Asked once more, with what leaving means; "No" keeps the place.
    await page.getByRole("button", { name: "I no longer need my place" }).click();
    expect(await textOf(page, "#leave-ask")).toContain("you get a new place at the back");
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("leave-no");
    await shot(page, "leave-confirm-360");
    await page.getByRole("button", { name: "No, keep waiting" }).click();
    expect(await page.locator("#leave-confirm").isHidden()).toBe(true);
    expect(await textOf(page, "#ahead")).toBe("1");

    await page.getByRole("button", { name: "I no longer need my place" }).click();
    await page.getByRole("button", { name: "Yes, give up my place" }).click();
    await visible(page, "#view-left");
    expect(await textOf(page, "#left-title")).toBe("You left the line");
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("left-title");
    expect(await page.locator("#rejoin-left").getAttribute("href")).toBe("/auth/login?lang=en");
    await shot(page, "leave-left-360");

    // The one behind moved up; the page asks for no status any more.
    await expect.poll(async () => (await statusOf(stack, behind.ticket)).ahead, { timeout: VIEW_TIMEOUT }).toBe(1);
    let polled = 0;
    page.on("request", (r) => new URL(r.url()).pathname === "/api/queue/status" && polled++);
    await page.waitForTimeout(3_000);
    expect(polled).toBe(0);

    // A reload holds no place: the sign-in view, asked for nothing that fails.
    await page.reload();
    await visible(page, "#view-signin");
    expect(failures).toEqual([]);
  });
});
