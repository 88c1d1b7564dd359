/**
 * A citizen's app against the stack, over HTTP: join with an id_token, ask where the ticket stands. The
 * browser tests that watch the line without a page (the origin gate, supervision, the pre-queue) share it.
 */
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { joinResponse, queueStatus, type QueueStatus } from "../../../src/contract/queue.js";
import { idTokens, newPhone } from "./identity.js";
import { sleep, type Stack } from "./stack.js";

/** Joins with an id_token as an app does; the answer must be 200. */
export async function joinWithToken(stack: Pick<Stack, "base">, idToken: string): Promise<{ ticket: string; status: QueueStatus }> {
  const res = await fetch(`${stack.base}/api/queue/join`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ idToken }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return joinResponse.parse(await res.json());
}

/** A new citizen, with an id_token the development provider signed for them, joins. */
export async function joinAs(stack: Pick<Stack, "base" | "idp" | "mintSecret">, birthdate: string): Promise<{ ticket: string; status: QueueStatus }> {
  const [idToken] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate }]);
  return joinWithToken(stack, idToken!);
}

/**
 * A new citizen joins from `page`, as an app joins, with an id_token the development provider signed: the
 * ticket cookie lands in that browser (signing in through the provider's pages is journey.test.ts's part).
 */
export async function joinFromPage(stack: Pick<Stack, "idp" | "mintSecret">, page: Page, birthdate: string): Promise<void> {
  const [idToken] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate }]);
  const status = await page.evaluate(async (idToken) => {
    const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
    return res.status;
  }, idToken!);
  expect(status).toBe(200);
}

export async function statusOf(stack: Pick<Stack, "base">, ticket: string): Promise<QueueStatus> {
  const res = await fetch(`${stack.base}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
  expect(res.status, await res.clone().text()).toBe(200);
  return queueStatus.parse(await res.json());
}

/** Polls (faster than the page would, but bounded) until admitted; returns the last status. */
export async function untilAdmitted(stack: Pick<Stack, "base">, ticket: string, withinMs: number): Promise<QueueStatus> {
  const deadline = Date.now() + withinMs;
  let s = await statusOf(stack, ticket);
  while (s.state !== "admitted" && Date.now() < deadline) {
    await sleep(500);
    s = await statusOf(stack, ticket);
  }
  return s;
}
