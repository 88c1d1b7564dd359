import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newTicketId } from "../../src/edge/tokens/ticket.js";
import { signPass } from "../../src/edge/tokens/pass.js";
import { config, errorCode, forgetOriginHealth, ORIGIN } from "./helpers.js";

/**
 * One client cannot take booking down for the others: requests per pass through the gate are limited
 * (PASS_LIMIT in wrangler.toml: 30 in 10 s), answered 429 `rate_limited` with Retry-After in the error
 * shape, and what is over the limit never reaches the origin. The origin is played by a stub of the
 * Worker's outbound fetch that counts what reaches it.
 */

const LIMIT = 30;

function passFor(shard = 0): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signPass(config, { sub: `citizen-${crypto.randomUUID()}`, jti: newTicketId(), cohort: "55-59", shard, seq: 1, iat: now, exp: now + 600 });
}

function countingOrigin() {
  const reached: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    reached.push(`${request.method} ${new URL(request.url).pathname}`);
    return new Response(JSON.stringify({ error: { code: "booking_not_found", message: "no such booking for this pass" } }), {
      status: 404,
      headers: { "content-type": "application/json" },
    });
  });
  return reached;
}

afterEach(() => {
  vi.restoreAllMocks();
  forgetOriginHealth();
});

describe("requests per pass at the booking gate", () => {
  it("answers 429 rate_limited with Retry-After past the limit, forwarding none of them, while another pass is served", async () => {
    const reached = countingOrigin();
    const flooder = await passFor();
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT + 2; i++) {
      const res = await SELF.fetch(`${ORIGIN}/api/bookings/me`, { headers: { authorization: `Bearer ${flooder}` } });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get("retry-after")).toBe("10");
        expect(await errorCode(res)).toBe("rate_limited");
      } else {
        expect(await errorCode(res)).toBe("booking_not_found");
      }
    }
    // workerd counts exactly, in windows aligned to the wall clock: a run that straddles a window's end may
    // see a second allowance, never a third.
    expect(statuses.slice(0, LIMIT).every((s) => s === 404), JSON.stringify(statuses)).toBe(true);
    const firstLimited = statuses.indexOf(429);
    expect(firstLimited, JSON.stringify(statuses)).toBeGreaterThanOrEqual(LIMIT);
    expect(firstLimited, JSON.stringify(statuses)).toBeLessThanOrEqual(2 * LIMIT);
    // Only what the limit let through reached the origin.
    const allowed = statuses.filter((s) => s === 404).length;
    expect(reached).toHaveLength(allowed);

    // The limit covers every route of the gate, slot reads included, and refuses before the cache.
    const slots = await SELF.fetch(`${ORIGIN}/api/slots?region=11`, { headers: { authorization: `Bearer ${flooder}` } });
    if (statuses.at(-1) === 429) {
      expect(slots.status).toBe(429);
      expect(await errorCode(slots)).toBe("rate_limited");
    } else await slots.arrayBuffer();

    // Another citizen, admitted like the flooder, is not limited by the flooder's count.
    const other = await passFor(1);
    const theirs = await SELF.fetch(`${ORIGIN}/api/bookings/me`, { headers: { authorization: `Bearer ${other}` } });
    expect(theirs.status).toBe(404);
    expect(await errorCode(theirs)).toBe("booking_not_found");
  });

  it("verifies the pass before counting it: a forged pass is 401, and spends no citizen's allowance", async () => {
    const reached = countingOrigin();
    const pass = await passFor();
    const [header, payload] = pass.split(".");
    const forged = `${header}.${payload}.${"A".repeat(86)}`;
    for (let i = 0; i < LIMIT + 5; i++) {
      const res = await SELF.fetch(`${ORIGIN}/api/bookings/me`, { headers: { authorization: `Bearer ${forged}` } });
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("invalid_token");
    }
    // The same claims, genuinely signed, are served as if the forgeries had never been sent.
    const genuine = await SELF.fetch(`${ORIGIN}/api/bookings/me`, { headers: { authorization: `Bearer ${pass}` } });
    expect(genuine.status).toBe(404);
    await genuine.arrayBuffer();
    expect(reached).toHaveLength(1);
  });
});
