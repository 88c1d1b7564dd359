import { runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signPass } from "../../src/edge/passes.js";
import type { QueueShard } from "../../src/edge/queue-shard.js";
import { callsOf, config, errorCode, freshShard, keyOf, ORIGIN, randomIdentity, setClock, stubOf } from "./helpers.js";

/**
 * The gate in front of the booking API: which requests reach the origin, with what, and when it tells
 * the citizen's shard that their pass no longer needs to hold capacity. The origin is played by a stub
 * of the Worker's outbound fetch (nothing listens at ORIGIN_URL in these tests).
 */

const BOOKING_ID = "0b6f5c1e-8d3a-4f2b-9c7e-1a2b3c4d5e6f";

/** A citizen admitted in a fresh shard who has claimed their pass, as the status route would sign it. */
async function admittedCitizen() {
  const address = freshShard(0);
  const stub = stubOf(address);
  // The real time: the pass's times come from the object's clock, and the gate checks them against its own.
  await setClock(stub, Date.now());
  const key = await keyOf(randomIdentity());
  const joined = await stub.join(address, key);
  // An empty shard lets its first arrival straight in.
  const claim = await stub.claim(address, joined.seq, joined.ticketId);
  expect(claim.state).toBe("admitted");
  const pass = await signPass(config, { sub: key, jti: joined.ticketId, cohort: address.cohort, shard: address.shard, seq: joined.seq, iat: claim.pass!.iat, exp: claim.pass!.exp });
  const completedAt = () =>
    runInDurableObject(stub, (_shard: QueueShard, state) =>
      state.storage.sql.exec<{ completed_at: number | null }>("SELECT completed_at FROM tickets WHERE seq = ?", joined.seq).one().completed_at,
    );
  return { stub, pass, completedAt };
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

function patch(pass: string | undefined, body: unknown, id = BOOKING_ID): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/bookings/${id}`, {
    method: "PATCH",
    headers: { "content-type": "application/json", ...(pass === undefined ? {} : { authorization: `Bearer ${pass}` }) },
    body: JSON.stringify(body),
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("changing a booking through the gate", () => {
  it("forwards PATCH /api/bookings/{id} with a valid pass, body and all, and passes the origin's answer back", async () => {
    const { pass } = await admittedCitizen();
    const moved = { booking: { id: BOOKING_ID, status: "booked" } };
    const { seen } = originAnswers(200, moved);

    const res = await patch(pass, { slotId: 42 });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(moved);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(seen).toEqual([
      { url: `${config.originUrl}/api/bookings/${BOOKING_ID}`, method: "PATCH", authorization: `Bearer ${pass}`, contentType: "application/json", body: JSON.stringify({ slotId: 42 }) },
    ]);
  });

  it("keeps a moved booking's pass completed, so it holds no capacity", async () => {
    const { stub, pass, completedAt } = await admittedCitizen();
    originAnswers(200, { booking: { id: BOOKING_ID } });
    expect(await completedAt()).toBeNull();

    await patch(pass, { slotId: 42 });

    expect(await completedAt()).not.toBeNull();
    expect((await callsOf(stub)).complete).toBe(1);
  });

  it("reports nothing to the shard when the origin refuses the move", async () => {
    const { stub, pass, completedAt } = await admittedCitizen();
    const refusal = { error: { code: "slot_full", message: "this slot has no seats left; your booking is unchanged" } };
    originAnswers(409, refusal);

    const res = await patch(pass, { slotId: 42 });

    expect(res.status).toBe(409);
    expect(await res.json()).toEqual(refusal);
    expect(await completedAt()).toBeNull();
    expect((await callsOf(stub)).complete).toBe(0);
  });

  it("refuses a PATCH without a valid pass before any origin is called", async () => {
    const { spy } = originAnswers(200, {});
    const forged = `${(await admittedCitizen()).pass.slice(0, -4)}AAAA`;

    for (const pass of [undefined, forged, "not-a-pass"]) {
      const res = await patch(pass, { slotId: 42 });
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("invalid_token");
    }
    expect(spy).not.toHaveBeenCalled();
  });
});

describe("re-joining after a cancel", () => {
  it("returns the same ticket and the same live pass, with which the citizen books again", async () => {
    const address = freshShard(0);
    const stub = stubOf(address);
    await setClock(stub, Date.now());
    const key = await keyOf(randomIdentity());
    const joined = await stub.join(address, key);
    const first = await stub.claim(address, joined.seq, joined.ticketId);
    // Booked (the gate reports it), then cancelled at the origin: the shard hears nothing of a cancel.
    expect(await stub.complete(joined.seq, joined.ticketId)).toEqual({ completed: true });

    const again = await stub.join(address, key);
    const claim = await stub.claim(address, again.seq, again.ticketId);

    expect(again).toMatchObject({ ticketId: joined.ticketId, seq: joined.seq, replacedExpired: false });
    // The same times and jti: the status route signs the very pass the citizen held, still live.
    expect(claim).toEqual(first);
    expect(claim.pass!.exp * 1000).toBeGreaterThan(Date.now());
  });
});
