import { describe, expect, it } from "vitest";
import {
  estimateWait,
  MAX_POLL_MS,
  MIN_POLL_MS,
  PAUSED_POLL_MS,
  PRESENT_PRIOR_SHARE,
  presentFound,
  RANGE_RATIO,
  RANGE_SLACK_S,
  RANKING_S,
  REPORT_BEAT_S,
} from "../../src/edge/queue/wait-estimate.js";
import type { ShardSnapshot } from "../../src/edge/shard/snapshot.js";

/**
 * What a waiting citizen of a shard that is its own line is told, exactly: a wait range at the rate in
 * force, never wider than RANGE_RATIO times its low end plus RANGE_SLACK_S. A range built from a paused
 * period's pace, or an unbounded range, fails here. The cohort-wide count is test/edge/cohort-line.test.ts's.
 */

/** 60/min in this shard: one turn a second, so the low end in seconds is the number of turns. */
const base: ShardSnapshot = { lastSeq: 1_000, serving: 100, active: 10, activeCap: 100, ratePerMinute: 60, observedPerMinute: null, paused: false, at: 0 };

describe("the wait range", () => {
  it("at a fresh start: the low end at the rate in force, the high end at two thirds of it, plus a fifth", () => {
    // Ten turns: nine people ahead in the shard, then this citizen.
    expect(estimateWait(110, base)).toEqual({ ahead: 9, etaSeconds: { low: 10, high: 18 }, nextPollMs: 2_500 });
  });

  it("when the line passes over absent holders: the low end counts only the share ahead likely to be there", () => {
    // Half of 980 reached were there (weighted with 20 before any, PRESENT_PRIOR_SHARE of them there): 9 ahead -> 5 turns of them, then this citizen.
    const half = { ...base, presentShare: 0.5, reached: 980 };
    expect(estimateWait(110, half).etaSeconds).toEqual({ low: 6, high: 18 });
    // People who came back are admitted first: each is a turn before this citizen's.
    expect(estimateWait(110, { ...half, returning: 3 }).etaSeconds!.low).toBe(9);
    // A handful of absent first tickets barely moves it from the prior (9 ahead -> 8 turns of them), and however
    // few were there it counts a fifth of those ahead.
    expect(estimateWait(110, { ...base, presentShare: 0, reached: 3 }).etaSeconds!.low).toBe(8);
  });

  it("before the line has reached anyone: the soonest counts PRESENT_PRIOR_SHARE of those ahead, not everyone", () => {
    // 899 ahead: the first reached waited least, so the fewest were gone; those far back must not be promised all there.
    const fresh = { ...base, presentShare: null, reached: 0 };
    expect(estimateWait(1_000, fresh).etaSeconds!.low).toBe(Math.ceil(899 * PRESENT_PRIOR_SHARE + 1));
    expect(PRESENT_PRIOR_SHARE).toBeLessThan(1);
  });

  it("counts the least share present the shard has found, so the low end never rises as more turn out to be there", () => {
    // The shard's counts as the line moves: a run of absent holders, then a long run of present ones.
    const found = [[0, 0], [0, 40], [30, 40], [300, 40], [3_000, 40]] as const;
    let least = 1;
    let before = Infinity;
    for (const [i, [admitted, passed]] of found.entries()) {
      const reached = admitted + passed;
      const presentShare = reached > 0 ? admitted / reached : null;
      // As the shard keeps it (line.ts): the least it has found at any tick.
      least = Math.min(least, presentFound(presentShare, reached));
      const snap = { ...base, lastSeq: 100_000, serving: 100 + i * 10, presentShare, reached, leastPresent: least };
      const low = estimateWait(10_000, snap).etaSeconds!.low;
      expect(low, JSON.stringify(snap)).toBeLessThanOrEqual(before);
      before = low;
    }
    // And the share the counts say now is higher than the least: the low end does not follow it back up.
    expect(presentFound(3_000 / 3_040, 3_040)).toBeGreaterThan(least);
  });

  it("with a low share present: the high end is held to the bound, not to everyone ahead turning up", () => {
    // 899 ahead, a fifth of them counted: 181 turns at the soonest; everyone there would be 1,620 s.
    const low = { ...base, presentShare: 0, reached: 100_000 };
    expect(estimateWait(1_000, low).etaSeconds).toEqual({ low: 181, high: RANGE_RATIO * 181 + RANGE_SLACK_S });
  });

  it("after a pause or a slow spell: the range comes from the rate in force, not the pace of the paused minutes", () => {
    // Five minutes that were mostly paused: 2 admissions a minute observed, while the rate in force is 60.
    expect(estimateWait(110, { ...base, observedPerMinute: 2 }).etaSeconds).toEqual({ low: 10, high: 12 });
    // The same shard while it was paused: no promise at all, and the page asks again at the slowest interval.
    expect(estimateWait(110, { ...base, observedPerMinute: 2, paused: true })).toEqual({ ahead: 9, etaSeconds: null, nextPollMs: PAUSED_POLL_MS });
  });

  it("after a rate change: at the new rate at once", () => {
    expect(estimateWait(110, { ...base, ratePerMinute: 120, observedPerMinute: 60 }).etaSeconds).toEqual({ low: 5, high: 6 });
    expect(estimateWait(110, { ...base, ratePerMinute: 30, observedPerMinute: 60 }).etaSeconds).toEqual({ low: 20, high: 24 });
  });

  it("when the active cap binds: the high end at the observed pace, widened by half, within the bound", () => {
    expect(estimateWait(110, { ...base, active: 100, observedPerMinute: 30 }).etaSeconds).toEqual({ low: 10, high: 30 });
    // A pace that takes in a pause would say 900 s; the bound holds it.
    expect(estimateWait(110, { ...base, active: 100, observedPerMinute: 1 }).etaSeconds).toEqual({ low: 10, high: RANGE_RATIO * 10 + RANGE_SLACK_S });
  });

  it("with the autopilot's rate cut below the configured one: both ends at the rate in force", () => {
    // 60/min configured, 20 in force, no history yet: 10 turns, 30 s at 20/min to 54 s at two thirds of it plus a fifth.
    expect(estimateWait(110, { ...base, configuredPerMinute: 60, ratePerMinute: 20 }).etaSeconds).toEqual({ low: 30, high: 54 });
  });

  it("at the front: no one ahead, one turn", () => {
    expect(estimateWait(101, base)).toEqual({ ahead: 0, etaSeconds: { low: 1, high: 2 }, nextPollMs: MIN_POLL_MS });
  });

  it("far back: polls no more often than MAX_POLL_MS", () => {
    const far = estimateWait(1_000, base);
    expect(far.etaSeconds).toEqual({ low: 900, high: 1_620 });
    expect(far.nextPollMs).toBe(MAX_POLL_MS);
  });

  it("is never wider than the bound, nor inverted, in any state", () => {
    let states = 0;
    for (const seq of [101, 102, 110, 150, 400, 1_000])
      for (const [presentShare, reached] of [[null, 0], [1, 500], [0.5, 980], [0.05, 10_000], [0, 100_000]] as const)
        for (const observedPerMinute of [null, 0.5, 2, 30, 60, 90])
          for (const active of [10, 100])
            for (const [configuredPerMinute, ratePerMinute] of [[60, 60], [60, 30], [60, 6], [60, 120]] as const)
              for (const returning of [0, 3]) {
                const snap = { ...base, presentShare, reached, observedPerMinute, active, configuredPerMinute, ratePerMinute, returning };
                const eta = estimateWait(seq, snap).etaSeconds!;
                expect(eta.high, JSON.stringify({ seq, snap })).toBeLessThanOrEqual(RANGE_RATIO * eta.low + RANGE_SLACK_S);
                expect(eta.high).toBeGreaterThanOrEqual(eta.low);
                states++;
              }
    expect(states).toBe(6 * 5 * 6 * 2 * 4 * 2);
  });
});

