import { SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BOOKING_ACCESS_SCOPE, BOOKING_ACCESS_TYP } from "../../src/contract/booking-access.js";
import { shardCap, shardRate } from "../../src/edge/shard/admission.js";
import { signBookingAccess } from "../../src/edge/tokens/booking-access.js";
import { signingKey } from "../../src/edge/tokens/pass.js";
import type { ShardAddress } from "../../src/edge/queue/shard-name.js";
import { config, errorCode, forgetOriginHealth, freshShard, identityInShard, keyOf, ORIGIN, randomIdentity, setClock, stubOf } from "./helpers.js";

/**
 * Booking access at the gate: the credential a citizen gets by signing in again after the pass expired.
 * It reaches the citizen's booking (read, move, cancel) and nothing else, is limited per citizen however
 * many tokens they hold, is refused once expired, and a move made with it waits for room in the line as a
 * booking does. The origin is played by a stub of the Worker's outbound fetch that records what reaches it.
 */

const T0 = Date.parse("2026-03-01T11:00:00Z");
const CAP = shardCap(config.maxActive, config.shards, 0);
const ONE_TURN_MS = 60_000 / shardRate(config.admitPerMinute, config.shards);
const LIMIT = 30;
/** How long the stub origin takes over a move: the test looks at the shard meanwhile. */
const ORIGIN_WORK_MS = 3_000;
const BOOKING_ID = "9b2f7c1e-4a1d-4c55-8f0e-1c2d3e4f5a6b";

type Reached = Array<{ method: string; path: string; bearer: string | null }>;

/** The origin: records each request and answers `status` with `body`, after `during` (if given) has run. */
function stubOrigin(status: number, body: unknown, during?: () => Promise<void>): Reached {
  const reached: Reached = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    reached.push({ method: request.method, path: new URL(request.url).pathname, bearer: request.headers.get("authorization") });
    await during?.();
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  });
  return reached;
}

afterEach(() => {
  vi.restoreAllMocks();
  forgetOriginHealth();
});

/** A citizen whose key lands in shard 0, with booking access for `address`'s cohort. */
async function citizenWithAccess(address: ShardAddress): Promise<{ key: string; access: string }> {
  const key = await keyOf(await identityInShard(address.shard));
  const { token } = await signBookingAccess(config, { sub: key, cohort: address.cohort }, Date.now());
  return { key, access: token };
}

