import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { drawInfo } from "../../src/contract/queue.js";
import { drawCommitment, drawSeed, drawValue, fromHex, rankOf, toHex } from "../../src/edge/prequeue/draw.js";
import { errorCode, idToken, ORIGIN, postJoin, randomIdentity } from "./helpers.js";

function getDraw(cohort: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/cohorts/${cohort}/draw`);
}

/** The order a seed puts `tickets` in: their indexes, smallest draw value first. */
async function orderOf(seed: string, tickets: string[]): Promise<number[]> {
  const values = await Promise.all(tickets.map((t) => drawValue(seed, t)));
  return tickets.map((_, i) => i).sort((a, b) => (values[a]! < values[b]! ? -1 : 1));
}

describe("the draw's arithmetic", () => {
  it("is the standard HMAC-SHA256 and SHA-256, so anyone's tools recompute it", async () => {
    // RFC 4231, test case 2: key "Jefe".
    const jefe = toHex(new TextEncoder().encode("Jefe"));
    expect(await drawValue(jefe, "what do ya want for nothing?")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // SHA-256 of 32 zero bytes.
    expect(await drawCommitment("00".repeat(32))).toBe("66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
    expect(toHex(fromHex("00ff7a"))).toBe("00ff7a");
  });

  it("is deterministic for a seed and differs between cohorts and secrets", async () => {
    const seed = await drawSeed("a-draw-secret-of-at-least-32-characters", "55-59");
    expect(await drawSeed("a-draw-secret-of-at-least-32-characters", "55-59")).toBe(seed);
    expect(await drawSeed("a-draw-secret-of-at-least-32-characters", "53-54")).not.toBe(seed);
    expect(await drawSeed("another-draw-secret-of-32-characters!!", "55-59")).not.toBe(seed);
    const tickets = Array.from({ length: 50 }, (_, i) => `ticket-${i}`);
    expect(await orderOf(seed, tickets)).toEqual(await orderOf(seed, tickets));
  });

  it("finds a value's rank in the published list, and nothing for a value not in it", () => {
    const sorted = ["0a", "3f", "77", "c0"].map((v) => v.repeat(32));
    expect(sorted.map((v) => rankOf(sorted, v))).toEqual([0, 1, 2, 3]);
    expect(rankOf(sorted, "55".repeat(32))).toBe(-1);
    expect(rankOf([], "55".repeat(32))).toBe(-1);
  });

  it("shuffles uniformly: over 2,400 fixed seeds each of the 24 orders of four tickets comes up as often as chance allows", async () => {
    const tickets = ["t-alpha", "t-bravo", "t-charlie", "t-delta"];
    const counts = new Map<string, number>();
    // Each of the four tickets at each of the four places: a second, finer look at the same draws.
    const atPlace = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
    const trials = 2_400;
    for (let i = 0; i < trials; i++) {
      const order = await orderOf(await drawSeed("uniformity-test-secret-32-characters", `cohort-${i}`), tickets);
      counts.set(order.join(""), (counts.get(order.join("")) ?? 0) + 1);
      order.forEach((ticket, place) => atPlace[ticket]![place]!++);
    }
    expect(counts.size).toBe(24);
    const expectedOrder = trials / 24;
    const chiOrders = [...counts.values()].reduce((sum, n) => sum + (n - expectedOrder) ** 2 / expectedOrder, 0);
    // 23 degrees of freedom: above 49.7 happens by chance once in a thousand.
    expect(chiOrders).toBeLessThan(49.7);
    const expectedPlace = trials / 4;
    const chiPlaces = atPlace.flat().reduce((sum, n) => sum + (n - expectedPlace) ** 2 / expectedPlace, 0);
    // (4 - 1)(4 - 1) = 9 degrees of freedom: above 27.9 once in a thousand.
    expect(chiPlaces).toBeLessThan(27.9);
  });
});

describe("GET /api/cohorts/{id}/draw", () => {
  it("publishes the commitment before the first pre-queue join, and it never changes", async () => {
    const before = await getDraw("pq-now");
    expect(before.status).toBe(200);
    const committed = drawInfo.parse(await before.json());
    expect(committed.seed).toBeUndefined();
    expect(committed.shards).toBeUndefined();
    // Cacheable, but never past the opening, when the answer changes.
    expect(before.headers.get("cache-control")).toBe("public, max-age=300");

    const joined = await postJoin({ idToken: await idToken(randomIdentity(), "1952-06-07") });
    expect(joined.status).toBe(200);
    const after = drawInfo.parse(await (await getDraw("pq-now")).json());
    expect(after.commitment).toBe(committed.commitment);
  });

  it("is announced with the cohort: /api/cohorts names when each pre-queue starts", async () => {
    const { cohorts } = (await (await SELF.fetch(`${ORIGIN}/api/cohorts`)).json()) as { cohorts: Array<{ id: string; prequeueOpensAt?: string }> };
    expect(cohorts.find((c) => c.id === "pq-later")?.prequeueOpensAt).toBe("2099-06-01T00:00:00Z");
    expect(cohorts.find((c) => c.id === "55-59")?.prequeueOpensAt).toBeUndefined();
  });

  it("reveals, after the opening, a seed that hashes to the commitment", async () => {
    const revealed = drawInfo.parse(await (await getDraw("pq-opened")).json());
    expect(revealed.seed).toMatch(/^[0-9a-f]{64}$/);
    expect(await drawCommitment(revealed.seed!)).toBe(revealed.commitment);
    for (const shard of revealed.shards!) expect([...shard.values].sort()).toEqual(shard.values);
  });

  it("is 409 before the pre-queue starts and 404 for a cohort with no pre-queue or none at all", async () => {
    const early = await getDraw("pq-later");
    expect(early.status).toBe(409);
    expect(await errorCode(early)).toBe("cohort_not_open");
    for (const cohort of ["55-59", "no-such-cohort"]) {
      const res = await getDraw(cohort);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
  });
});
