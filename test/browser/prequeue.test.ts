/**
 * Opening night with a pre-queue, on the stack as `npm start` runs it: a cohort of four shards whose
 * pre-queue is open and whose line opens about a minute and a half after the stack starts. Three citizens
 * join in the pre-queue and their pages say that the line opens later and that a draw orders everyone in
 * it; at the opening they are let in in the cohort's one draw order, whichever shards they are in, one
 * every ten seconds, and a citizen who joins after the opening comes after all three. `npm run
 * verify-draw` then checks each ticket against the published draw and finds it honest.
 */
import { execFile } from "node:child_process";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idTokens, newPhone } from "./support/identity.js";
import { citizenContext, launchBrowser, root, shot, sleep, startStack, type Stack } from "./support/stack.js";
import { joinWithToken, statusOf } from "./support/app-client.js";
import { drawInfo } from "../../src/contract/queue.js";

const BIRTH = "1963-05-01";
const COHORT = "55-59";
/** Far enough ahead that the stack starts and three citizens join before it; asserted below. */
const opensAt = new Date(Math.ceil((Date.now() + 90_000) / 1000) * 1000);
const bindings = {
  // Four shards keeping one line, so the draw orders the citizens across shards' lists; six a minute with
  // a burst of one: one every 10 s.
  SHARDS: "4",
  ADMIT_PER_MINUTE: "6",
  MAX_ACTIVE: "100",
  PAUSED: "false",
  COHORTS: JSON.stringify([
    {
      id: COHORT,
      label: { ko: "만 55~59세", en: "Ages 55-59" },
      birthYears: [1962, 1966],
      prequeueOpensAt: new Date(Date.now() - 60_000).toISOString(),
      opensAt: opensAt.toISOString(),
    },
  ]),
};

let stack: Stack;
let browser: Browser;

// The browser starts while the stack does: the opening time is already counting down. Whichever of the
// two started is kept for afterAll to stop, even if the other failed.
beforeAll(async () => {
  const [started, launched] = await Promise.allSettled([startStack(bindings), launchBrowser()]);
  if (started.status === "fulfilled") stack = started.value;
  if (launched.status === "fulfilled") browser = launched.value;
  for (const outcome of [started, launched]) if (outcome.status === "rejected") throw outcome.reason;
});

// Whatever the browser does on closing, the stack (three processes) is stopped.
afterAll(async () => {
  await Promise.allSettled([browser?.close()]);
  await stack?.stop();
});

/** The citizen's page, in a browser holding their ticket cookie as the sign-in callback leaves it. */
async function pageWithTicket(ticket: string): Promise<Page> {
  const { context } = await citizenContext(browser, stack);
  await context.addCookies([
    { name: "wr_ticket", value: ticket, url: `${stack.base}/api/`, httpOnly: true, secure: true, sameSite: "Lax" },
    { name: "wr_ticket_held", value: "1", url: stack.base, secure: true, sameSite: "Lax" },
  ]);
  const page = await context.newPage();
  await page.goto(`${stack.base}/`);
  return page;
}

function verifyDraw(ticket: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "scripts/verify-draw.ts", stack.base, COHORT, ticket], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err && typeof err.code === "number" ? err.code : err ? 99 : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe("a pre-queue on opening night", () => {
  it("holds three citizens unplaced, then lets them in in the published draw's order, ahead of a later join", async () => {
    const tokens = await idTokens(stack, Array.from({ length: 4 }, () => ({ phoneNumber: newPhone(), birthdate: BIRTH })));
    const early = [];
    for (const token of tokens.slice(0, 3)) early.push(await joinWithToken(stack, token));
    expect(Date.now(), "the stack took so long to start that the line opened before the pre-queue joins").toBeLessThan(opensAt.getTime() - 5_000);
    for (const joined of early) expect(joined.status).toMatchObject({ state: "prequeue", opensAt: opensAt.toISOString() });

    const pages = await Promise.all(early.map((j) => pageWithTicket(j.ticket)));
    for (const page of pages) await expect.poll(async () => (await page.locator("#wait-queue").textContent()) ?? "", { timeout: 20_000 }).toContain("추첨");
    await shot(pages[0]!, "prequeue-waiting");

    // Until the opening nobody is let in; then one every ten seconds, from the front of the draw.
    await sleep(Math.max(0, opensAt.getTime() - Date.now() + 500));
    const late = await joinWithToken(stack, tokens[3]!);
    expect(late.status.draw).toBeUndefined();

    const admittedAt = new Map<string, number>();
    const everyone = [...early, late];
    const deadline = Date.now() + 90_000;
    while (admittedAt.size < everyone.length && Date.now() < deadline) {
      for (const { ticket } of everyone) {
        if (!admittedAt.has(ticket) && (await statusOf(stack, ticket)).state === "admitted") admittedAt.set(ticket, Date.now());
      }
      await sleep(1_000);
    }
    expect(admittedAt.size).toBe(everyone.length);
    const ranks = new Map<string, number>();
    for (const { ticket } of early) {
      const s = await statusOf(stack, ticket);
      expect(s.draw).toMatchObject({ of: 3 });
      ranks.set(ticket, s.draw!.rank);
    }
    const order = [...admittedAt].sort((a, b) => a[1] - b[1]).map(([ticket]) => ticket);
    expect(order.slice(0, 3).map((t) => ranks.get(t))).toEqual([1, 2, 3]);
    expect(order[3]).toBe(late.ticket);
    // The later join's place follows its shard's whole pre-queue.
    const { shard } = JSON.parse(Buffer.from(late.ticket.split(".")[1]!, "base64url").toString("utf8")) as { shard: number };
    const list = drawInfo.parse(await (await fetch(`${stack.base}/api/cohorts/${COHORT}/draw`)).json()).shards!.find((s) => s.shard === shard)!;
    expect((await statusOf(stack, late.ticket)).seq).toBe(list.firstSeq + list.values.length);

    for (const page of pages) await page.locator("#view-book").waitFor({ state: "visible", timeout: 30_000 });
    await shot(pages[0]!, "prequeue-admitted");

    for (const { ticket } of early) {
      const verdict = await verifyDraw(ticket);
      expect(verdict.output).toContain("VERDICT: the draw checks out.");
      expect(verdict.code, verdict.output).toBe(0);
    }
  });
});
