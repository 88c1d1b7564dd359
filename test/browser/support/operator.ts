/**
 * An operator of a stack test: the one-time link `npm start` printed, spent once for the session cookie
 * that opens /ops and /api/ops/*. A stack prints one link, so one operator per stack.
 */
import type { Stack } from "./stack.js";

/** The one-time operator link `npm start` printed. */
export function operatorLink(stack: Pick<Stack, "output">): string {
  const link = /(http:\/\/127\.0\.0\.1:\d+\/ops\/login\?code=[\w.-]+)/.exec(stack.output())?.[1];
  if (!link) throw new Error(`npm start printed no operator link:\n${stack.output()}`);
  return link;
}

/** Spends the printed link over plain HTTP; returns the `cookie` header value that signs requests in as the operator. */
export async function operatorCookie(stack: Pick<Stack, "output">): Promise<string> {
  const res = await fetch(operatorLink(stack), { redirect: "manual" });
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("wr_operator="))?.split(";")[0];
  if (res.status !== 303 || !cookie) throw new Error(`the operator link answered ${res.status}: ${await res.text()}`);
  return cookie;
}
