import { describe, expect, it } from "vitest";
import { estimateWait, MAX_POLL_MS, MIN_POLL_MS, PAUSED_POLL_MS } from "../../src/edge/queue/wait-estimate.js";
import type { ShardSnapshot } from "../../src/edge/shard/snapshot.js";

/**
 * The wait range a citizen is told, exactly: the low end is the configured rate's promise, the high end
 * allows for the pace the shard actually manages and for a binding cap. A range collapsed to one number,
 * or a high end that ignores the observed pace or the cap, fails here.
 */

const SHARDS = 4;
/** 60/min in this shard: one turn a second, so the low end in seconds is the number of turns. */
const base: ShardSnapshot = { lastSeq: 1_000, serving: 100, active: 10, activeCap: 100, ratePerMinute: 60, observedPerMinute: null, paused: false, at: 0 };

describe("the wait range", () => {
  it("before any history: the low end at the configured rate, the high end at two thirds of it, plus a fifth", () => {
    // Ten turns: nine people ahead in the shard, then this citizen.
    expect(estimateWait(110, base, SHARDS)).toEqual({ ahead: 36, etaSeconds: { low: 10, high: 18 }, nextPollMs: 2_500 });
  });

  it("when the line passes over absent holders: the low end counts only the share ahead likely to be there", () => {
    // Half of 980 reached were there (weighted with 20 who were, before any): 9 ahead -> 5 turns of them, then this citizen.
    const half = { ...base, presentShare: 0.5, reached: 980 };
    expect(estimateWait(110, half, SHARDS).etaSeconds).toEqual({ low: 6, high: 18 });
    // People who came back are admitted first: each is a turn before this citizen's.
    expect(estimateWait(110, { ...half, returning: 3 }, SHARDS).etaSeconds!.low).toBe(9);
    // A handful of absent first tickets barely moves it, and however few were there it counts a fifth of those ahead.
    expect(estimateWait(110, { ...base, presentShare: 0, reached: 3 }, SHARDS).etaSeconds!.low).toBe(9);
    expect(estimateWait(200, { ...base, presentShare: 0, reached: 100_000 }, SHARDS).etaSeconds!.low).toBe(21);
  });

  it("with history: the high end at the observed pace when it is slower than the rate", () => {
    expect(estimateWait(110, { ...base, observedPerMinute: 30 }, SHARDS).etaSeconds).toEqual({ low: 10, high: 24 });
  });

  it("never takes a pace faster than the configured rate, however fast the shard went", () => {
    expect(estimateWait(110, { ...base, observedPerMinute: 90 }, SHARDS).etaSeconds).toEqual({ low: 10, high: 12 });
  });

  it("widens the high end by half when the active cap binds: the line then moves only as people finish", () => {
    expect(estimateWait(110, { ...base, active: 100, observedPerMinute: 30 }, SHARDS).etaSeconds).toEqual({ low: 10, high: 30 });
  });

  it("with the autopilot's rate cut below the configured one: the low end at the configured rate, the high end at the rate in force", () => {
    // The rate may climb back at any decision, so the soonest turn is still the configured rate's; the line
    // is not promised to move faster than the cut rate. 60/min configured, 20 in force, no history yet:
    // 10 turns, 10 s at 60/min to 54 s at two thirds of 20/min plus a fifth.
    expect(estimateWait(110, { ...base, configuredPerMinute: 60, ratePerMinute: 20 }, SHARDS).etaSeconds).toEqual({ low: 10, high: 54 });
    // With history, the slower of the rate in force and the observed pace.
    expect(estimateWait(110, { ...base, configuredPerMinute: 60, ratePerMinute: 20, observedPerMinute: 30 }, SHARDS).etaSeconds).toEqual({ low: 10, high: 36 });
    expect(estimateWait(110, { ...base, configuredPerMinute: 60, ratePerMinute: 40, observedPerMinute: 30 }, SHARDS).etaSeconds).toEqual({ low: 10, high: 24 });
  });

  it("at the front: no one ahead, one turn", () => {
    expect(estimateWait(101, base, SHARDS)).toEqual({ ahead: 0, etaSeconds: { low: 1, high: 2 }, nextPollMs: MIN_POLL_MS });
  });

  it("far back: polls no more often than once a minute", () => {
    const far = estimateWait(1_000, base, SHARDS);
    expect(far.etaSeconds).toEqual({ low: 900, high: 1_620 });
    expect(far.nextPollMs).toBe(MAX_POLL_MS);
  });

  it("while paused: no promise at all, and a slow poll", () => {
    expect(estimateWait(110, { ...base, paused: true }, SHARDS)).toEqual({ ahead: 36, etaSeconds: null, nextPollMs: PAUSED_POLL_MS });
  });
});
