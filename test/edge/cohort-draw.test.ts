import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { drawInfo, type DrawInfo } from "../../src/contract/queue.js";
import type { RankRun } from "../../src/edge/cohort/cohort-line.js";
import { aheadInDraw, drawPosition, neededBefore, type ShardValues } from "../../src/edge/prequeue/draw-order.js";
import { cohortSeed, drawValue } from "../../src/edge/prequeue/draw.js";
import { forgetDraws } from "../../src/edge/prequeue/published-draw.js";
import { forgetSnapshots } from "../../src/edge/queue/snapshot-cache.js";
import type { TestCohortCoordinator } from "../workers/test-cohort-coordinator.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import { signTicket } from "../../src/edge/tokens/ticket.js";
import { callsOf, config, keyOf, ORIGIN, pollInIsolate, PREQUEUE_OPENED, randomIdentity, setClock, status, stubOf } from "./helpers.js";

/**
 * The pre-queue's draw orders the whole cohort: one seeded order across the shards, merged from the
 * published lists by (bucket of the value's first three hex digits, shard, value). A draw ranked within
 * each shard, a merge that puts shard before bucket, or a status that gives the shard's own rank fails here.
 */

const { prequeueOpensAt, opensAt } = PREQUEUE_OPENED;
const DURING_PREQUEUE = prequeueOpensAt + 30 * 60_000;
/** The cohort whose shards keep one line (vitest.config.ts); only this file uses it. */
const ONE_LINE = { cohort: "pq-line", birthDate: "1932-04-05" };

/** 64 hex digits starting with `prefix`, padded with `fill`. */
const hex = (prefix: string, fill = "0") => prefix.padEnd(64, fill);

