import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import { callsOf, freshPrequeueShard, freshShard, keyOf, PREQUEUE_OPENED, randomIdentity, stubOf } from "./helpers.js";

/**
 * The test Worker's QueueShard counts what reaches it (test/workers/counting-queue-shard.ts); the poll
 * tests and the benchmarks judge the edge by these counts, so they must count each call once.
 */

async function commitsOf(stub: DurableObjectStub<TestQueueShard>) {
  return runInDurableObject(stub, (shard: TestQueueShard) => ({ ...shard.commits }));
}

describe("the test shard's counters", () => {
  it("count every RPC method by name, a join as JSON as a join", async () => {
    const stub = stubOf(freshShard());
    await stub.joinJson(await keyOf(randomIdentity()));
    await stub.snapshot();
    await stub.claim(1, "not-the-ticket");
    await stub.complete(1, "not-the-ticket");
    await stub.draw();
    await stub.drawPrefixes();
    await stub.reportHealth([]);
    await stub.seen([]);
    await stub.ranks(1);
    expect(await callsOf(stub)).toEqual({ join: 1, snapshot: 1, claim: 1, complete: 1, draw: 1, drawPrefixes: 1, reportHealth: 1, seen: 1, ranks: 1 });
    expect(await commitsOf(stub)).toEqual({ batches: 1, joins: 1 });
  });

  it("count a join once when its pre-queue path finds the opening has come and joins the line instead", async () => {
    const stub = stubOf(freshPrequeueShard());
    // The join reads the clock before the opening, sets off for the pre-queue, and finds it after.
    await runInDurableObject(stub, (shard: TestQueueShard) => {
      let reads = 0;
      shard.setClock(() => (reads++ === 0 ? PREQUEUE_OPENED.opensAt - 60_000 : PREQUEUE_OPENED.opensAt + 1_000));
    });
    const joined = await stub.join(await keyOf(randomIdentity()));
    expect(joined.prequeue).toBeUndefined();
    expect(joined.seq).toBe(1);
    expect((await callsOf(stub)).join).toBe(1);
    expect(await commitsOf(stub)).toEqual({ batches: 1, joins: 1 });
  });
});