const send = (token: string, method: string, path: string, body?: unknown) =>
  SELF.fetch(`${ORIGIN}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe("booking access at the gate", () => {
  it("never books: 403 insufficient_scope, and the origin is not asked", async () => {
    const reached = stubOrigin(201, {});
    const { access } = await citizenWithAccess(freshShard(0));

    const res = await send(access, "POST", "/api/bookings", { slotId: 1 });

    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(await errorCode(res)).toBe("insufficient_scope");
    expect(reached).toEqual([]);
  });

  it("forwards reads and cancels with the access itself as the bearer, for the origin to check again", async () => {
    const reached = stubOrigin(404, { error: { code: "booking_not_found", message: "none" } });
    const { access } = await citizenWithAccess(freshShard(0));

    expect((await send(access, "GET", "/api/bookings/me")).status).toBe(404);
    expect((await send(access, "DELETE", `/api/bookings/${BOOKING_ID}`)).status).toBe(404);
    expect(reached).toEqual([
      { method: "GET", path: "/api/bookings/me", bearer: `Bearer ${access}` },
      { method: "DELETE", path: `/api/bookings/${BOOKING_ID}`, bearer: `Bearer ${access}` },
    ]);
  });

  it("refuses booking access that expired, is signed with another key, or claims a pass's typ", async () => {
    const reached = stubOrigin(200, {});
    const address = freshShard(0);
    const key = await keyOf(randomIdentity());
    const now = Math.floor(Date.now() / 1000);
    const { kid, key: ours } = await signingKey(config);
    const sign = (claims: Record<string, unknown>, typ: string, signWith: CryptoKey | Uint8Array = ours as CryptoKey) =>
      new SignJWT({ cohort: address.cohort, scope: BOOKING_ACCESS_SCOPE, ...claims })
        .setProtectedHeader({ alg: "ES256", kid, typ })
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setSubject(key)
        .setJti(crypto.randomUUID())
        .setIssuedAt(typeof claims.iat === "number" ? claims.iat : now)
        .setNotBefore(typeof claims.iat === "number" ? claims.iat : now)
        .setExpirationTime(typeof claims.exp === "number" ? claims.exp : now + 600)
        .sign(signWith);
    const other = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const refused = [
      await sign({ iat: now - 700, exp: now - 100 }, BOOKING_ACCESS_TYP),
      await sign({}, BOOKING_ACCESS_TYP, other.privateKey),
      // Dressed as a pass: the pass check wants a place in the line, which booking access never has.
      await sign({}, "JWT"),
    ];
    for (const token of refused) {
      const res = await send(token, "GET", "/api/bookings/me");
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("invalid_token");
    }
    expect(reached).toEqual([]);
  });

  it("limits a citizen's requests however many tokens they hold, and no one else's", async () => {
    const reached = stubOrigin(404, { error: { code: "booking_not_found", message: "none" } });
    const address = freshShard(0);
    const key = await keyOf(randomIdentity());
    const tokens = await Promise.all([0, 1].map(async () => (await signBookingAccess(config, { sub: key, cohort: address.cohort }, Date.now())).token));
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT + 2; i++) {
      const res = await send(tokens[i % 2]!, "GET", "/api/bookings/me");
      statuses.push(res.status);
      if (res.status === 429) expect(await errorCode(res)).toBe("rate_limited");
      else await res.arrayBuffer();
    }
    // workerd counts in windows aligned to the wall clock: a run may straddle one, never two.
    const firstLimited = statuses.indexOf(429);
    expect(firstLimited, JSON.stringify(statuses)).toBeGreaterThanOrEqual(LIMIT);
    expect(firstLimited, JSON.stringify(statuses)).toBeLessThanOrEqual(2 * LIMIT);
    expect(reached).toHaveLength(statuses.filter((s) => s === 404).length);

    const { access: someoneElse } = await citizenWithAccess(address);
    expect((await send(someoneElse, "GET", "/api/bookings/me")).status).toBe(404);
  });

  it("moves a booking only while the line has room, holding a unit of it while the origin works", async () => {
    expect(CAP).toBe(2);
    const address = freshShard(0);
    const stub = stubOf(address);
    await setClock(stub, T0);
    // The citizen was admitted, claimed a pass and booked: their ticket holds no capacity any more.
    const { key, access } = await citizenWithAccess(address);
    const mine = await stub.join(key);
    expect((await stub.claim(mine.seq, mine.ticketId)).state).toBe("admitted");
    await stub.complete(mine.seq, mine.ticketId);
    expect((await stub.snapshot()).active).toBe(0);

    // Room: the move goes to the origin, which works (slowly, here) while the move holds one unit of the shard's room.
    const reached = stubOrigin(200, { booking: {} }, () => new Promise((resolve) => setTimeout(resolve, ORIGIN_WORK_MS)));
    const moving = send(access, "PATCH", `/api/bookings/${BOOKING_ID}`, { slotId: 7 });
    await vi.waitFor(() => expect(reached).toHaveLength(1), { timeout: ORIGIN_WORK_MS });
    expect((await stub.snapshot()).active).toBe(1);
    const moved = await moving;
    expect(moved.status).toBe(200);
    expect(reached).toEqual([{ method: "PATCH", path: `/api/bookings/${BOOKING_ID}`, bearer: `Bearer ${access}` }]);
    // Given back once the answer is in (after the response, so it is awaited here).
    await vi.waitFor(async () => expect((await stub.snapshot()).active).toBe(0), { timeout: 5_000 });

    // Two others are admitted and fill the shard's share of MAX_ACTIVE: a move now waits, as a booking would.
    for (let i = 0; i < CAP; i++) await stub.join(await keyOf(randomIdentity()));
    await setClock(stub, T0 + ONE_TURN_MS * 1.5);
    await stub.snapshot();
    await setClock(stub, T0 + ONE_TURN_MS * 3);
    expect((await stub.snapshot()).active).toBe(CAP);
    vi.restoreAllMocks();
    const blocked = stubOrigin(200, { booking: {} });
    const busy = await send(access, "PATCH", `/api/bookings/${BOOKING_ID}`, { slotId: 7 });
    expect(busy.status).toBe(503);
    expect(await errorCode(busy)).toBe("line_busy");
    expect(busy.headers.get("retry-after")).toBe("10");
    expect(blocked).toEqual([]);
    // Reading and cancelling do not wait: they add no load the cap is for.
    vi.restoreAllMocks();
    const cancels = stubOrigin(200, { booking: {} });
    expect((await send(access, "DELETE", `/api/bookings/${BOOKING_ID}`)).status).toBe(200);
    expect(cancels).toHaveLength(1);
  });
});
