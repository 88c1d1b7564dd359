import { runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newTicketId } from "../../src/edge/tokens/ticket.js";
import { signPass } from "../../src/edge/tokens/pass.js";
import type { QueueShard } from "../../src/edge/shard/queue-shard.js";
import { callsOf, config, errorCode, identityInShard, join, jwtParts, OPEN_BIRTH_DATE, ORIGIN, status, stubOf } from "./helpers.js";

/**
 * The gate in front of the booking API: which requests reach the origin, with what, and when it tells
 * the citizen's shard that their pass no longer needs to hold capacity. Citizens join and get their pass
 * through the edge's own routes, as the page does; the origin is played by a stub of the Worker's
 * outbound fetch (nothing listens at ORIGIN_URL in these tests).
 */

const COHORT = "55-59";
/** The other open cohort, whose lines no test here had used: four more empty shards. */
const OTHER_COHORT = { id: "53-54", birthDate: "1967-03-01" };
const BOOKING_ID = "0b6f5c1e-8d3a-4f2b-9c7e-1a2b3c4d5e6f";

/**
 * A citizen first in the empty line of shard `shard` (each test file has its own storage, and each test
 * here its own shard), holding the pass the status answer carries.
 */
async function admittedCitizen(shard: number, cohort: { id: string; birthDate: string } = { id: COHORT, birthDate: OPEN_BIRTH_DATE }) {
  const identity = await identityInShard(shard);
  const { ticket } = await join(identity, cohort.birthDate);
  let answer = await status(ticket);
  for (let i = 0; i < 20 && answer.state !== "admitted"; i++) {
    await new Promise((r) => setTimeout(r, 250));
    answer = await status(ticket);
  }
  expect(answer.state).toBe("admitted");
  const pass = answer.pass!;
  const seq = Number(jwtParts(pass).payload.seq);
  const stub = stubOf({ cohort: cohort.id, shard });
  const completedAt = () =>
    runInDurableObject(stub, (_shard: QueueShard, state) =>
      state.storage.sql.exec<{ completed_at: number | null }>("SELECT completed_at FROM tickets WHERE seq = ?", seq).one().completed_at,
    );
  /** People holding the shard's capacity, as the admission rule counts them. */
  const active = async () => (await stub.snapshot()).active;
  return { identity, ticket, pass, stub, completedAt, active };
}

/** Plays the origin: records what reaches it and answers `status` with `body`. */
function originAnswers(status: number, body: unknown) {
  const seen: Array<{ url: string; method: string; authorization: string | null; contentType: string | null; body: string }> = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    seen.push({
      url: request.url,
      method: request.method,
      authorization: request.headers.get("authorization"),
      contentType: request.headers.get("content-type"),
      body: await request.text(),
    });
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  });
  return { seen, spy };
}

