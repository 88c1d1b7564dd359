import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, parseEdgeConfig } from "../../src/edge/config.js";
import { cohortSeed, drawValue } from "../../src/edge/prequeue/draw.js";
import { drawPosition } from "../../src/edge/prequeue/draw-order.js";
import { forgetDraws } from "../../src/edge/prequeue/published-draw.js";
import type { JoinResult } from "../../src/edge/shard/rpc.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import { forgetSnapshots } from "../../src/edge/queue/snapshot-cache.js";
import { config, errorCode, freshPrequeueShard, getStatus, idToken, jwtParts, keyOf, ORIGIN, postJoin, PREQUEUE_OPENED, randomIdentity, restartObject, setClock, status, stubOf } from "./helpers.js";

const { opensAt, prequeueOpensAt } = PREQUEUE_OPENED;
const DURING_PREQUEUE = prequeueOpensAt + 30 * 60_000;

async function keys(n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, () => keyOf(randomIdentity())));
}

/** The draw value the edge gives a ticket of the pre-queue cohort, computed here from the secret. */
async function valueOf(ticketId: string): Promise<string> {
  return drawValue(await cohortSeed(config.drawSecret, PREQUEUE_OPENED.cohort), ticketId);
}

describe("the pre-queue's configuration", () => {
  const good = env as unknown as Record<string, unknown>;
  const cohort = { id: "x", label: { ko: "가", en: "X" }, birthYears: [1900, 1901], opensAt: "2030-01-01T20:00:00+09:00" };

  it("refuses a pre-queue that does not start before the opening, naming the cohort and the binding", () => {
    for (const prequeueOpensAt of ["2030-01-01T20:00:00+09:00", "2030-01-01T12:00:00Z"]) {
      expect(() => parseEdgeConfig({ ...good, COHORTS: JSON.stringify([{ ...cohort, prequeueOpensAt }]) })).toThrow(
        /COHORTS.*cohort x: prequeueOpensAt must be before opensAt/,
      );
    }
    expect(() => parseEdgeConfig({ ...good, COHORTS: JSON.stringify([{ ...cohort, prequeueOpensAt: "soon" }]) })).toThrow(ConfigError);
    const parsed = parseEdgeConfig({ ...good, COHORTS: JSON.stringify([{ ...cohort, prequeueOpensAt: "2030-01-01T19:00:00+09:00" }]) });
    expect(parsed.cohorts[0]!.prequeueOpensAt).toBe("2030-01-01T19:00:00+09:00");
  });

  it("requires DRAW_SECRET, by name", () => {
    expect(() => parseEdgeConfig({ ...good, DRAW_SECRET: undefined })).toThrow(/DRAW_SECRET is required/);
    expect(() => parseEdgeConfig({ ...good, DRAW_SECRET: "short" })).toThrow(/DRAW_SECRET must be at least 32/);
  });
});

describe("joining a cohort with a pre-queue", () => {
  it("is refused before the pre-queue starts, with the moment it does", async () => {
    const res = await postJoin({ idToken: await idToken(randomIdentity(), "1955-01-01") });
    expect(res.status).toBe(409);
    const body = (await res.clone().json()) as { error: { opensAt: string; cohort: string } };
    expect(await errorCode(res)).toBe("cohort_not_open");
    expect(body.error).toMatchObject({ opensAt: "2099-06-01T00:00:00Z", cohort: "pq-later" });
  });

  it("is accepted in the pre-queue with no place, says when the line opens, and gives the same ticket again", async () => {
    const identity = randomIdentity();
    const first = await postJoin({ idToken: await idToken(identity, "1951-02-03") });
    expect(first.status).toBe(200);
    const joined = (await first.json()) as { ticket: string; status: Record<string, unknown> };
    expect(joined.status).toMatchObject({ state: "prequeue", cohort: "pq-now", opensAt: "2099-07-01T00:00:00Z", etaSeconds: null });
    expect(joined.status.seq).toBeUndefined();
    // The ticket carries no place either: the draw gives it one at the opening.
    expect(jwtParts(joined.ticket).payload.seq).toBeUndefined();

    const polled = await status(joined.ticket);
    expect(polled).toMatchObject({ state: "prequeue", opensAt: "2099-07-01T00:00:00Z" });
    expect(polled.draw).toBeUndefined();

    const again = (await (await postJoin({ idToken: await idToken(identity, "1951-02-03") })).json()) as { ticket: string };
    expect(jwtParts(again.ticket).payload.jti).toBe(jwtParts(joined.ticket).payload.jti);
  });
});

