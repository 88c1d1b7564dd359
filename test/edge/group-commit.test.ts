import { runInDurableObject } from "cloudflare:test";
import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { citizenTag } from "../../src/edge/identity/citizen-key.js";
import type { JoinResult } from "../../src/edge/shard/rpc.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import { freshShard, keyOf, randomIdentity, restartObject, stubOf } from "./helpers.js";

/**
 * Joins that reach a shard together are written in one SQLite transaction. Batching must change nothing a
 * citizen can see: arrival order, gap-free numbers, one ticket per citizen, nothing acknowledged and lost.
 */

async function commitsOf(stub: DurableObjectStub<TestQueueShard>) {
  return runInDurableObject(stub, (shard: TestQueueShard) => ({ ...shard.commits }));
}

/**
 * Joins fired without awaiting, so that they reach the object together, and the keys in the order the
 * object received them (TestQueueShard.recordArrivals: the vitest integration may reorder calls on their way).
 */
async function joinTogether(stub: DurableObjectStub<TestQueueShard>, keys: readonly string[]) {
  await runInDurableObject(stub, (shard: TestQueueShard) => shard.recordArrivals());
  const settled = await Promise.allSettled(keys.map((key) => stub.join(key)));
  const arrived = await runInDurableObject(stub, (shard: TestQueueShard) => shard.arrivalOrder());
  expect([...arrived].sort()).toEqual([...keys].sort());
  return { settled, arrived };
}

/** What the joins answered, failing the test on any refusal. */
function answers(settled: PromiseSettledResult<JoinResult>[]): JoinResult[] {
  return settled.map((s) => {
    if (s.status === "rejected") throw s.reason;
    return s.value;
  });
}

describe("group commit of joins", () => {
  it("gives 500 concurrent joins gap-free numbers in arrival order, in far fewer commits than joins", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const keys = await Promise.all(Array.from({ length: 500 }, () => keyOf(randomIdentity())));
    const { settled, arrived } = await joinTogether(stub, keys);
    const results = answers(settled);
    // The n-th join to arrive holds number n.
    expect(keys.map((key) => arrived.indexOf(key) + 1)).toEqual(results.map((r) => r.seq));
    expect(results.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.ticketId)).size).toBe(500);
    const commits = await commitsOf(stub);
    expect(commits.joins).toBe(500);
    // How the calls fall into turns of the object's event loop varies from run to run (under 100 batches
    // in most runs on an idle 2-core machine, 135 in one of six); one commit per join would be 500.
    expect(commits.batches).toBeLessThanOrEqual(250);
    // Every answer of a batch carries a snapshot that already counts the whole batch.
    expect(Math.max(...results.map((r) => r.snapshot.lastSeq))).toBe(500);
  });

  it("gives 50 racing joins of one citizen, in one batch, one ticket", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const [mine, other] = [await keyOf(randomIdentity()), await keyOf(randomIdentity())];
    const { settled, arrived } = await joinTogether(stub, [...Array<string>(50).fill(mine), other]);
    const results = answers(settled);
    expect(new Set(results.slice(0, 50).map((r) => r.ticketId)).size).toBe(1);
    // Whoever's first join arrived first holds number 1.
    const mineFirst = arrived.indexOf(mine) < arrived.indexOf(other);
    expect([results[0]!.seq, results[50]!.seq]).toEqual(mineFirst ? [1, 2] : [2, 1]);
    expect((await stub.snapshot()).lastSeq).toBe(2);
  });

  it("fails a bad join alone: the rest of its batch is written", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const keys = await Promise.all(Array.from({ length: 10 }, () => keyOf(randomIdentity())));
    // A key that is not base64url cannot be tagged; only the edge makes keys, so this stands for a bug.
    const { settled, arrived } = await joinTogether(stub, [...keys.slice(0, 5), "not a key!", ...keys.slice(5)]);
    expect(settled.map((s) => s.status)).toEqual([...Array(5).fill("fulfilled"), "rejected", ...Array(5).fill("fulfilled")]);
    const seqs = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value.seq] : []));
    // The good joins hold 1 to 10 in the order they arrived, as if the bad one had never come.
    const goodArrivals = arrived.filter((key) => key !== "not a key!");
    expect(seqs).toEqual(keys.map((key) => goodArrivals.indexOf(key) + 1));
  });

  it("loses nothing acknowledged when the object is evicted with a batch in flight", async () => {
    const address = freshShard();
    let stub = stubOf(address);
    const keys = await Promise.all(Array.from({ length: 100 }, () => keyOf(randomIdentity())));
    const inFlight = Promise.allSettled(keys.map((key) => stub.join(key)));
    stub = await restartObject(stub);
    const first = await inFlight;
    const acknowledged = new Map<string, { seq: number; ticketId: string }>();
    first.forEach((s, i) => {
      if (s.status === "fulfilled") acknowledged.set(keys[i]!, { seq: s.value.seq, ticketId: s.value.ticketId });
    });

    // Everyone tries again, as the edge does after a failed call: acknowledged places are kept, and the
    // line has exactly one ticket per citizen, numbered without gaps.
    const again = [];
    for (const key of keys) again.push(await stub.join(key));
    for (const [i, key] of keys.entries()) {
      const before = acknowledged.get(key);
      if (before) expect({ seq: again[i]!.seq, ticketId: again[i]!.ticketId }).toEqual(before);
    }
    expect(new Set(again.map((r) => r.ticketId)).size).toBe(100);
    expect(again.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect((await stub.snapshot()).lastSeq).toBe(100);
  });

  it("keeps two citizens whose lookup tags collide apart, before and after the object restarts", async () => {
    const address = freshShard();
    let stub = stubOf(address);
    // Two keys that differ only outside the 48 bits the tag is made of.
    const bytes = new Uint8Array(32).map((_, i) => i * 7);
    const first = Buffer.from(bytes).toString("base64url");
    bytes[20] = 255;
    const second = Buffer.from(bytes).toString("base64url");
    expect(citizenTag(first)).toBe(citizenTag(second));
    expect(first).not.toBe(second);

    const [a, b] = [await stub.join(first), await stub.join(second)];
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect((await stub.join(first)).ticketId).toBe(a.ticketId);
    expect((await stub.join(second)).ticketId).toBe(b.ticketId);

    // A new instance reads who holds which ticket from SQLite, not from the old instance's memory.
    stub = await restartObject(stub);
    expect((await stub.join(second)).ticketId).toBe(b.ticketId);
    expect((await stub.join(first)).ticketId).toBe(a.ticketId);
    const third = await stub.join(await keyOf(randomIdentity()));
    expect(third.seq).toBe(3);
  });
});
