import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cohortView, emptyLine, takeReport, type CohortPolicy, type CohortView, type JoinRun, type ShardReport } from "../../src/edge/cohort/cohort-line.js";
import { cohortAhead, forgetRanks } from "../../src/edge/queue/cohort-ahead.js";
import { nearTheFront } from "../../src/edge/queue/presence.js";
import type { ShardSnapshot } from "../../src/edge/shard/snapshot.js";
import { beat, config, coordinatedCohort, coordinatorOf, keyOf, randomIdentity, restartObject, setClock, setCoordinatorClock } from "./helpers.js";

/**
 * One line per cohort: arrival order across shards, whatever their lengths; the cohort's rate and cap, not
 * each shard's share; the count ahead exact; and the shards carrying on alone when the coordinator is away.
 * A rule that admits by each shard's own length, counts one shard's place times the shard count, or stops a
 * cohort with its coordinator fails here.
 */

const POLICY: CohortPolicy = { admitPerMinute: 60, maxActive: 100, shards: 4, paused: false };

function report(shard: number, over: Partial<ShardReport> = {}): ShardReport {
  return {
    shard,
    completeThrough: 1_000,
    runs: [],
    rankedSeq: 0,
    lastSeq: 0,
    serving: 0,
    active: 0,
    returning: 0,
    ratePerMinute: 15,
    configuredPerMinute: 15,
    observedPerMinute: null,
    passedGranted: 0,
    returnsAdmitted: 0,
    cap: 0,
    ...over,
  };
}

/** The cohort as a coordinator with no shards heard describes it. */
const emptyCohortView = (): CohortView => cohortView(emptyLine(), POLICY, 0, 0);

const runs = (...r: Array<[key: number, firstSeq: number, count: number]>): JoinRun[] => r.map(([key, firstSeq, count]) => ({ key, firstSeq, count }));