/** A fresh shard of the pre-queue cohort with `n` citizens joined, one after another, during its pre-queue. */
async function prequeueOfFreshShard(n: number) {
  const stub = stubOf(freshPrequeueShard());
  await setClock(stub, DURING_PREQUEUE);
  const early = await keys(n);
  const prequeued: JoinResult[] = [];
  for (const key of early) prequeued.push(await stub.join(key));
  return { stub, early, prequeued };
}

describe("the opening of a pre-queue", () => {
  it("places every pre-queue ticket in draw order, ahead of everyone who joins after, and admits from the opening", async () => {
    const { stub, early, prequeued } = await prequeueOfFreshShard(12);
    expect(prequeued.every((j) => j.prequeue === true && j.seq === 0)).toBe(true);

    // A minute before the opening time passes, but nobody is let in and nothing is placed.
    await setClock(stub, opensAt - 1);
    expect(await stub.snapshot()).toMatchObject({ lastSeq: 0, serving: 0 });
    expect((await stub.draw()).placedAt).toBeNull();

    await setClock(stub, opensAt);
    const late = await keys(5);
    const after: JoinResult[] = [];
    for (const key of late) after.push(await stub.join(key));
    expect(after.map((j) => [j.seq, j.prequeue])).toEqual([13, 14, 15, 16, 17].map((seq) => [seq, undefined]));

    // Each pre-queue citizen's place is their draw value's rank: smallest value first.
    const values = await Promise.all(prequeued.map((j) => valueOf(j.ticketId)));
    const sorted = [...values].sort();
    const draw = await stub.draw();
    expect(draw).toMatchObject({ placedAt: opensAt, firstSeq: 1, values: sorted });
    for (let i = 0; i < early.length; i++) {
      const placed = await stub.join(early[i]!);
      expect(placed.ticketId).toBe(prequeued[i]!.ticketId);
      expect(placed.seq).toBe(sorted.indexOf(values[i]!) + 1);
    }
    // Admissions began at the opening, from the front of the draw.
    const snap = await stub.snapshot();
    expect(snap.serving).toBeGreaterThan(0);
    expect(snap.serving).toBeLessThanOrEqual(early.length);
  });

  it("never admits a ticket that joined before the opening behind one that joined after, even with joins in flight across it", async () => {
    const stub = stubOf(freshPrequeueShard());
    // A clock that crosses the opening while joins are on their way: some land before it, some after.
    await runInDurableObject(stub, (shard: TestQueueShard) => {
      let reads = 0;
      shard.setClock(() => (reads++ < 20 ? DURING_PREQUEUE : opensAt + 1_000));
    });
    const citizens = await keys(30);
    const answers = await Promise.all(citizens.map((key) => stub.join(key)));
    await setClock(stub, opensAt + 2_000);
    const before = answers.flatMap((a, i) => (a.prequeue ? [i] : []));
    const afterwards = answers.flatMap((a, i) => (a.prequeue ? [] : [i]));
    expect(before.length).toBeGreaterThan(0);
    expect(afterwards.length).toBeGreaterThan(0);

    const places = await Promise.all(citizens.map(async (key) => (await stub.join(key)).seq));
    const lastOfPrequeue = Math.max(...before.map((i) => places[i]!));
    const firstAfter = Math.min(...afterwards.map((i) => places[i]!));
    expect(lastOfPrequeue).toBe(before.length);
    expect(firstAfter).toBe(before.length + 1);
    // Every place 1..30 is held once: the line has no gap and no double.
    expect([...places].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    // Let the line run a while, then ask each ticket: no one who joined after the opening is in while
    // someone of the pre-queue still waits.
    await setClock(stub, opensAt + 45_000);
    const states = await Promise.all(answers.map((a, i) => stub.claim(places[i]!, a.ticketId)));
    const admitted = states.flatMap((c, i) => (c.state === "admitted" ? [i] : []));
    expect(admitted.length).toBeGreaterThan(0);
    for (const i of before) expect(states[i]!.state === "waiting" && admitted.some((j) => afterwards.includes(j))).toBe(false);
  });

  it("survives an eviction before and at the opening: placed once, in the same order", async () => {
    const prequeue = await prequeueOfFreshShard(8);
    const { early, prequeued } = prequeue;

    let stub = await restartObject(prequeue.stub);
    await setClock(stub, DURING_PREQUEUE + 1_000);
    // The pre-queue kept every ticket: joining again gives the same ones.
    for (let i = 0; i < early.length; i++) expect((await stub.join(early[i]!)).ticketId).toBe(prequeued[i]!.ticketId);

    await setClock(stub, opensAt + 500);
    const placed = await stub.draw();
    stub = await restartObject(stub);
    await setClock(stub, opensAt + 1_500);
    const again = await stub.draw();
    expect(again).toEqual(placed);
    expect(placed.values).toEqual((await Promise.all(prequeued.map((j) => valueOf(j.ticketId)))).sort());
    const next = await stub.join(await keyOf(randomIdentity()));
    expect(next.seq).toBe(early.length + 1);
  });
});

describe("a pre-queue citizen's status over HTTP", () => {
  it("says prequeue until the opening, then the place, draw value and cohort-wide rank the published draw gives", async () => {
    const shards = Array.from({ length: config.shards }, (_, shard) => stubOf({ cohort: PREQUEUE_OPENED.cohort, shard }));
    for (const stub of shards) await setClock(stub, DURING_PREQUEUE);
    const tickets: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await postJoin({ idToken: await idToken(randomIdentity(), PREQUEUE_OPENED.birthDate) });
      expect(res.status).toBe(200);
      tickets.push(((await res.json()) as { ticket: string }).ticket);
    }
    for (const ticket of tickets) expect((await status(ticket)).state).toBe("prequeue");

    for (const stub of shards) await setClock(stub, opensAt + 1_000);
    forgetDraws();
    forgetSnapshots();

    const published = (await (await getDraw(PREQUEUE_OPENED.cohort)).json()) as {
      seed: string;
      shards: Array<{ shard: number; placed: boolean; firstSeq: number; values: string[] }>;
    };
    expect(published.shards.every((s) => s.placed)).toBe(true);
    for (const ticket of tickets) {
      const answer = await status(ticket);
      expect(["waiting", "admitted"]).toContain(answer.state);
      const draw = answer.draw!;
      expect(draw.ticketId).toBe(jwtParts(ticket).payload.jti);
      expect(draw.value).toBe(await drawValue(published.seed, draw.ticketId));
      const shard = published.shards.find((s) => s.shard === draw.shard)!;
      const index = shard.values.indexOf(draw.value);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(answer.seq).toBe(shard.firstSeq + index);
      // The rank is the place in the cohort's one order, all shards together (cohort-draw.test.ts).
      expect(draw.rank).toBe(drawPosition(published.shards, draw.shard, index));
      expect(draw.of).toBe(tickets.length);
    }
  });

  it("is refused for a forged pre-queue ticket as for any other", async () => {
    const res = await getStatus("not-a-ticket");
    expect(res.status).toBe(401);
  });
});

function getDraw(cohort: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/cohorts/${cohort}/draw`);
}
