import { describe, expect, it } from "vitest";
import { nextAlarm, TICK_MS } from "../../../src/edge/shard/next-alarm.js";

const NOW = Date.parse("2026-05-01T11:00:00Z");

describe("the rule for a shard's next alarm", () => {
  it("sets none while nobody waits and no pre-queue waits for its opening", () => {
    expect(nextAlarm({ setAt: null, now: NOW, moving: false, opensAt: null })).toBeNull();
  });

  it("moves a waiting line on a one-second beat", () => {
    expect(nextAlarm({ setAt: null, now: NOW, moving: true, opensAt: null })).toBe(NOW + TICK_MS);
  });

  it("keeps an alarm that rings sooner, or rang less than a beat ago and is about to run", () => {
    expect(nextAlarm({ setAt: NOW + 300, now: NOW, moving: true, opensAt: null })).toBeNull();
    expect(nextAlarm({ setAt: NOW - TICK_MS + 1, now: NOW, moving: true, opensAt: null })).toBeNull();
  });

  it("replaces an alarm that rang longer ago than a beat without running", () => {
    expect(nextAlarm({ setAt: NOW - TICK_MS, now: NOW, moving: true, opensAt: null })).toBe(NOW + TICK_MS);
  });

  it("wakes a shard holding a pre-queue at the opening, and not later than a waiting line needs", () => {
    const opensAt = NOW + 3_600_000;
    expect(nextAlarm({ setAt: null, now: NOW, moving: false, opensAt })).toBe(opensAt);
    expect(nextAlarm({ setAt: opensAt + 1, now: NOW, moving: false, opensAt })).toBe(opensAt);
    expect(nextAlarm({ setAt: opensAt, now: NOW, moving: false, opensAt })).toBeNull();
    // An alarm far off at the opening does not keep a waiting line from moving.
    expect(nextAlarm({ setAt: opensAt, now: NOW, moving: true, opensAt: null })).toBe(NOW + TICK_MS);
  });
});