describe("the cohort's line (the coordinator's rule)", () => {
  it("ranks by the second of joining across shards, the shard breaking ties, once every reporting shard has told", () => {
    const line = emptyLine();
    // Shard 0 reports first, with people of seconds 100 and 101; shard 1 has not told yet about 100.
    let r = takeReport(line, report(0, { runs: runs([100, 1, 3], [101, 4, 2]), lastSeq: 5, completeThrough: 102 }), POLICY, 0).reply;
    // Only shard 0 has reported: nothing waits for shard 1, which has never been heard.
    expect(r.ranks).toEqual([[1, 3, 0], [4, 2, 3]]);
    // Shard 1's people of second 99 and 100 come late: ranked behind those ranked already (they were not waited for).
    const late = takeReport(line, report(1, { runs: runs([99, 1, 1], [100, 2, 1]), lastSeq: 2, completeThrough: 102 }), POLICY, 100).reply;
    expect(late.ranks).toEqual([[1, 1, 5], [2, 1, 6]]);

    // Now both report each time: a second is ranked once both are complete past it.
    const both = emptyLine();
    takeReport(both, report(0, { runs: runs([100, 1, 3]), lastSeq: 3, completeThrough: 101 }), POLICY, 0);
    r = takeReport(both, report(1, { runs: runs([100, 1, 2]), lastSeq: 2, completeThrough: 100 }), POLICY, 10).reply;
    // Shard 1 is not complete past second 100: nothing of it is ranked yet.
    expect(r.ranks).toEqual([]);
    r = takeReport(both, report(1, { runs: runs([101, 3, 1]), lastSeq: 3, completeThrough: 102 }), POLICY, 20).reply;
    // Second 100: shard 0's three, then shard 1's two. Second 101 waits for shard 0 to be complete past it.
    expect(r.ranks).toEqual([[1, 2, 3]]);
    expect(takeReport(both, report(0, { lastSeq: 3, completeThrough: 102 }), POLICY, 30).reply.ranks).toEqual([[1, 3, 0]]);
    expect(takeReport(both, report(1, { lastSeq: 3, rankedSeq: 2, completeThrough: 102 }), POLICY, 40).reply.ranks).toEqual([[3, 1, 5]]);
  });

  it("admits the cohort at its rate in arrival order, however unbalanced the shards, and the count ahead is exact", () => {
    const line = emptyLine();
    // Shard 0: 40 people in second 100. Shards 1-3: one each, in second 101.
    const lengths = [40, 1, 1, 1];
    const state = lengths.map((n, shard) => ({ shard, lastSeq: n, serving: 0, rankedSeq: 0, granted: 0, key: shard === 0 ? 100 : 101 }));
    const admittedAt: Array<{ shard: number; seq: number; t: number }> = [];
    for (let t = 1_000; t <= 60_000; t += 1_000) {
      for (const s of state) {
        const reply = takeReport(
          line,
          report(s.shard, { runs: s.rankedSeq === 0 ? runs([s.key, 1, s.lastSeq]) : [], lastSeq: s.lastSeq, serving: s.serving, rankedSeq: s.rankedSeq, completeThrough: 102, active: s.serving }),
          POLICY,
          t,
        ).reply;
        for (const [firstSeq, count] of reply.ranks) s.rankedSeq = Math.max(s.rankedSeq, firstSeq + count - 1);
        // The shard admits what it was granted, at once (everyone here is present).
        for (let seq = s.serving + 1; seq <= reply.grantedSeq; seq++) admittedAt.push({ shard: s.shard, seq, t });
        s.serving = Math.max(s.serving, reply.grantedSeq);
      }
    }
    // Everyone of shard 0 joined first: all 40 are admitted before anyone of shards 1-3.
    const order = admittedAt.map((a) => a.shard);
    expect(order.slice(0, 40).every((s) => s === 0)).toBe(true);
    expect(order.slice(40)).toEqual([1, 2, 3]);
    // At the cohort's rate, 1 a second with a burst of 2, not at shard 0's quarter share.
    const firstMinute = admittedAt.filter((a) => a.t <= 60_000).length;
    expect(firstMinute).toBeGreaterThanOrEqual(43);
    for (let t = 1_000; t <= 60_000; t += 1_000) expect(admittedAt.filter((a) => a.t === t).length).toBeLessThanOrEqual(2);
  });

  it("takes a report sent again after its answer was lost, whose runs have grown since, without losing a place", () => {
    const line = emptyLine();
    takeReport(line, report(0, { runs: runs([100, 1, 3]), lastSeq: 3, completeThrough: 100 }), POLICY, 0);
    // The answer was lost: the shard still thinks nothing was received, and two more joined in second 100.
    const r = takeReport(line, report(0, { runs: runs([100, 1, 5], [101, 6, 1]), lastSeq: 6, completeThrough: 102 }), POLICY, 100).reply;
    expect(r.receivedSeq).toBe(6);
    // Places 1-5 (second 100) and 6 (second 101), each ranked once.
    expect(r.ranks).toEqual([[1, 3, 0], [4, 2, 3], [6, 1, 5]]);
  });

  it("at a pre-queue's opening, ranks nothing until every shard has placed its pre-queue, then the draw across them", () => {
    const line = emptyLine();
    const opensAt = 100_000;
    const policy = { ...POLICY, prequeueOpensAt: opensAt };
    // Shards 0 and 2 place their pre-queues (draw buckets -4000 and -100) and a join of the opening second.
    let r = takeReport(line, report(0, { runs: runs([-100, 1, 2], [100, 3, 1]), lastSeq: 3, completeThrough: 101 }), policy, opensAt + 500).reply;
    expect(r.ranks).toEqual([]);
    takeReport(line, report(2, { runs: runs([-4000, 1, 1]), lastSeq: 1, completeThrough: 101 }), policy, opensAt + 600);
    takeReport(line, report(3, { completeThrough: 101 }), policy, opensAt + 700);
    // Shard 1 is late, but within the settling time: its pre-queue still goes by its draw.
    r = takeReport(line, report(1, { runs: runs([-2000, 1, 1]), lastSeq: 1, completeThrough: 101 }), policy, opensAt + 900).reply;
    expect(r.ranks).toEqual([[1, 1, 1]]);
    expect(takeReport(line, report(2, { lastSeq: 1, completeThrough: 101 }), policy, opensAt + 950).reply.ranks).toEqual([[1, 1, 0]]);
    expect(takeReport(line, report(0, { lastSeq: 3, completeThrough: 101 }), policy, opensAt + 990).reply.ranks).toEqual([[1, 2, 2], [3, 1, 4]]);
  });

  it("says when the operators slowed the line, until the rate is back", () => {
    const line = emptyLine();
    const at = (admitPerMinute: number, now: number) => takeReport(line, report(0, { completeThrough: 99 }), { ...POLICY, admitPerMinute }, now).reply.cohort;
    expect(at(600, 1_000).slowedByOperators).toBe(false);
    expect(at(300, 2_000)).toMatchObject({ slowedByOperators: true, configuredPerMinute: 300 });
    expect(at(600, 3_000).slowedByOperators).toBe(false);
    // Raised above what it was: nothing slowed.
    expect(at(900, 4_000).slowedByOperators).toBe(false);
  });

  it("never grants past the cap, and gives back what it granted to people who were away", () => {
    const line = emptyLine();
    const policy = { ...POLICY, maxActive: 4, admitPerMinute: 600 };
    takeReport(line, report(0, { completeThrough: 99 }), policy, 9_000);
    let r = takeReport(line, report(0, { runs: runs([100, 1, 20]), lastSeq: 20, completeThrough: 101 }), policy, 10_000).reply;
    // Ten a second at most, but room for four only.
    expect(r.grantedSeq).toBe(4);
    // The four were away: the shard passed them over, and their credit comes back; room is free again.
    r = takeReport(line, report(0, { lastSeq: 20, serving: 4, rankedSeq: 20, passedGranted: 4, completeThrough: 101 }), policy, 10_100).reply;
    expect(r.grantedSeq).toBe(8);
    expect(r.cap).toBeGreaterThanOrEqual(4);
  });

  it("keeps every shard's cap within the cohort's, whatever the order of reports, lost answers and returners", () => {
    // Each shard fills the cap it holds whenever it can (returners come back between its reports, first in
    // and unknown to the coordinator until then), while others report, bookings complete and answers are
    // lost. A cap with room the coordinator did not keep for that shard shows here as too many at once.
    const policy = { ...POLICY, maxActive: 10, admitPerMinute: 600 };
    const line = emptyLine();
    let seed = 20210720;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const shards = Array.from({ length: policy.shards }, (_, shard) => ({
      shard, lastSeq: 0, serving: 0, rankedSeq: 0, receivedSeq: 0, granted: 0, cap: 0, active: 0, returning: 0, returnsAdmitted: 0, keys: [] as number[],
    }));
    const fill = (s: (typeof shards)[number]) => {
      // Returners first, then granted places, as far as the cap it holds.
      for (; s.active < s.cap && s.returning > 0; s.active++, s.returning--) s.returnsAdmitted++;
      for (; s.active < s.cap && s.serving < s.granted; s.active++) s.serving++;
    };
    let most = 0;
    for (let t = 1_000; t <= 120_000; t += 50) {
      const s = shards[Math.floor(random() * shards.length)]!;
      const roll = random();
      if (roll < 0.3) s.lastSeq = s.keys.push(Math.floor(t / 1000));
      else if (roll < 0.45 && s.active > 0) s.active--;
      else if (roll < 0.5) s.returning++;
      else {
        const first = s.receivedSeq + 1;
        const newRuns = s.keys.slice(s.receivedSeq).map((key, i) => ({ key, firstSeq: first + i, count: 1 }));
        const sent = { runs: newRuns, lastSeq: s.lastSeq, serving: s.serving, rankedSeq: s.rankedSeq, active: s.active, returning: s.returning };
        const reply = takeReport(line, report(s.shard, { ...sent, completeThrough: Math.floor(t / 1000), cap: s.cap, returnsAdmitted: s.returnsAdmitted }), policy, t).reply;
        // One answer in five is lost on the way: the shard keeps the cap it had.
        if (random() < 0.2) continue;
        s.receivedSeq = reply.receivedSeq;
        for (const [firstSeq, count] of reply.ranks) if (firstSeq <= s.rankedSeq + 1) s.rankedSeq = Math.max(s.rankedSeq, firstSeq + count - 1);
        s.granted = Math.max(s.granted, reply.grantedSeq);
        s.cap = reply.cap;
      }
      fill(s);
      const active = shards.reduce((sum, x) => sum + x.active, 0);
      most = Math.max(most, active);
      expect(active).toBeLessThanOrEqual(policy.maxActive);
    }
    // The cap was reached: the check above was not passed by admitting nobody.
    expect(most).toBe(policy.maxActive);
  });

  it("keeps a shard's room while it may still admit by a cap whose answer was lost", () => {
    const policy = { ...POLICY, maxActive: 10, admitPerMinute: 600 };
    const line = emptyLine();
    // Shard 1 holds four people and is given a cap with a little headroom.
    const held = takeReport(line, report(1, { lastSeq: 4, serving: 4, active: 4, completeThrough: 101 }), policy, 9_000).reply.cap;
    expect(held).toBeGreaterThan(4);
    // Two of them finish; its report says so, but the answer is lost: it still admits by the cap it had.
    takeReport(line, report(1, { lastSeq: 4, serving: 4, active: 2, cap: held, completeThrough: 101 }), policy, 9_500);
    // Shard 0 has a crowd: what it is granted and given must leave shard 1's whole cap free.
    const r = takeReport(line, report(0, { runs: runs([100, 1, 20]), lastSeq: 20, completeThrough: 101 }), policy, 10_000).reply;
    expect(r.cap + held).toBeLessThanOrEqual(policy.maxActive);
    expect(r.grantedSeq).toBe(policy.maxActive - held);
  });
});

