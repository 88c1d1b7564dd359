import { describe, expect, it } from "vitest";
import { simulate, type SimulationReport } from "../../bench/lib/replay.js";
import { DEFAULTS } from "../../bench/lib/replay-options.js";

/**
 * The flash-crowd replay (bench/lib/replay.ts) at a small scale: 20,000 people over 8 shards, at a rate that
 * keeps a line for minutes. Through the cohort's coordinator the shards keep one line: admission follows
 * arrival across shards and the count each citizen is told is the people actually ahead, within the few
 * seconds a report is old. The same crowd over independent shards misses both, so a replay (or a rule)
 * that lets shards drift apart fails here.
 */

const SMALL = { ...DEFAULTS, people: 20_000, shards: 8, admitPerMinute: 2_000, maxActive: 4_000 };
const replays = new Map<boolean, SimulationReport>();
const replay = (independentShards: boolean) => {
  let r = replays.get(independentShards);
  if (!r) replays.set(independentShards, (r = simulate({ ...SMALL, independentShards })));
  return r;
};

/** Seconds of the configured rate: how many people a report a second or two old may be behind on. */
const secondsOfRate = (seconds: number) => (seconds * SMALL.admitPerMinute) / 60;

describe("the replay's cohort across shards", () => {
  it("admits in join order cohort-wide through the coordinator, and not with independent shards", { timeout: 120_000 }, () => {
    const one = replay(false);
    expect(one.oneLine.coordinated).toBe(true);
    // The coordinator hears each shard at most once a second, whatever the crowd.
    expect(one.polls.coordinator.total).toBeGreaterThan(0);
    expect(one.polls.coordinator.peakPerSecond).toBeLessThanOrEqual(SMALL.shards);
    expect(one.fairness.spearmanArrivalVsAdmission).toBeGreaterThanOrEqual(0.9999);
    expect(one.oneLine.passedByLaterJoiner).toBe(0);
    expect(one.fairness.admittedOutOfArrivalOrderWithinShard).toBe(0);

    const apart = replay(true);
    expect(apart.fairness.spearmanArrivalVsAdmission).toBeLessThan(0.9999);
    expect(apart.oneLine.passedByLaterJoiner).toBeGreaterThan(0.01);
  });

  it("tells each citizen the people actually ahead, within a few seconds of admissions", { timeout: 120_000 }, () => {
    const { atJoin, atPolls } = replay(false).oneLine.countAhead;
    expect(atPolls.counted).toBeGreaterThan(10_000);
    for (const e of [atJoin, atPolls]) {
      expect(e.meanAbs).toBeLessThan(secondsOfRate(3));
      expect(Math.max(e.worstOver, e.worstUnder)).toBeLessThan(secondsOfRate(10));
    }
    // Against the cohort's own order only the age of its figures is left: never under, over by a few seconds' admissions.
    const byRank = replay(false).oneLine.countAhead.atPollsByRank;
    expect(byRank.worstUnder).toBe(0);
    expect(byRank.worstOver).toBeLessThan(secondsOfRate(5));
    // One shard's place is a fraction of the cohort's count: independent shards are off by minutes of the rate.
    const apart = replay(true).oneLine.countAhead.atPolls;
    expect(apart.meanAbs).toBeGreaterThan(secondsOfRate(10));
  });

  it("admits at the configured rate while the cap leaves room", { timeout: 120_000 }, () => {
    const { rate } = replay(false).oneLine;
    expect(rate.capFreeMinutes).toBeGreaterThan(0);
    expect(rate.capFreeWorstDeviation).toBeLessThanOrEqual(0.01);
  });
});
