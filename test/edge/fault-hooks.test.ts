import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../../src/edge/app.js";
import { QueueShard } from "../../src/edge/shard/queue-shard.js";
import { TestQueueShard } from "../workers/test-queue-shard.js";
import { errorCode, freshShard, stubOf } from "./helpers.js";

/**
 * The fault suite's hook (test/workers/fault-routes.ts) is a test surface: the production app and object
 * do not have it, and the test Worker that mounts it serves nobody but this machine.
 */

const CLOCK = "/__faults/shards/55-59/0/clock";
const EVICT = "/__faults/shards/55-59/0/evict";
const FROM_HERE = { "content-type": "application/json", "cf-connecting-ip": "127.0.0.1" };

/** One request to the production app (src/edge/app.ts), not to the test Worker the tests run. */
async function production(url: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await createEdgeApp().fetch(new Request(url, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("the fault hooks", () => {
  it("are a 404 like any unknown path in the production app, even from this machine", async () => {
    for (const path of [CLOCK, EVICT]) {
      const res = await production(`http://127.0.0.1${path}`, { method: "POST", headers: FROM_HERE, body: JSON.stringify({ offsetMs: 60_000 }) });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
  });

  it("are not methods of the production QueueShard", () => {
    expect(Object.getOwnPropertyNames(TestQueueShard.prototype)).toContain("injectFault");
    for (const hook of ["injectFault", "setClock"]) expect(hook in QueueShard.prototype).toBe(false);
  });

  it("refuse a request that is not from this machine", async () => {
    for (const [from, host] of [["203.0.113.7", "127.0.0.1"], ["127.0.0.1", "waiting-room.example"], ["", "127.0.0.1"]] as const) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (from) headers["cf-connecting-ip"] = from;
      const res = await SELF.fetch(`http://${host}${CLOCK}`, { method: "POST", headers, body: JSON.stringify({ offsetMs: 1 }) });
      expect(res.status).toBe(403);
      expect(await errorCode(res)).toBe("invalid_request");
    }
  });

  it("move a shard's clock and evict it for a request from this machine", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const hook = (action: string, body?: unknown) =>
      SELF.fetch(`http://127.0.0.1/__faults/shards/${address.cohort}/${address.shard}/${action}`, {
        method: "POST",
        headers: FROM_HERE,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const moved = await hook("clock", { offsetMs: 3_600_000 });
    expect(moved.status).toBe(200);
    expect(Math.abs((await stub.snapshot()).at - (Date.now() + 3_600_000))).toBeLessThan(5_000);
    const evicted = await hook("evict");
    expect(evicted.status).toBe(200);
    expect(await evicted.json()).toMatchObject({ ...address, evicted: true });
    // A new instance (reached through a new stub: the old one saw its object abort), on the runtime's clock.
    expect(Math.abs((await stubOf(address).snapshot()).at - Date.now())).toBeLessThan(5_000);
  });
});