describe("the estimate in a cohort whose shards keep one line", () => {
  const cohort = {
    at: 0, ranked: 100, reached: 40, returning: 0, waiting: 60, unranked: 0, active: 10, held: 10, activeCap: 100,
    ratePerMinute: 60, configuredPerMinute: 60, observedPerMinute: null, paused: false, slowedByOperators: false,
  };
  const snap: ShardSnapshot = { lastSeq: 30, serving: 10, active: 3, activeCap: 25, ratePerMinute: 15, configuredPerMinute: 15, observedPerMinute: null, paused: false, at: 0 };
  const line = { cohort, shard: 0, ownReached: 10, ownUnranked: 0, rankedSeq: 25, grantedSeq: 10, alone: false };

  it("takes the cohort's count at the cohort's rate, a turn coming with a report", () => {
    const e = estimateWait(20, { ...snap, line }, 59);
    expect(e.ahead).toBe(59);
    // 60 turns at 60 a minute: a minute at the soonest, and a report's beat later at the latest.
    expect(e.etaSeconds!.low).toBe(60);
    expect(e.etaSeconds!.high).toBeGreaterThanOrEqual(60 + REPORT_BEAT_S);
  });

  it("while the place is not ranked yet: no sooner than the ranking, and asked again soon", () => {
    const ranked = estimateWait(25, { ...snap, line }, 59);
    const placing = estimateWait(26, { ...snap, line }, 59);
    expect(placing.etaSeconds!.low).toBe(ranked.etaSeconds!.low + RANKING_S);
    expect(placing.nextPollMs).toBe(MIN_POLL_MS);
  });

  it("while paused: promises no time, and still asks again soon until the place is ranked", () => {
    const paused = { ...line, cohort: { ...cohort, paused: true } };
    expect(estimateWait(26, { ...snap, line: paused }, 59)).toEqual({ ahead: 59, etaSeconds: null, nextPollMs: MIN_POLL_MS });
    expect(estimateWait(25, { ...snap, line: paused }, 59)).toEqual({ ahead: 59, etaSeconds: null, nextPollMs: PAUSED_POLL_MS });
  });

  it("sees the cap bind when granted places hold its room, before shards report them active", () => {
    const full = { ...line, cohort: { ...cohort, active: 60, held: 100, observedPerMinute: 30 } };
    const free = { ...line, cohort: { ...cohort, active: 60, held: 60, observedPerMinute: 30 } };
    expect(estimateWait(20, { ...snap, line: full }, 59).etaSeconds!.high).toBeGreaterThan(estimateWait(20, { ...snap, line: free }, 59).etaSeconds!.high);
  });
});