function send(method: "PATCH" | "POST" | "DELETE", path: string, pass: string | undefined, body?: unknown): Promise<Response> {
  return SELF.fetch(`${ORIGIN}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(pass === undefined ? {} : { authorization: `Bearer ${pass}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const patch = (pass: string | undefined, body: unknown) => send("PATCH", `/api/bookings/${BOOKING_ID}`, pass, body);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("booking through the gate", () => {
  it("tells the shard once the origin has made the booking, so the citizen's place stops holding capacity", async () => {
    const { stub, pass, completedAt, active } = await admittedCitizen(0, OTHER_COHORT);
    const made = { booking: { id: BOOKING_ID, status: "booked" } };
    const { seen } = originAnswers(201, made);
    expect(await active()).toBe(1);

    const res = await send("POST", "/api/bookings", pass, { slotId: 42 });

    expect(res.status).toBe(201);
    expect(await res.json()).toEqual(made);
    expect(seen.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([`POST ${config.originUrl}/api/bookings {"slotId":42}`]);
    // The next person in this line may be let in now, not when the pass expires.
    expect(await active()).toBe(0);
    expect(await completedAt()).not.toBeNull();
    expect((await callsOf(stub)).complete).toBe(1);
  });

  it("tells the shard nothing when the booking fails, so the citizen keeps their place to try again", async () => {
    const { stub, pass, completedAt, active } = await admittedCitizen(1, OTHER_COHORT);
    expect(await active()).toBe(1);

    const full = { error: { code: "slot_full", message: "this slot has no seats left" } };
    originAnswers(409, full);
    const refused = await send("POST", "/api/bookings", pass, { slotId: 42 });
    vi.restoreAllMocks();
    originAnswers(500, { error: { code: "internal", message: "the origin failed" } });
    const failed = await send("POST", "/api/bookings", pass, { slotId: 42 });

    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual(full);
    expect(failed.status).toBe(503);
    expect(await errorCode(failed)).toBe("unavailable");
    expect(await active()).toBe(1);
    expect(await completedAt()).toBeNull();
    expect((await callsOf(stub)).complete).toBe(0);
  });
});

describe("changing a booking through the gate", () => {
  it("forwards PATCH /api/bookings/{id} with a valid pass, body and all, passes the origin's answer back, and keeps the pass completed", async () => {
    const { stub, pass, completedAt } = await admittedCitizen(0);
    const moved = { booking: { id: BOOKING_ID, status: "booked" } };
    const { seen } = originAnswers(200, moved);
    const completions = (await callsOf(stub)).complete;
    expect(await completedAt()).toBeNull();

    const res = await patch(pass, { slotId: 42 });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(moved);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(seen).toEqual([
      { url: `${config.originUrl}/api/bookings/${BOOKING_ID}`, method: "PATCH", authorization: `Bearer ${pass}`, contentType: "application/json", body: JSON.stringify({ slotId: 42 }) },
    ]);
    // A move keeps a live booking, so the pass holds no capacity, as after booking.
    expect(await completedAt()).not.toBeNull();
    expect((await callsOf(stub)).complete).toBe(completions + 1);
  });

  it("reports nothing to the shard when the origin refuses the move", async () => {
    const { stub, pass, completedAt } = await admittedCitizen(1);
    const refusal = { error: { code: "slot_full", message: "this slot has no seats left; your booking is unchanged" } };
    originAnswers(409, refusal);
    const completions = (await callsOf(stub)).complete;

    const res = await patch(pass, { slotId: 42 });

    expect(res.status).toBe(409);
    expect(await res.json()).toEqual(refusal);
    expect(await completedAt()).toBeNull();
    expect((await callsOf(stub)).complete).toBe(completions);
  });

  it("refuses a PATCH without a valid pass before any origin is called", async () => {
    const now = Math.floor(Date.now() / 1000);
    const pass = await signPass(config, { sub: "c".repeat(43), jti: newTicketId(), cohort: COHORT, shard: 2, seq: 1, iat: now, exp: now + 600 });
    const { spy } = originAnswers(200, {});

    for (const presented of [undefined, `${pass.slice(0, -4)}AAAA`, "not-a-pass"]) {
      const res = await patch(presented, { slotId: 42 });
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("invalid_token");
    }
    expect(spy).not.toHaveBeenCalled();
  });
});

describe("re-joining after a cancel", () => {
  it("returns the same ticket and, on the status answer, the same live pass, with which the citizen books again", async () => {
    const { identity, ticket, pass, completedAt } = await admittedCitizen(3);
    originAnswers(201, { booking: { id: BOOKING_ID, status: "booked" } });
    expect((await send("POST", "/api/bookings", pass, { slotId: 42 })).status).toBe(201);
    expect(await completedAt()).not.toBeNull();
    // The cancel reaches the origin; the shard hears nothing of it.
    const cancelled = originAnswers(200, { booking: { id: BOOKING_ID, status: "cancelled" } });
    expect((await send("DELETE", `/api/bookings/${BOOKING_ID}`, pass)).status).toBe(200);
    expect(cancelled.seen.map((r) => r.method)).toEqual(["DELETE"]);

    const again = await join(identity);
    const answer = await status(again.ticket);

    expect(jwtParts(again.ticket).payload.jti).toBe(jwtParts(ticket).payload.jti);
    expect(again.previousPlaceExpired).toBe(false);
    expect(answer.state).toBe("admitted");
    // Re-signed, so not the same characters, but the same pass: same id, same times, still live.
    const [before, after] = [jwtParts(pass).payload, jwtParts(answer.pass!).payload];
    expect({ jti: after.jti, iat: after.iat, exp: after.exp }).toEqual({ jti: before.jti, iat: before.iat, exp: before.exp });
    expect(Number(after.exp) * 1000).toBeGreaterThan(Date.now());
    // And the gate lets it book again.
    const rebooked = originAnswers(201, { booking: { id: crypto.randomUUID(), status: "booked" } });
    expect((await send("POST", "/api/bookings", answer.pass!, { slotId: 43 })).status).toBe(201);
    expect(rebooked.seen.map((r) => `${r.method} ${r.body}`)).toEqual(['POST {"slotId":43}']);
  });
});
