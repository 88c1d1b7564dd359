import { describe, expect, it } from "vitest";
import {
  BREAKER_FIRST_PROBE_MS,
  BREAKER_FIRST_SHARE,
  BREAKER_MAX_PROBE_MS,
  BREAKER_MIN_FAILURES,
  BREAKER_WINDOW_MS,
  holdSample,
  MAX_PENDING_PER_SHARD,
  OriginBreaker,
  outcomeOf,
  reportDue,
  REPORT_INTERVAL_MS,
  takeSamples,
} from "../../src/edge/origin-health.js";

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
    for (let round = 0; round < 6; round++) {
      while (breaker.verdict(++now) !== "probe");
      gaps.push(now - last);
      last = now;
      breaker.record(now, "5xx", MAX_ERROR_SHARE, true);
    }
    expect(gaps).toEqual([BREAKER_FIRST_PROBE_MS, 10_000, 20_000, BREAKER_MAX_PROBE_MS, BREAKER_MAX_PROBE_MS, BREAKER_MAX_PROBE_MS]);
    // An answer to a request forwarded before the breaker opened says nothing about the origin now.
    breaker.record(now, "ok", MAX_ERROR_SHARE);
    expect(breaker.isOpen()).toBe(true);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    expect(breaker.isOpen()).toBe(false);
  });

  it("after a probe succeeds, forwards a share of requests that doubles every window, then all", () => {
    // A recovering breaker forwards a request when the draw is under the share in force.
    let draw = BREAKER_FIRST_SHARE * 1.5;
    const breaker = new OriginBreaker(() => draw);
    let now = T0;
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    const recoveredAt = now;
    expect(breaker.isRecovering(now)).toBe(true);
    expect(breaker.verdict(recoveredAt + 1)).toBe("refuse");
    expect(breaker.verdict(recoveredAt + BREAKER_WINDOW_MS)).toBe("forward");
    // Just under full: refused until the doubling reaches all requests.
    draw = 0.99;
    const windowsToAll = Math.ceil(Math.log2(1 / BREAKER_FIRST_SHARE));
    expect(breaker.verdict(recoveredAt + (windowsToAll - 1) * BREAKER_WINDOW_MS)).toBe("refuse");
    expect(breaker.verdict(recoveredAt + windowsToAll * BREAKER_WINDOW_MS)).toBe("forward");
    expect(breaker.isRecovering(recoveredAt + windowsToAll * BREAKER_WINDOW_MS)).toBe(false);
  });

  it("opens again when the requests it forwards while recovering fail", () => {
    const breaker = new OriginBreaker(() => 0);
    let now = T0;
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now, "5xx", MAX_ERROR_SHARE);
    while (breaker.verdict(++now) !== "probe");
    breaker.record(now, "ok", MAX_ERROR_SHARE, true);
    for (let i = 0; i < BREAKER_MIN_FAILURES; i++) breaker.record(now + 1, "timeout", MAX_ERROR_SHARE);
    expect(breaker.isOpen()).toBe(true);
    expect(breaker.verdict(now + 2)).toBe("refuse");
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