describe("presence in a cohort's one line", () => {
  it("passes on a long shard's polls as its turn nears at the cohort's rate, not at the shard's share", () => {
    // Shard 0 holds the cohort's front: 40 waiting in it, none elsewhere. Its share is 15 a minute, the
    // cohort's rate 60: the 40th is reached within 40 s, inside two 30 s presence windows.
    const cohort = { ...emptyCohortView(), ratePerMinute: 60, configuredPerMinute: 60, ranked: 40 };
    const snap: ShardSnapshot = { lastSeq: 40, serving: 0, active: 0, activeCap: 2, ratePerMinute: 15, configuredPerMinute: 15, observedPerMinute: null, paused: false, at: 0 };
    expect(nearTheFront(40, snap, 30)).toBe(false);
    const coordinated = { ...snap, line: { cohort, shard: 0, ownReached: 0, ownUnranked: 0, rankedSeq: 40, grantedSeq: 0, alone: false } };
    expect(nearTheFront(40, coordinated, 30, 39)).toBe(true);
    // Far back cohort-wide, it is not.
    expect(nearTheFront(40, coordinated, 30, 500)).toBe(false);
    // Granted: about to be admitted, whatever the count says.
    expect(nearTheFront(40, { ...coordinated, line: { ...coordinated.line, grantedSeq: 40 } }, 30, 500)).toBe(true);
  });
});

