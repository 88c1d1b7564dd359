import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { leaveResponse } from "../../src/contract/queue.js";
import { cohortAhead, forgetRanks } from "../../src/edge/queue/cohort-ahead.js";
import { aheadInShard } from "../../src/edge/queue/count-ahead.js";
import { BUCKET, leftBefore, leftPlacesOf, mergeLeftPlaces, NEAR_PLACES, type LeftPlace } from "../../src/edge/queue/left-places.js";
import { cachedSnapshot, forgetSnapshots } from "../../src/edge/queue/snapshot-cache.js";
import { shardRate } from "../../src/edge/shard/admission.js";
import { cohortSeed, drawValue } from "../../src/edge/prequeue/draw.js";
import { signTicket } from "../../src/edge/tokens/ticket.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import {
  beat,
  config,
  coordinatedCohort,
  errorCode,
  freshPrequeueShard,
  freshShard,
  idToken,
  identityInShard,
  join,
  keyOf,
  ORIGIN,
  postJoin,
  PREQUEUE_OPENED,
  randomIdentity,
  setClock,
  status,
  stubOf,
} from "./helpers.js";

/**
 * Leaving the line: a place given up is never admitted, costs the line nothing, and everyone behind it
 * moves up at once, in a shard's own line and in a cohort's one line across shards. A rule that admits a
 * left place, spends a turn on it, or leaves it in the count ahead fails here.
 */

const T0 = Date.parse("2026-12-06T09:00:00Z");
/** Milliseconds for one admission at a shard's rate; a shard banks at most one such admission. */
const ONE_TURN_MS = 60_000 / shardRate(config.admitPerMinute, config.shards);

async function joinN(stub: DurableObjectStub<TestQueueShard>, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await stub.join(await keyOf(randomIdentity())));
  return out;
}

