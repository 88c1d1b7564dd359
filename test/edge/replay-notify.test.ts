import { describe, expect, it } from "vitest";
import { AwayOutcome, simulate, type SimulationReport } from "../../bench/lib/replay.js";
import { DEFAULTS } from "../../bench/lib/replay-options.js";
import { noticeHoldUntil } from "../../src/edge/shard/push-notices.js";

/**
 * The flash-crowd replay (bench/lib/replay.ts) with citizens away from the screen, small: 8,000 people over
 * 4 shards at a rate that keeps a line for about twenty minutes, 30% of them away (looking at the page an
 * exponential time apart, mean 480 s). With nobody subscribed an away citizen claims only at their next
 * look; with the away group subscribed the admitted notice wakes them and holds the admission from its
 * delivery. The same seed: the same citizens are away and look after the same times in both.
 */

const SMALL = { ...DEFAULTS, people: 8_000, shards: 4, admitPerMinute: 300, maxActive: 600, awayShare: 0.3, lookMeanSeconds: 480 };
const replays = new Map<number, SimulationReport>();
const replay = (notifiedShare: number) => {
  let r = replays.get(notifiedShare);
  if (!r) replays.set(notifiedShare, (r = simulate({ ...SMALL, notifiedShare })));
  return r;
};

describe("the replay's citizens away from the screen", () => {
  it("holds a notified admission the claim window from delivery, never past the return window", () => {
    const admittedAt = 1_000_000;
    expect(noticeHoldUntil(admittedAt + 5_000, admittedAt, 30, 600)).toBe(admittedAt + 35_000);
    expect(noticeHoldUntil(admittedAt + 590_000, admittedAt, 30, 600)).toBe(admittedAt + 600_000);
  });

  it("without notifications, claims in time only when the next look falls in the claim window", { timeout: 120_000 }, () => {
    const r = replay(0);
    const { lookAfter, outcome } = r.sample.away!;
    const away = r.away!;
    expect(away.notified).toBe(0);
    expect(away.admitted).toBeGreaterThan(SMALL.people * 0.2);
    let checked = 0;
    for (let c = 0; c < outcome.length; c++) {
      if (outcome[c] === AwayOutcome.NotAdmitted) continue;
      checked++;
      const look = lookAfter[c]!;
      const expected = look <= SMALL.claimWindowSeconds ? AwayOutcome.InTime : look <= SMALL.claimWindowSeconds + SMALL.returnWindowSeconds ? AwayOutcome.CameBack : AwayOutcome.Lost;
      expect(outcome[c], `citizen ${c}, next look ${look.toFixed(1)} s after the admission`).toBe(expected);
    }
    expect(checked).toBe(away.admitted);
    expect(away.heldBeyondWindow.citizenSeconds).toBe(0);
  });

  it("with notifications, a citizen whose look comes too late claims in time", { timeout: 120_000 }, () => {
    const none = replay(0).sample.away!;
    const notifiedRun = replay(1);
    const notified = notifiedRun.sample.away!;
    let lateLookers = 0;
    let inTimeWithNotice = 0;
    for (let c = 0; c < none.outcome.length; c++) {
      if (none.outcome[c] === AwayOutcome.NotAdmitted || notified.outcome[c] === AwayOutcome.NotAdmitted) continue;
      // The same citizen, the same next look after the admission, in both runs.
      expect(notified.lookAfter[c]).toBe(none.lookAfter[c]);
      if (none.lookAfter[c]! <= SMALL.claimWindowSeconds) continue;
      lateLookers++;
      expect(none.outcome[c]).not.toBe(AwayOutcome.InTime);
      if (notified.outcome[c] === AwayOutcome.InTime) inTimeWithNotice++;
    }
    expect(lateLookers).toBeGreaterThan(1_000);
    // Most open the notice within the window it gives them (a median reaction of 25 s against 30 s from delivery).
    expect(inTimeWithNotice).toBeGreaterThan(lateLookers * 0.4);
    const away = notifiedRun.away!;
    expect(away.notified).toBe(away.admitted);
    expect(away.lost).toBeLessThan(replay(0).away!.lost);
    // The notices held admissions past their own claim window, never past the return window from the admission.
    expect(away.keptByNoticeHold).toBeGreaterThan(0);
    expect(away.heldBeyondWindow.citizenSeconds).toBeGreaterThan(0);
    expect(away.heldBeyondWindow.citizenSeconds).toBeLessThanOrEqual(away.notified * (SMALL.returnWindowSeconds - SMALL.claimWindowSeconds));
  });
});
