import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type Edge } from "../../bench/lib/miniflare.js";
import { slotsResponse } from "../../src/contract/booking.js";
import { edgeConfig } from "../../src/edge/config.js";
import { signPass } from "../../src/edge/tokens/pass.js";

/**
 * Slot availability from the edge's cache, counted where it matters: at an HTTP origin this test runs,
 * behind the edge in workerd (the bundle a deploy makes, with its Cache API), which counts the slot reads
 * that reach it. Many admitted citizens reading the same region and day within the cache's second cost
 * the origin one read; a booking reaches it every time.
 */

let origin: Server;
const reads: string[] = [];
let bookings = 0;
let edge: Edge;

beforeAll(async () => {
  origin = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin.test");
    res.setHeader("content-type", "application/json");
    if (url.pathname === "/api/slots") {
      reads.push(url.search);
      res.end(JSON.stringify({ slots: [{ id: 1, clinic: { id: 1, name: "시험의원", region: "11", address: "서울특별시" }, startsAt: "2031-07-26T00:00:00.000Z", capacity: 10, remaining: 10 }] }));
      return;
    }
    bookings++;
    res.statusCode = 409;
    res.end(JSON.stringify({ error: { code: "slot_full", message: "this slot has no seats left" } }));
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  edge = await startEdge({ bundle: "edge", vars: { ORIGIN_URL: `http://127.0.0.1:${(origin.address() as AddressInfo).port}`, SHARDS: "1" } });
});

afterAll(async () => {
  await edge?.dispose();
  await new Promise((resolve) => origin?.close(resolve));
});

/** Passes as the edge signs them for admitted citizens (the edge's own key, from its bindings). */
async function passes(n: number): Promise<string[]> {
  const config = edgeConfig(edge.vars as unknown as Env);
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: n }, (_, i) => signPass(config, { sub: `citizen-${i}-${crypto.randomUUID()}`, jti: crypto.randomUUID(), cohort: "55-59", shard: 0, seq: i + 1, iat: now, exp: now + 600 })),
  );
}

describe("slot reads through the edge, counted at the origin", () => {
  it("costs the origin one read for 40 citizens reading the same region and day at once", async () => {
    const all = await passes(40);
    const answers = await Promise.all(all.map((pass) => fetch(`${edge.url}/api/slots?region=11&date=2031-07-26`, { headers: { authorization: `Bearer ${pass}` } })));
    expect(answers.map((a) => a.status)).toEqual(all.map(() => 200));
    for (const a of answers) expect(slotsResponse.parse(await a.json()).slots).toHaveLength(1);
    expect(reads).toEqual(["?region=11&date=2031-07-26"]);
  });

  it("sends every booking to the origin, whose slot_full stands", async () => {
    const before = bookings;
    for (const pass of await passes(3)) {
      const res = await fetch(`${edge.url}/api/bookings`, {
        method: "POST",
        headers: { authorization: `Bearer ${pass}`, "content-type": "application/json" },
        body: JSON.stringify({ slotId: 1 }),
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("slot_full");
    }
    expect(bookings - before).toBe(3);
  });
});
