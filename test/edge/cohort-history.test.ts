import { describe, expect, it } from "vitest";
import { sumShards } from "../../src/edge/operators/cohort-history.js";
import type { ShardMinute } from "../../src/edge/shard/history.js";
import { PACE_MINUTES } from "../../src/edge/shard/snapshot.js";

/**
 * A cohort's history from its shards' minutes, without an object: counters add up minute by minute, the
 * pace is the mean of the complete minutes' admissions (none for the minute under way), and the median
 * wait is the shards' medians weighted by how many each admitted.
 */

const M = 29_000_000;
const minute = (m: number, fields: Partial<ShardMinute>): ShardMinute => ({
  minute: m,
  joined: 0,
  admitted: 0,
  departed: 0,
  waiting: 0,
  active: 0,
  activeMax: 0,
  medianWaitMs: null,
  ...fields,
});

describe("a cohort's history", () => {
  it("adds the shards' minutes up, with the pace of complete minutes and the admitted-weighted median wait", () => {
    const a = [
      minute(M, { joined: 4, admitted: 3, waiting: 5, active: 3, activeMax: 4, medianWaitMs: 10_000 }),
      minute(M + 1, { joined: 1, admitted: 1, waiting: 4, active: 2, activeMax: 3, medianWaitMs: 20_000 }),
      minute(M + 2, { waiting: 4, active: 2, activeMax: 2 }),
    ];
    const b = [
      minute(M, { joined: 2, admitted: 1, waiting: 1, active: 1, activeMax: 1, medianWaitMs: 100_000 }),
      minute(M + 1, { admitted: 5, active: 2, activeMax: 2, medianWaitMs: 60_000 }),
      minute(M + 2, { active: 2, activeMax: 2 }),
    ];
    // The shards' order does not matter, nor the order their minutes arrive in.
    for (const shards of [[a, b], [[...b].reverse(), a]]) {
      expect(sumShards(shards)).toEqual([
        { at: new Date(M * 60_000).toISOString(), joined: 6, admitted: 4, departed: 0, waiting: 6, active: 4, activeMax: 5, pace: 4, medianWaitSeconds: 10 },
        { at: new Date((M + 1) * 60_000).toISOString(), joined: 1, admitted: 6, departed: 0, waiting: 4, active: 4, activeMax: 5, pace: 5, medianWaitSeconds: 60 },
        { at: new Date((M + 2) * 60_000).toISOString(), joined: 0, admitted: 0, departed: 0, waiting: 4, active: 4, activeMax: 4, pace: null, medianWaitSeconds: null },
      ]);
    }
  });

  it("averages the pace over the last PACE_MINUTES minutes only", () => {
    expect(PACE_MINUTES).toBe(5);
    const admitted = [1, 2, 3, 4, 5, 6, 7];
    const history = sumShards([admitted.map((n, i) => minute(M + i, { admitted: n }))]);
    expect(history.map((m) => m.pace)).toEqual([1, 1.5, 2, 2.5, 3, 4, null]);
  });

  it("has nothing for no shards, or shards with no minutes", () => {
    expect(sumShards([])).toEqual([]);
    expect(sumShards([[], []])).toEqual([]);
  });
});
