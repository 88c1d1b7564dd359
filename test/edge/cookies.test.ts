import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { queueStatus } from "../../src/contract/queue.js";
import { TICKET_HINT_COOKIE, TICKET_TTL_SECONDS } from "../../src/edge/tokens/ticket.js";
import { idToken, identityInShard, ORIGIN, postJoin, randomIdentity, status } from "./helpers.js";

/**
 * The page holds its ticket and pass only as cookies, so their attributes are the citizen's protection:
 * HttpOnly (no script reads them), Secure, SameSite=Lax (no cross-site POST carries them) and sent to
 * /api alone. The edge writes these headers itself, so they are checked here exactly.
 */
const ATTRIBUTES = "Path=/api; HttpOnly; Secure; SameSite=Lax";

function cookieNamed(res: Response, name: string): string {
  const found = res.headers.getSetCookie().filter((c) => c.startsWith(`${name}=`));
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe("the line's cookies", () => {
  it("sets the joined ticket as an HttpOnly, Secure, SameSite=Lax cookie for /api that alone finds the place", async () => {
    const res = await postJoin({ idToken: await idToken(randomIdentity()) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ticket: string; status: { seq: number } };
    // Beside it, for as long, a cookie the page's script reads: it says a ticket was given, and no more.
    expect(res.headers.getSetCookie()).toEqual([
      `wr_ticket=${body.ticket}; Max-Age=${TICKET_TTL_SECONDS}; ${ATTRIBUTES}`,
      `${TICKET_HINT_COOKIE}=1; Max-Age=${TICKET_TTL_SECONDS}; Path=/; Secure; SameSite=Lax`,
    ]);

    const byCookie = await SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { cookie: `wr_ticket=${body.ticket}` } });
    expect(byCookie.status).toBe(200);
    expect(queueStatus.parse(await byCookie.json()).seq).toBe(body.status.seq);
  });

  it("sets an admitted citizen's pass as a cookie of the same kind that lasts no longer than the pass", async () => {
    const join = await postJoin({ idToken: await idToken(await identityInShard(2)) });
    const { ticket } = (await join.json()) as { ticket: string };
    let s = await status(ticket);
    for (let i = 0; i < 20 && s.state !== "admitted"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      s = await status(ticket);
    }
    expect(s.state).toBe("admitted");

    const res = await SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { cookie: `wr_ticket=${ticket}` } });
    expect(res.status).toBe(200);
    const admitted = queueStatus.parse(await res.json());
    const cookie = cookieNamed(res, "wr_pass");
    const match = /^wr_pass=([^;]+); Max-Age=(\d+); (.*)$/.exec(cookie);
    expect(match?.[1]).toBe(admitted.pass);
    expect(match?.[3]).toBe(ATTRIBUTES);
    const maxAge = Number(match?.[2]);
    expect(maxAge).toBeGreaterThanOrEqual(1);
    expect(maxAge).toBeLessThanOrEqual(Math.ceil((Date.parse(admitted.passExpiresAt!) - Date.now()) / 1000) + 1);
  });
});
