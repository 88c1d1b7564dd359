import { describe, expect, it } from "vitest";
import {
  BREAKER_FIRST_PROBE_MS,
  BREAKER_FIRST_SHARE,
  BREAKER_MAX_PROBE_MS,
  BREAKER_MIN_FAILURES,
  BREAKER_RAMP_STEP_MS,
  BREAKER_WINDOW_MS,
  OriginBreaker,
} from "../../src/edge/origin-health/breaker.js";
import { outcomeOf } from "../../src/edge/origin-health/outcome.js";
import { holdSample, MAX_PENDING_PER_SHARD, reportDue, REPORT_INTERVAL_MS, takeSamples } from "../../src/edge/origin-health/sample-buffer.js";

/**
 * The gate's circuit breaker and sample buffer, on their own clock: when the breaker opens and closes, how
 * often it probes, and that the buffer is bounded and reports at most once a second per shard.
 */

const T0 = 1_000_000;
const MAX_ERROR_SHARE = 0.01;

describe("the origin breaker", () => {
  it("forwards while the origin answers, and one stray failure among many does not open it", () => {
    const breaker = new OriginBreaker();
    for (let i = 0; i < 100; i++) breaker.record(T0 + i, "ok", MAX_ERROR_SHARE);
    for (let i = 0; i < BREAKER_MIN_FAILURES - 1; i++) breaker.record(T0 + 100 + i, "5xx", MAX_ERROR_SHARE);
    expect(breaker.verdict(T0 + 200)).toBe("forward");
  });

  it("opens on failures above the error target, refuses, and lets a probe through now and then", () => {
    const breaker = new OriginBreaker();
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(T0 + i, i === 0 ? "timeout" : "unavailable", MAX_ERROR_SHARE);
    const openedAt = T0 + BREAKER_MIN_FAILURES - 1;
    expect(breaker.isOpen()).toBe(true);
    expect(breaker.verdict(openedAt + 1)).toBe("refuse");
    expect(breaker.verdict(openedAt + BREAKER_FIRST_PROBE_MS)).toBe("probe");
    // One probe at a time: the next request in the same moment is refused.
    expect(breaker.verdict(openedAt + BREAKER_FIRST_PROBE_MS)).toBe("refuse");
  });

  it("waits twice as long after each failed probe, up to a bound, ignores answers to requests sent before it opened, and closes on a probe that succeeds", () => {
    const breaker = new OriginBreaker();
    let now = T0;
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
    const gaps: number[] = [];
    let last = now;
    for (let round = 0; round < 7; round++) {
      while (breaker.verdict(++now) !== "probe");
      gaps.push(now - last);
      last = now;
      breaker.record(now, "5xx", MAX_ERROR_SHARE, true);
    }
    expect(gaps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, BREAKER_MAX_PROBE_MS, BREAKER_MAX_PROBE_MS]);
    // An answer to a request forwarded before the breaker opened says nothing about the origin now.
    breaker.record(now, "ok", MAX_ERROR_SHARE);
    expect(breaker.isOpen()).toBe(true);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    expect(breaker.isOpen()).toBe(false);
  });

  it("after a probe succeeds, forwards a small share of requests, doubling it at most every step and only once a forwarded one succeeded, then all", () => {
    // A ramping breaker forwards a request when the draw is under the share in force: a draw between the
    // share and its double tells which of the two is in force.
    let share = BREAKER_FIRST_SHARE;
    let draw = share * 1.5;
    const breaker = new OriginBreaker(() => draw);
    let now = T0;
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    const rampedAt = now;
    expect(breaker.isRecovering()).toBe(true);
    expect(breaker.verdict(rampedAt + 1)).toBe("refuse");
    // A refused citizen is told to come back in a step, when the ramp may let more through.
    expect(breaker.retryAfterSeconds(rampedAt + 1)).toBe(BREAKER_RAMP_STEP_MS / 1000);
    // The probe's success counts for the first doubling, a step later.
    share *= 2;
    expect(breaker.verdict(rampedAt + BREAKER_RAMP_STEP_MS)).toBe("forward");
    // Nothing forwarded since has succeeded: however long it waits, the share stays.
    draw = share * 1.5;
    now = rampedAt + 10 * BREAKER_RAMP_STEP_MS;
    expect(breaker.verdict(now)).toBe("refuse");
    expect(breaker.isRecovering()).toBe(true);
    // A success, and the next request finds the share doubled…
    breaker.record(now, "ok", MAX_ERROR_SHARE);
    share *= 2;
    expect(breaker.verdict(now)).toBe("forward");
    draw = Math.min(0.99, share * 1.5);
    // …and from then on, each success lets the next request a step later find it doubled, never sooner.
    while (share < 1) {
      breaker.record(now, "ok", MAX_ERROR_SHARE);
      expect(breaker.verdict(now + BREAKER_RAMP_STEP_MS - 1)).toBe("refuse");
      now += BREAKER_RAMP_STEP_MS;
      share *= 2;
      expect(breaker.verdict(now)).toBe("forward");
      draw = Math.min(0.99, share * 1.5);
    }
    expect(breaker.isRecovering()).toBe(false);
    expect(breaker.verdict(now + 1)).toBe("forward");
  });

  it("lets the crowd back within seconds of a three-second crash, telling the refused to come back when the next probe is due", () => {
    // One isolate's requests, one every 100 ms on the breaker's own clock; which the ramp forwards is a
    // seeded draw. The origin fails everything for three seconds (a crash and restart), then serves all.
    let seed = 11;
    const breaker = new OriginBreaker(() => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    });
    const backAt = T0 + 3_000;
    let lastRefused = T0;
    let maxRetryAfter = 0;
    for (let now = T0; now < T0 + 60_000; now += 100) {
      const verdict = breaker.verdict(now);
      if (verdict === "refuse") {
        lastRefused = now;
        maxRetryAfter = Math.max(maxRetryAfter, breaker.retryAfterSeconds(now));
        continue;
      }
      breaker.record(now, now < backAt ? "unavailable" : "ok", MAX_ERROR_SHARE, verdict === "probe");
    }
    // The last refusal comes seconds after the origin is back, not the two minutes a ramp that doubled
    // every 30 s took: a probe finds it back within the probe interval then in force (4 s after two
    // failed probes), and the ramp doubles about every second or two at ten requests a second.
    const steps = Math.ceil(Math.log2(1 / BREAKER_FIRST_SHARE));
    expect(lastRefused - backAt).toBeLessThanOrEqual(4 * BREAKER_FIRST_PROBE_MS + 2 * steps * BREAKER_RAMP_STEP_MS);
    expect(breaker.isOpen()).toBe(false);
    expect(breaker.isRecovering()).toBe(false);
    // Nobody refused was told to wait past the next probe.
    expect(maxRetryAfter).toBeLessThanOrEqual((4 * BREAKER_FIRST_PROBE_MS) / 1000);
  });

  it("still shields an origin that stays down: its probes back off to one per half minute", () => {
    const breaker = new OriginBreaker(() => 0);
    let forwarded = 0;
    for (let now = T0; now < T0 + 600_000; now += 100) {
      const verdict = breaker.verdict(now);
      if (verdict === "refuse") continue;
      forwarded++;
      breaker.record(now, "unavailable", MAX_ERROR_SHARE, verdict === "probe");
    }
    // Three failures to open it, probes after 1, 2, 4, 8 and 16 s, then one every 30 s: about 25 of the
    // 6,000 requests of ten minutes reach the origin.
    expect(forwarded).toBeLessThanOrEqual(BREAKER_MIN_FAILURES + 5 + Math.ceil(600_000 / BREAKER_MAX_PROBE_MS));
    expect(breaker.retryAfterSeconds(T0 + 600_000)).toBeGreaterThan(1);
  });

  it("opens again at once when a request fails while ramping, and waits longer for the next probe", () => {
    const breaker = new OriginBreaker(() => 0);
    let now = T0;
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    expect(breaker.verdict(now + 1)).toBe("forward");
    breaker.record(now + 1, "timeout", MAX_ERROR_SHARE);
    expect(breaker.isOpen()).toBe(true);
    expect(breaker.verdict(now + 2)).toBe("refuse");
    // The probe after a failed ramp waits twice as long as the one that succeeded.
    const reopenedAt = now + 1;
    let probeAt = reopenedAt;
    while (breaker.verdict(++probeAt) !== "probe");
    expect(probeAt - reopenedAt).toBe(2 * BREAKER_FIRST_PROBE_MS);
  });

  it("probes an origin that fails again soon after it recovered where the last episode left off, and a later failure afresh", () => {
    const breaker = new OriginBreaker(() => 0);
    let now = T0;
    const open = () => {
      for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
      expect(breaker.isOpen()).toBe(true);
    };
    const nextProbeGap = () => {
      const from = now;
      while (breaker.verdict(++now) !== "probe");
      return now - from;
    };
    const recover = () => {
      breaker.record(now, "ok", MAX_ERROR_SHARE, true);
      while (breaker.isRecovering()) {
        now += BREAKER_RAMP_STEP_MS;
        if (breaker.verdict(now) === "forward") breaker.record(now, "ok", MAX_ERROR_SHARE);
      }
    };
    open();
    // Two failed probes (after 1 s and 2 s), then one that finds it back after 4 s.
    expect(nextProbeGap()).toBe(BREAKER_FIRST_PROBE_MS);
    breaker.record(now, "unavailable", MAX_ERROR_SHARE, true);
    expect(nextProbeGap()).toBe(2 * BREAKER_FIRST_PROBE_MS);
    breaker.record(now, "unavailable", MAX_ERROR_SHARE, true);
    expect(nextProbeGap()).toBe(4 * BREAKER_FIRST_PROBE_MS);
    recover();
    // Failing again within a window of the recovery: the origin is back only in part.
    now += 1_000;
    open();
    expect(nextProbeGap()).toBe(8 * BREAKER_FIRST_PROBE_MS);
    recover();
    // Failing long after: a new episode, probed soon again.
    now += BREAKER_WINDOW_MS + 1_000;
    open();
    expect(nextProbeGap()).toBe(BREAKER_FIRST_PROBE_MS);
  });

  it("ignores a late answer to a request sent before the ramp began", () => {
    const breaker = new OriginBreaker(() => 0);
    let now = T0;
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    // A request sent while the origin hung times out only now: it tells nothing about the origin since.
    breaker.record(now + 10, "timeout", MAX_ERROR_SHARE, false, T0 - 5_000);
    expect(breaker.isOpen()).toBe(false);
    expect(breaker.isRecovering()).toBe(true);
  });

  it("forgets failures older than its window", () => {
    const breaker = new OriginBreaker();
    for (let i = 0; i < BREAKER_MIN_FAILURES - 1; i++) breaker.record(T0, "5xx", MAX_ERROR_SHARE);
    breaker.record(T0 + BREAKER_WINDOW_MS + 1, "5xx", MAX_ERROR_SHARE);
    expect(breaker.verdict(T0 + BREAKER_WINDOW_MS + 2)).toBe("forward");
  });
});