describe("the count ahead of a place not ranked yet", () => {
  it("counts everyone ranked who waits, the other shards' unranked places, and its own shard's earlier ones", async () => {
    // The cohort: 10 ranked, 4 of them reached, 1 came back; 7 places unranked (3 of them this shard's).
    const cohort = { ...emptyCohortView(), ranked: 10, reached: 4, returning: 1, unranked: 7 };
    const snap: ShardSnapshot = { lastSeq: 12, serving: 4, active: 0, activeCap: 2, ratePerMinute: 15, observedPerMinute: null, paused: false, at: 0 };
    const line = { cohort, shard: 0, ownReached: 4, ownUnranked: 3, rankedSeq: 9, grantedSeq: 4, alone: false };
    // Place 12 of this shard: 6 ranked waiting + 1 back + 4 unranked elsewhere + places 10 and 11 here.
    expect(await cohortAhead(env, { cohort: "t-unranked", shard: 0 }, 12, { ...snap, line }, 0)).toBe(6 + 1 + 4 + 2);
  });
});

/** The coordinator of a cohort as the test Worker binds it: the production object with the tests' clock. */
// Each test makes a few hundred calls to five objects: seconds on a busy machine.
describe("the cohort's line, in the objects", { timeout: 60_000 }, () => {
  it("admits a long shard's earlier people before a short shard's later ones, and counts exactly who is ahead", async () => {
    const t0 = Date.parse("2026-12-05T12:00:00Z");
    const cohort = await coordinatedCohort(t0);
    // Shard 0: six people at t0. Shards 1-3: one each, two seconds later.
    const tickets: Array<{ shard: number; seq: number }> = [];
    for (let i = 0; i < 6; i++) tickets.push({ shard: 0, seq: (await cohort.shards[0]!.join(await keyOf(randomIdentity()))).seq });
    for (let shard = 1; shard < config.shards; shard++) {
      await setClock(cohort.shards[shard]!, t0 + 2_000);
      tickets.push({ shard, seq: (await cohort.shards[shard]!.join(await keyOf(randomIdentity()))).seq });
    }
    // Nobody is admitted before the coordinator has ranked them: a short shard cannot go first on its own.
    for (const stub of cohort.shards) expect((await stub.snapshot()).serving).toBe(0);

    // The beat at t0 + 3 s ranks everyone; the cohort's credit is not there yet, so nobody is admitted.
    await beat(cohort, t0 + 3_000);
    await beat(cohort, t0 + 3_000);
    forgetRanks();
    const snapshots = await Promise.all(cohort.shards.map((s) => s.snapshot()));
    expect(snapshots.every((s) => s.line !== undefined)).toBe(true);
    const ahead = await Promise.all(
      tickets.map((t) => runInDurableObject(cohort.shards[t.shard]!, () => cohortAhead(env, { cohort: cohort.cohort, shard: t.shard }, t.seq, snapshots[t.shard]!, t0 + 3_000))),
    );
    // Exact: shard 0's k-th has k-1 ahead; shard s (1-3) has all six of shard 0 and the earlier shards' one each.
    expect(ahead).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);

    // The cohort admits at 60 a minute (a burst of 2), in rank order: shard 0's six first, whatever the shares.
    const admitted: number[] = [];
    for (let t = t0 + 4_000; t <= t0 + 12_000; t += 1_000) {
      await beat(cohort, t);
      await beat(cohort, t);
      const now = await Promise.all(cohort.shards.map((s) => s.snapshot()));
      for (let shard = 0; shard < config.shards; shard++) while (admitted.filter((a) => a === shard).length < now[shard]!.serving) admitted.push(shard);
    }
    // The cap (8) lets all nine wait for at most one: the first six admitted are shard 0's.
    expect(admitted.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(admitted.length).toBeGreaterThanOrEqual(8);
  });

  it("carries on alone when the coordinator is away, loses nobody, and keeps one line again when it is back", async () => {
    const t0 = Date.parse("2026-12-05T13:00:00Z");
    const cohort = await coordinatedCohort(t0);
    for (let i = 0; i < 4; i++) await cohort.shards[1]!.join(await keyOf(randomIdentity()));
    await beat(cohort, t0 + 2_000);
    await beat(cohort, t0 + 3_000);
    const before = (await cohort.shards[1]!.snapshot()).serving;
    expect(before).toBeGreaterThan(0);

    await cohort.coordinator.setAway(true);
    // Within COORDINATOR_STALE_MS of trying, the shard waits to hear; after it, it admits at its own share.
    await beat(cohort, t0 + 4_000);
    await beat(cohort, t0 + 6_000);
    await beat(cohort, t0 + 10_000);
    await beat(cohort, t0 + 30_000);
    const alone = await cohort.shards[1]!.snapshot();
    expect(alone.line?.alone).toBe(true);
    expect(alone.serving).toBeGreaterThan(before);
    expect(alone.lastSeq).toBe(4);

    await cohort.coordinator.setAway(false);
    // Evicted while away: it starts again from SQLite, with the ranks and the watermark it had.
    await cohort.coordinator.evict().catch(() => undefined);
    const back = coordinatorOf(cohort.cohort);
    await setCoordinatorClock(back, t0 + 31_000);
    cohort.coordinator = back;
    await cohort.shards[1]!.join(await keyOf(randomIdentity()));
    await beat(cohort, t0 + 32_000);
    await beat(cohort, t0 + 34_000);
    await beat(cohort, t0 + 36_000);
    const again = await cohort.shards[1]!.snapshot();
    expect(again.line?.alone).toBe(false);
    expect(again.serving).toBe(5);

    // One line again: shard 2's three (earlier) go before shard 3's one (two seconds later), whatever the shares;
    // the cap (8, five held by shard 1) has room for exactly those three.
    await setClock(cohort.shards[2]!, t0 + 37_000);
    for (let i = 0; i < 3; i++) await cohort.shards[2]!.join(await keyOf(randomIdentity()));
    await setClock(cohort.shards[3]!, t0 + 39_000);
    await cohort.shards[3]!.join(await keyOf(randomIdentity()));
    for (let t = t0 + 40_000; t <= t0 + 50_000; t += 1_000) await beat(cohort, t);
    expect((await cohort.shards[2]!.snapshot()).serving).toBe(3);
    expect((await cohort.shards[3]!.snapshot()).serving).toBe(0);
  });

  it("loses and repeats nobody when a shard and the coordinator are evicted while places are granted", async () => {
    const t0 = Date.parse("2026-12-05T14:00:00Z");
    const cohort = await coordinatedCohort(t0);
    for (let i = 0; i < 6; i++) await cohort.shards[0]!.join(await keyOf(randomIdentity()));
    await setClock(cohort.shards[2]!, t0 + 1_000);
    for (let i = 0; i < 2; i++) await cohort.shards[2]!.join(await keyOf(randomIdentity()));
    const servings: number[][] = [];
    const look = async () => servings.push((await Promise.all(cohort.shards.map((s) => s.snapshot()))).map((s) => s.serving));
    await beat(cohort, t0 + 2_000);
    await beat(cohort, t0 + 4_000);
    await look();
    // Mid-watermark: shard 0 has been granted some of its places and admitted them; the rest wait.
    expect(servings[0]![0]).toBeGreaterThan(0);
    expect(servings[0]![0]).toBeLessThan(6);

    // The shard restarts from SQLite (its grant, ranks and cap with it); so does the coordinator.
    const restarted = await restartObject(cohort.shards[0]!);
    await restarted.setCoordinated(true);
    cohort.shards[0] = restarted;
    await cohort.coordinator.evict().catch(() => undefined);
    cohort.coordinator = coordinatorOf(cohort.cohort);
    for (let t = t0 + 5_000; t <= t0 + 20_000; t += 1_000) {
      await beat(cohort, t);
      await look();
    }
    const last = servings.at(-1)!;
    // Everyone admitted once (eight: the cap): each shard's counter reached its last place and never went back.
    expect(last).toEqual([6, 0, 2, 0]);
    for (let i = 1; i < servings.length; i++) for (let s = 0; s < 4; s++) expect(servings[i]![s]).toBeGreaterThanOrEqual(servings[i - 1]![s]!);
    // In one line: shard 2's people (a second later) only once shard 0's six were in.
    const firstOfTwo = servings.findIndex((row) => row[2]! > 0);
    expect(servings[firstOfTwo]![0]).toBe(6);
  });

  it("never holds more than MAX_ACTIVE across the shards when one admits a returner while another fills the room", async () => {
    const t0 = Date.parse("2026-12-05T15:00:00Z");
    const cohort = await coordinatedCohort(t0);
    const total = async () => (await Promise.all(cohort.shards.map((s) => s.snapshot()))).reduce((sum, s) => sum + s.active, 0);
    // Shard 1's two citizens join first and are ranked; one goes silent, the other is still there much later.
    const away = await cohort.shards[1]!.join(await keyOf(randomIdentity()));
    const here = await cohort.shards[1]!.join(await keyOf(randomIdentity()));
    await beat(cohort, t0 + 2_000);
    await beat(cohort, t0 + 2_000);
    const t1 = t0 + config.presenceSeconds * 1000 + 60_000;
    await setClock(cohort.shards[1]!, t1);
    await cohort.shards[1]!.seen([[here.seq, here.ticketId]]);
    // Shard 0 fills with people who are there. The line reaches shard 1's two first (one passed over, one
    // admitted), then shard 0's, one a second, while shard 1, with nothing more to report, keeps its cap.
    await setClock(cohort.shards[0]!, t1);
    for (let i = 0; i < config.maxActive; i++) await cohort.shards[0]!.join(await keyOf(randomIdentity()));
    let t = t1;
    for (let i = 0; i < config.maxActive; i++) {
      t += 1_000;
      await beat(cohort, t);
      expect(await total()).toBeLessThanOrEqual(config.maxActive);
    }
    expect((await cohort.shards[1]!.snapshot()).serving).toBe(2);
    // The silent one comes back with shard 1 still coordinated by the cap it last heard: they are next at
    // the first room the cohort has, not let in on room another shard was given meanwhile.
    expect((await cohort.shards[1]!.claim(away.seq, away.ticketId)).state).toMatch(/^(returning|admitted)$/);
    expect(await total()).toBeLessThanOrEqual(config.maxActive);
    // And no room goes unused: the cohort fills to its cap.
    for (let i = 0; i < 4; i++) {
      t += 1_000;
      await beat(cohort, t);
      expect(await total()).toBeLessThanOrEqual(config.maxActive);
    }
    expect(await total()).toBe(config.maxActive);
  });
});