function leave(ticket: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/queue/ticket`, { method: "DELETE", headers: { authorization: `Bearer ${ticket}` } });
}

describe("the places given up, as a count reads them", () => {
  const places = (positions: number[]): LeftPlace[] => positions.map((p) => [p, 0, p]);

  it("counts the nearest exactly and the rest only in buckets wholly ahead", () => {
    const near = Array.from({ length: NEAR_PLACES }, (_, i) => i * 2 + 1);
    const far = [BUCKET * 3 + 5, BUCKET * 3 + 9, BUCKET * 5 + 1];
    const index = leftPlacesOf(places([...near, ...far]))!;
    expect(index.total).toBe(NEAR_PLACES + 3);
    expect(leftBefore(index, 1)).toBe(0);
    expect(leftBefore(index, 4)).toBe(2);
    // Inside the bucket that holds two of the far ones: not counted until the whole bucket is ahead.
    expect(leftBefore(index, BUCKET * 3 + 100)).toBe(NEAR_PLACES);
    expect(leftBefore(index, BUCKET * 4)).toBe(NEAR_PLACES + 2);
    expect(leftBefore(index, Number.POSITIVE_INFINITY)).toBe(NEAR_PLACES + 3);
    // A place the reader's newer view passed is not counted again.
    expect(leftBefore(index, 4, (_, seq) => seq === 1)).toBe(1);
  });

  it("merges shards' places by rank, the nearest of all of them listed", () => {
    const a = leftPlacesOf([[1, 0, 10], [7, 0, 12]]);
    const b = leftPlacesOf([[3, 1, 2]]);
    const merged = mergeLeftPlaces([a, undefined, b])!;
    expect(merged.near).toEqual({ position: [1, 3, 7], shard: [0, 1, 0], seq: [10, 2, 12] });
    expect(merged.total).toBe(3);
    expect(mergeLeftPlaces([undefined])).toBeUndefined();
    const many = leftPlacesOf(places(Array.from({ length: NEAR_PLACES + 10 }, (_, i) => i)));
    expect(mergeLeftPlaces([many, b])!.total).toBe(NEAR_PLACES + 11);
  });

  it("merges many shards' lists as if all their places were sorted together, in order or not", () => {
    // 40 shards with interleaved ranks, each more than the listed places: the nearest of all are listed, the rest bucketed.
    const shards = Array.from({ length: 40 }, (_, s) => Array.from({ length: 600 }, (_, i): LeftPlace => [i * 97 + s * 3, s, i + 1]));
    const all = shards.flat().sort((x, y) => x[0] - y[0]);
    const whole = leftPlacesOf(all)!;
    const merged = mergeLeftPlaces(shards.map((own) => leftPlacesOf(own)))!;
    expect(merged.near).toEqual(whole.near);
    expect(merged.total).toBe(whole.total);
    for (const at of [0, 5_000, 20_000, BUCKET * 7, Number.POSITIVE_INFINITY]) expect(leftBefore(merged, at)).toBe(leftBefore(whole, at));
    // A part out of order (it came over a wire) is sorted first: the same answer.
    const reversed = leftPlacesOf(shards[0]!)!;
    reversed.near = { position: [...reversed.near.position].reverse(), shard: [...reversed.near.shard].reverse(), seq: [...reversed.near.seq].reverse() };
    expect(mergeLeftPlaces([reversed, ...shards.slice(1).map((own) => leftPlacesOf(own))])!.near).toEqual(whole.near);
  });
});

describe("leaving a shard's line", () => {
  it("steps over a place given up at the front: never admitted, and no turn spent on it", async () => {
    const stub = stubOf(freshShard());
    await setClock(stub, T0);
    // The first is admitted at once (the shard's banked turn); the second is at the front.
    const [first, front, next, last] = await joinN(stub, 4);
    expect((await stub.snapshot()).serving).toBe(1);
    expect(await stub.leave(front!.seq, front!.ticketId)).toMatchObject({ state: "left" });
    const snap = await stub.snapshot();
    // Those behind moved up at once.
    expect(aheadInShard(next!.seq, snap)).toBe(0);
    expect(aheadInShard(last!.seq, snap)).toBe(1);
    // One turn later the next is admitted: the place given up cost no turn, and its holder gets nothing.
    await setClock(stub, T0 + ONE_TURN_MS + 1);
    expect((await stub.claim(next!.seq, next!.ticketId)).state).toBe("admitted");
    expect((await stub.claim(front!.seq, front!.ticketId)).state).toBe("left");
    expect((await stub.claim(first!.seq, first!.ticketId)).state).toBe("admitted");
    // Leaving twice is leaving once; a claimed pass has no place left to give up.
    expect((await stub.leave(front!.seq, front!.ticketId)).state).toBe("left");
    expect((await stub.leave(next!.seq, next!.ticketId)).state).toBe("admitted");
    expect((await stub.leave(front!.seq, "not-its-id")).state).toBe("unknown");
    // Departures are counted in the minute they happened, for the operators.
    const minutes = await stub.history(5);
    expect(minutes.reduce((n, m) => n + m.departed, 0)).toBe(1);
    expect(minutes.at(-1)!.waiting).toBe(1);
  });

  it("gives back the room of an admission nobody claimed", async () => {
    const stub = stubOf(freshShard());
    await setClock(stub, T0);
    const [first] = await joinN(stub, 1);
    expect((await stub.snapshot()).active).toBe(1);
    await stub.leave(first!.seq, first!.ticketId);
    expect((await stub.snapshot()).active).toBe(0);
    expect((await stub.claim(first!.seq, first!.ticketId)).state).toBe("left");
  });
});

describe("DELETE /api/queue/ticket", () => {
  it("gives the place up, tells the people behind, clears the ticket, and a new join is a new place at the back", async () => {
    const shard = 1;
    const identities = await Promise.all([0, 1, 2].map(() => identityInShard(shard)));
    const tickets = [];
    for (const identity of identities) tickets.push(await join(identity));
    const [, second, third] = tickets;
    const before = await status(third!.ticket);

    const res = await leave(second!.ticket);
    expect(res.status).toBe(200);
    expect(leaveResponse.parse(await res.json())).toEqual({ state: "left", cohort: second!.status.cohort });
    const cookies = res.headers.getSetCookie();
    expect(cookies.some((c) => /^wr_ticket=;.*Max-Age=0/.test(c))).toBe(true);
    expect(cookies.some((c) => /^wr_ticket_held=;.*Max-Age=0/.test(c))).toBe(true);

    forgetSnapshots();
    expect((await status(third!.ticket)).ahead).toBe(before.ahead - 1);
    expect(await status(second!.ticket)).toMatchObject({ state: "left", ahead: 0, etaSeconds: null });
    expect((await leave(second!.ticket)).status).toBe(200);

    const again = await join(identities[1]!);
    expect(again.status.seq!).toBeGreaterThan(third!.status.seq!);
    expect(again.previousPlaceExpired).toBe(false);
    expect(again.status.state).toBe("waiting");
  });

  it("refuses without a ticket, and once the pass was issued", async () => {
    expect(await errorCode(await SELF.fetch(`${ORIGIN}/api/queue/ticket`, { method: "DELETE" }))).toBe("invalid_ticket");
    // A shard of an open cohort that no citizen's key maps to (past SHARDS): its first is admitted at once.
    const address = { cohort: "55-59", shard: config.shards + (crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000) };
    const stub = stubOf(address);
    const sub = await keyOf(randomIdentity());
    const joined = await stub.join(sub);
    expect((await stub.claim(joined.seq, joined.ticketId)).state).toBe("admitted");
    const ticket = await signTicket(config, { sub, jti: joined.ticketId, cohort: address.cohort, shard: address.shard, seq: joined.seq }, Date.now());
    const res = await leave(ticket);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("ticket_admitted");
  });

  it("gives up a pre-queue ticket: no second draw before the opening", async () => {
    const birthdate = "1951-04-05"; // the pq-now cohort, taking pre-queue joins until 2099
    const identity = randomIdentity();
    const res = await postJoin({ idToken: await idToken(identity, birthdate) });
    expect(res.status).toBe(200);
    const { ticket, status: s } = (await res.json()) as { ticket: string; status: { state: string } };
    expect(s.state).toBe("prequeue");
    expect((await leave(ticket)).status).toBe(200);
    const again = await postJoin({ idToken: await idToken(identity, birthdate) });
    expect(again.status).toBe(409);
    expect(await errorCode(again)).toBe("place_given_up");
  });
});

describe("a pre-queue ticket given up", () => {
  it("keeps its value in the published draw, and the line steps over its place", async () => {
    const { opensAt, prequeueOpensAt } = PREQUEUE_OPENED;
    const stub = stubOf(freshPrequeueShard());
    await setClock(stub, prequeueOpensAt + 60_000);
    const joined = await joinN(stub, 5);
    const seed = await cohortSeed(config.drawSecret, PREQUEUE_OPENED.cohort);
    const values = await Promise.all(joined.map((j) => drawValue(seed, j.ticketId)));
    // The first in draw order gives up.
    const firstValue = [...values].sort()[0]!;
    const gone = joined[values.indexOf(firstValue)]!;
    expect((await stub.leavePrequeue(firstValue, gone.ticketId)).state).toBe("left");
    await setClock(stub, opensAt);
    const draw = await stub.draw();
    expect(draw.values).toEqual([...values].sort());
    // Place 1 was given up: the opening's banked turn went to place 2.
    const snap = await stub.snapshot();
    expect(snap.serving).toBe(2);
    expect(snap.active).toBe(1);
    expect((await stub.claim(1, gone.ticketId)).state).toBe("left");
  });
});

describe("leaving a cohort's one line", { timeout: 60_000 }, () => {
  it("moves everyone behind up across shards, and the line never admits the place", async () => {
    const t0 = Date.parse("2026-12-06T10:00:00Z");
    const cohort = await coordinatedCohort(t0);
    const tickets: Array<{ shard: number; seq: number; ticketId: string }> = [];
    for (const j of await joinN(cohort.shards[0]!, 6)) tickets.push({ shard: 0, ...j });
    for (let shard = 1; shard < config.shards; shard++) {
      await setClock(cohort.shards[shard]!, t0 + 2_000);
      for (const j of await joinN(cohort.shards[shard]!, 1)) tickets.push({ shard, ...j });
    }
    await beat(cohort, t0 + 3_000);
    await beat(cohort, t0 + 3_000);
    const counts = async (at: number) => {
      forgetRanks();
      const snapshots = await Promise.all(cohort.shards.map((s) => s.snapshot()));
      return Promise.all(
        tickets.map((t) => runInDurableObject(cohort.shards[t.shard]!, () => cohortAhead(env, { cohort: cohort.cohort, shard: t.shard }, t.seq, snapshots[t.shard]!, at))),
      );
    };
    expect(await counts(t0 + 3_000)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);

    // Shard 0's third gives up: everyone behind it, in every shard, has one fewer ahead once the shard has told.
    const gone = tickets[2]!;
    expect((await cohort.shards[0]!.leave(gone.seq, gone.ticketId)).state).toBe("left");
    // The shard tells the coordinator at its next beat, and every shard hears at its own.
    await beat(cohort, t0 + 3_500);
    await beat(cohort, t0 + 3_500);
    const after = await counts(t0 + 3_500);
    expect(after.filter((_, i) => i !== 2)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    // Another isolate of the location is handed the same snapshot by the location's cache: the cohort's line
    // and the places given up with it, so it counts as this one does rather than the shard alone.
    const address = { cohort: cohort.cohort, shard: 1 };
    forgetSnapshots();
    const filled = await cachedSnapshot(env, address, Date.now());
    expect(filled.snapshot.line?.cohort.left?.total).toBe(1);
    forgetSnapshots("isolate");
    const shared = await cachedSnapshot(env, address, filled.fetchedAt);
    expect(shared.snapshot).toEqual(filled.snapshot);

    // The line admits in rank order and steps over the place given up.
    for (let t = t0 + 4_000; t <= t0 + 14_000; t += 1_000) {
      await beat(cohort, t);
      await beat(cohort, t);
    }
    expect((await cohort.shards[0]!.claim(gone.seq, gone.ticketId)).state).toBe("left");
    const snapshots = await Promise.all(cohort.shards.map((s) => s.snapshot()));
    // The cap (8) holds the eight who stayed; nobody holds room for the one who left.
    expect(snapshots.reduce((n, s) => n + s.active, 0)).toBe(8);
    expect(snapshots[0]!.serving).toBe(6);
  });
});