describe("samples on their way to a shard", () => {
  it("classifies answers as the autopilot counts them", () => {
    expect([200, 201, 404, 409, 500, 502, 503].map((s) => outcomeOf(s))).toEqual(["ok", "ok", "ok", "ok", "5xx", "5xx", "unavailable"]);
    expect(outcomeOf("timeout")).toBe("timeout");
    expect(outcomeOf("unreachable")).toBe("unavailable");
  });

  it("holds at most a bounded number per shard, the newest, and reports at most once per interval", () => {
    const shard = `t-${crypto.randomUUID()}/0`;
    expect(reportDue(shard, T0)).toBe(false);
    for (let i = 0; i < MAX_PENDING_PER_SHARD + 10; i++) holdSample(shard, { latencyMs: i, outcome: "ok" });
    expect(reportDue(shard, T0)).toBe(true);
    expect(reportDue(shard, T0 + REPORT_INTERVAL_MS - 1)).toBe(false);
    const taken = takeSamples(shard);
    expect(taken).toHaveLength(MAX_PENDING_PER_SHARD);
    expect(taken[0]!.latencyMs).toBe(10);
    expect(takeSamples(shard)).toEqual([]);
    holdSample(shard, { latencyMs: 1, outcome: "5xx" });
    expect(reportDue(shard, T0 + REPORT_INTERVAL_MS)).toBe(true);
  });
});
