import { describe, expect, it } from "vitest";
import { simulate, type SimulationReport } from "../../bench/lib/replay.js";
import { DEFAULTS } from "../../bench/lib/replay-options.js";

/**
 * The flash-crowd replay (bench/lib/replay.ts) with citizens giving their place up with the button, small:
 * 8,000 people over 4 shards at a rate that keeps a line for about twenty minutes, a fifth of them drawn
 * to leave (after five minutes on average, unless their turn came first). The line
 * must step over their places (no admission, no pass-over) and everyone behind must be told a count that
 * leaves those places out and never rises because of them, and be admitted sooner than when nobody leaves.
 */

const SMALL = { ...DEFAULTS, people: 8_000, shards: 4, admitPerMinute: 300, maxActive: 600, abandonShare: 0, returnShare: 0, leaveMeanSeconds: 300 };
const replays = new Map<number, SimulationReport>();
const replay = (leaveShare: number) => {
  let r = replays.get(leaveShare);
  if (!r) replays.set(leaveShare, (r = simulate({ ...SMALL, leaveShare })));
  return r;
};

describe("the replay's citizens giving their place up", () => {
  it("steps over every place given up: never admitted, never passed over", { timeout: 120_000 }, () => {
    const r = replay(0.2);
    const leaving = r.leaving!;
    expect(leaving.gaveUp).toBeGreaterThan(SMALL.people * 0.05);
    expect(leaving.steppedOver).toBe(leaving.gaveUp);
    expect(leaving.reachedAsOthers).toBe(0);
    expect(r.presence.passedOver).toBe(0);
    // Everyone else was there and admitted at their place.
    expect(r.presence.measured).toBe(SMALL.people - leaving.gaveUp);
    expect(r.sample.admittedAt.filter((t, c) => r.sample.drawnToLeave[c] === 1 && !Number.isNaN(t)).length).toBe(leaving.admittedFirst);
  });

  it("tells those behind a count without the places given up, which never rises because of them", { timeout: 120_000 }, () => {
    const { leaving, oneLine } = replay(0.2);
    const { countRises, countWithoutLeaving } = leaving!;
    expect(countRises.compared).toBeGreaterThan(10_000);
    expect(countRises.roseBecauseOfLeaving).toBe(0);
    // Leaving out the places given up brings the count near the truth; keeping them in overcounts by far more.
    expect(countWithoutLeaving.mean).toBeGreaterThan(5 * Math.max(1, oneLine.countAhead.atPolls.meanAbs));
    // Never fewer than the truth by rank: no place given up is taken off twice.
    expect(oneLine.countAhead.atPollsByRank.worstUnder).toBe(0);
  });

  it("admits the citizens who stayed sooner than when nobody leaves", { timeout: 120_000 }, () => {
    const left = replay(0.2);
    const none = replay(0);
    expect(none.leaving).toBeUndefined();
    let sooner = 0;
    let later = 0;
    left.sample.admittedAt.forEach((t, c) => {
      if (left.sample.drawnToLeave[c] === 1) return;
      const before = none.sample.admittedAt[c]!;
      if (t < before) sooner++;
      else if (t > before) later++;
    });
    expect(sooner).toBeGreaterThan((SMALL.people - left.leaving!.gaveUp) / 2);
    // Sessions (and so the cap's room) are drawn in admission order, which leaving changes: a few are later.
    expect(later).toBeLessThan(sooner / 10);
    expect(left.presence.queueClearedSeconds).toBeLessThan(none.presence.queueClearedSeconds);
  });
});