/** The test's own reading of the published rule: every value with its shard, sorted by (bucket, shard, value). */
function mergedByRule(lists: readonly ShardValues[]): Array<{ shard: number; value: string }> {
  const bucket = (v: string) => parseInt(v.slice(0, 3), 16);
  return lists
    .flatMap((l) => l.values.map((value) => ({ shard: l.shard, value })))
    .sort((a, b) => bucket(a.value) - bucket(b.value) || a.shard - b.shard || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** Whether two shards hold values of one bucket, so the shard's index decides between them. */
function shardsShareABucket(lists: readonly ShardValues[]): boolean {
  const owner = new Map<string, number>();
  for (const l of lists) {
    for (const v of l.values) {
      const seen = owner.get(v.slice(0, 3));
      if (seen !== undefined && seen !== l.shard) return true;
      owner.set(v.slice(0, 3), l.shard);
    }
  }
  return false;
}

describe("the cohort's one draw order (draw-order.ts)", () => {
  // Bucket 0aa holds shard 0's 0aa9… and shard 2's smaller 0aa1…: the lower shard goes first within a bucket.
  const lists: ShardValues[] = [
    { shard: 0, values: [hex("0aa9"), hex("3c0"), hex("3c1")] },
    { shard: 1, values: [hex("0a9f", "f"), hex("3c0", "1"), hex("fff")] },
    { shard: 2, values: [hex("0aa1"), hex("500")] },
  ];

  it("merges the shards' lists by bucket, then shard, then value", () => {
    const expected = mergedByRule(lists);
    // Shard 1's 0a9f… first (a lower bucket); then bucket 0aa: shard 0's 0aa9… before shard 2's 0aa1…; then
    // bucket 3c0: shard 0's, then shard 1's.
    expect(expected.map((e) => e.shard)).toEqual([1, 0, 2, 0, 1, 0, 2, 1]);
    for (const l of lists) {
      l.values.forEach((value, index) => {
        expect(drawPosition(lists, l.shard, index)).toBe(expected.findIndex((e) => e.value === value) + 1);
      });
    }
    // Shard 2's 500…: all three of shard 0's, shard 1's 0a9f… and 3c0…, and its own 0aa1… before it.
    expect(aheadInDraw(lists, 2, 1)).toEqual([3, 2, 1]);
  });

  it("says how much of each list must be in for the ones let in to have gone in order", () => {
    // Shard 1 let in its 3c0…: everyone of buckets below 3c0, and shard 0's 3c0… (a lower shard), must be in.
    expect(neededBefore(lists, [0, 2, 0])).toEqual([2, 1, 1]);
    // The first of each list in: shard 2's 0aa1… needed shard 0's 0aa9… and shard 1's 0a9f…, which are in.
    expect(neededBefore(lists, [1, 1, 1])).toEqual([1, 1, 0]);
    expect(neededBefore(lists, [0, 0, 0])).toEqual([0, 0, 0]);
  });
});

function getDraw(cohort: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/cohorts/${cohort}/draw`);
}

function coordinatorOf(cohort: string): DurableObjectStub<TestCohortCoordinator> {
  return env.COHORT_COORDINATOR.getByName(cohort) as unknown as DurableObjectStub<TestCohortCoordinator>;
}

async function setCoordinatorClock(cohort: string, at: number): Promise<void> {
  await runInDurableObject(coordinatorOf(cohort), (coordinator: TestCohortCoordinator) => coordinator.setClock(() => at));
}

/**
 * The opening as the runtime brings it: each shard places its pre-queue at its first moment at or after
 * `opensAt` (here: when asked for its draw, as the Worker's first question after the opening does; its
 * alarm at the opening does the same) and reports to the coordinator, one shard after another, highest
 * index first, so that report order and shard order disagree. Then two beats, so every shard hears its ranks.
 */
async function openCohort(cohort: string, shards: Array<DurableObjectStub<TestQueueShard>>): Promise<void> {
  await setCoordinatorClock(cohort, opensAt);
  for (const stub of [...shards].reverse()) {
    await setClock(stub, opensAt);
    await stub.draw();
    await runDurableObjectAlarm(stub);
  }
  for (const at of [opensAt + 1_000, opensAt + 2_000]) {
    await setCoordinatorClock(cohort, at);
    for (const stub of shards) {
      await setClock(stub, at);
      await runDurableObjectAlarm(stub);
    }
  }
}

/** Shards keeping one line, on the tests' clock during the pre-queue; the coordinator's clock too. */
async function coordinatedShards(cohort: string, indexes: readonly number[]): Promise<Array<DurableObjectStub<TestQueueShard>>> {
  const shards = indexes.map((shard) => stubOf({ cohort, shard }));
  for (const stub of shards) {
    await stub.setCoordinated(true);
    await setClock(stub, DURING_PREQUEUE);
  }
  await setCoordinatorClock(cohort, DURING_PREQUEUE);
  return shards;
}

/**
 * Citizens join the shards in turn during the pre-queue until two shards hold values of one bucket, so
 * that the shard's index has to decide between them: each with the ticket the edge gives a pre-queue join
 * (no place yet), and the shards' lists as the test computes them from the seed.
 */
async function joinUntilShardsShareABucket(cohort: string, indexes: readonly number[]): Promise<{ lists: ShardValues[]; tickets: string[] }> {
  const seed = await cohortSeed(config.drawSecret, cohort);
  const lists = indexes.map((shard) => ({ shard, values: [] as string[] }));
  const tickets: string[] = [];
  // About a hundred joins; two thousand without a shared bucket would mean the values are not spread.
  for (let i = 0; i < 2_000 && !shardsShareABucket(lists); i++) {
    const shard = indexes[i % indexes.length]!;
    const key = await keyOf(randomIdentity());
    const joined = await stubOf({ cohort, shard }).join(key);
    expect(joined.prequeue).toBe(true);
    tickets.push(await signTicket(config, { sub: key, jti: joined.ticketId, cohort, shard }, Date.now()));
    lists[i % indexes.length]!.values.push(await drawValue(seed, joined.ticketId));
  }
  expect(shardsShareABucket(lists)).toBe(true);
  return { lists, tickets };
}

describe("a pre-queue cohort whose shards keep one line, at its opening", () => {
  const indexes = Array.from({ length: config.shards }, (_, i) => i);
  let lists: ShardValues[];
  let tickets: string[];

  // Read-only from here: both tests look at the one opening (about a hundred joins, on a busy machine).
  beforeAll(async () => {
    const shards = await coordinatedShards(ONE_LINE.cohort, indexes);
    ({ lists, tickets } = await joinUntilShardsShareABucket(ONE_LINE.cohort, indexes));
    await openCohort(ONE_LINE.cohort, shards);
    forgetDraws();
    forgetSnapshots();
  }, 60_000);

  it("tells each citizen their position in the cohort's one order, as anyone recomputes it from the published draw", { timeout: 60_000 }, async () => {
    const seed = await cohortSeed(config.drawSecret, ONE_LINE.cohort);
    const published: DrawInfo = drawInfo.parse(await (await getDraw(ONE_LINE.cohort)).json());
    expect(published.seed).toBe(seed);
    expect(published.order).toEqual({ by: ["bucket", "shard", "value"], bucketHexDigits: 3 });
    const revealed = published.shards!;
    expect(revealed.every((s) => s.placed)).toBe(true);
    expect(revealed.map((s) => s.values)).toEqual(lists.map((l) => [...l.values].sort()));

    const merged = mergedByRule(revealed);
    for (const ticket of tickets) {
      const answer = await status(ticket);
      const draw = answer.draw!;
      expect(draw.value).toBe(await drawValue(seed, draw.ticketId));
      expect(draw.rank).toBe(merged.findIndex((m) => m.value === draw.value) + 1);
      expect(draw.of).toBe(tickets.length);
      const own = revealed[draw.shard]!;
      expect(answer.seq).toBe(own.firstSeq + own.values.indexOf(draw.value));
    }
  });

  it("lets a crowd polling at once after the opening wait for one call per shard fetching its list, instead of each calling", async () => {
    forgetDraws();
    const stubs = indexes.map((shard) => stubOf({ cohort: ONE_LINE.cohort, shard }));
    const before = await Promise.all(stubs.map(async (stub) => await callsOf(stub)));
    const answers = await Promise.all(tickets.map((ticket) => pollInIsolate(ticket)));
    expect(answers.every((res) => res.status === 200)).toBe(true);
    const after = await Promise.all(stubs.map(async (stub) => await callsOf(stub)));
    // Every poll needs every shard's list (as prefixes, 8 bytes a value): the isolate fetches each once,
    // and never the full lists, which only the public draw page needs.
    expect(after.map((n, i) => n.drawPrefixes - before[i]!.drawPrefixes)).toEqual(indexes.map(() => 1));
    expect(after.map((n, i) => n.draw - before[i]!.draw)).toEqual(indexes.map(() => 0));
  });

  // The coordinator ranks the pre-queue by the same rule: the line lets people in in the draw's order.
  it("ranks the pre-queue of every shard in that one order", async () => {
    const ranked: Array<{ rank: number; value: string }> = [];
    for (const shard of indexes) {
      const { firstSeq, values } = await stubOf({ cohort: ONE_LINE.cohort, shard }).draw();
      const { runs } = await stubOf({ cohort: ONE_LINE.cohort, shard }).ranks(firstSeq);
      values.forEach((value, index) => {
        const seq = firstSeq + index;
        const run = (runs as RankRun[]).find(([first, count]) => seq >= first && seq < first + count);
        ranked.push({ rank: run ? run[2] + seq - run[0] : Number.NaN, value });
      });
    }
    ranked.sort((a, b) => a.rank - b.rank);
    // Ranks 0, 1, 2, … with no gap: the whole pre-queue ahead of any later join, in the one order.
    expect(ranked.map((r) => r.rank)).toEqual(ranked.map((_, i) => i));
    expect(ranked.map((r) => r.value)).toEqual(mergedByRule(lists).map((m) => m.value));
  });
});
