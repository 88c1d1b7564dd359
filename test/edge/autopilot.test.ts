import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  autopilotStep,
  climbStep,
  DECISION_MS,
  initialAutopilot,
  LATENCY_CUT,
  LATENCY_SETTLE_MS,
  MARGIN,
  MILD_CUT,
  recoveryBoundMs,
  type AutopilotConfig,
  type AutopilotState,
  type HealthSample,
} from "../../src/edge/origin-health/autopilot.js";

/**
 * Property tests of the autopilot. Each run drives the controller the way a shard would: batches of health
 * samples arrive with completion calls, time passes (sometimes backwards, as clocks do), and the controller
 * is asked for the rate in force.
 */

const T0 = 1_700_000_000_000;

const config = fc
  .record({
    ceilingPerMinute: fc.oneof(fc.double({ min: 0.5, max: 20, noNaN: true }), fc.double({ min: 20, max: 5_000, noNaN: true })),
    floorShare: fc.double({ min: 0.01, max: 0.9, noNaN: true }),
    targetP95Ms: fc.integer({ min: 100, max: 5_000 }),
    maxErrorShare: fc.double({ min: 0.001, max: 0.2, noNaN: true }),
  })
  .map(({ floorShare, ...c }): AutopilotConfig => ({ ...c, enabled: true, floorPerMinute: c.ceilingPerMinute * floorShare }));

const outcome = fc.constantFrom<HealthSample["outcome"]>("ok", "ok", "ok", "5xx", "timeout", "unavailable");
const sample = fc.record({ latencyMs: fc.integer({ min: 1, max: 20_000 }), outcome });
const batch = fc.record({
  dtMs: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: -5_000, max: 0 }), fc.integer({ min: 0, max: 120_000 })),
  samples: fc.array(sample, { maxLength: 40 }),
});

/** Any history: arbitrary batches at arbitrary times, from the state a shard starts with. */
function replay(c: AutopilotConfig, batches: { dtMs: number; samples: HealthSample[] }[]): { state: AutopilotState; clock: number; rates: number[] } {
  let clock = T0;
  let state = initialAutopilot(c, clock);
  const rates: number[] = [];
  for (const b of batches) {
    clock += b.dtMs;
    state = autopilotStep(state, b.samples, c, clock);
    rates.push(state.ratePerMinute);
  }
  return { state, clock, rates };
}

const ok = (latencyMs: number): HealthSample => ({ latencyMs, outcome: "ok" });
const failed: HealthSample = { latencyMs: 30_000, outcome: "timeout" };
const healthy = (c: AutopilotConfig, n = 20) => Array.from({ length: n }, () => ok(Math.floor(c.targetP95Ms / 2)));

describe("autopilot", () => {
  it("never goes above the ceiling nor below the floor, and is the ceiling when disabled", () => {
    fc.assert(
      fc.property(config, fc.boolean(), fc.array(batch, { maxLength: 200 }), (c, enabled, batches) => {
        const cfg = { ...c, enabled };
        const { rates } = replay(cfg, batches);
        for (const rate of rates) {
          if (!enabled) expect(rate).toBe(c.ceilingPerMinute);
          expect(rate).toBeLessThanOrEqual(c.ceilingPerMinute);
          expect(rate).toBeGreaterThanOrEqual(c.floorPerMinute);
        }
      }),
    );
  });

  it("keeps a state that survives a JSON round trip and decides the same from it", () => {
    fc.assert(
      fc.property(config, fc.array(batch, { maxLength: 60 }), batch, (c, batches, last) => {
        const { state, clock } = replay(c, batches);
        const stored = JSON.parse(JSON.stringify(state)) as AutopilotState;
        expect(stored).toEqual(state);
        expect(autopilotStep(stored, last.samples, c, clock + last.dtMs)).toEqual(autopilotStep(state, last.samples, c, clock + last.dtMs));
      }),
    );
  });

  it("backs off monotonically under sustained errors, down to the floor", () => {
    fc.assert(
      fc.property(
        config,
        fc.array(batch, { maxLength: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (c, history, severity) => {
          let { state, clock } = replay(c, history);
          // Errors just above the target share up to every request failing; 40 samples a second.
          const errorShare = c.maxErrorShare + (1 - c.maxErrorShare) * Math.max(severity, 0.05);
          const errors = Math.ceil(40 * errorShare);
          const samples = [...Array.from({ length: errors }, () => failed), ...Array.from({ length: 40 - errors }, () => ok(10))];
          let previous = state.ratePerMinute;
          let decisions = 0;
          // Each decision cuts to at most MILD_CUT of the rate, so the floor is reached within this many.
          const bound = Math.ceil(Math.log(c.floorPerMinute / c.ceilingPerMinute) / Math.log(MILD_CUT)) + 1;
          for (let second = 1; second <= (bound + 2) * (DECISION_MS / 1000); second++) {
            clock += 1_000;
            const decidedAt = state.decidedAt;
            state = autopilotStep(state, samples, c, clock);
            expect(state.ratePerMinute).toBeLessThanOrEqual(previous);
            if (state.decidedAt !== decidedAt) {
              decisions++;
              // Every decision cuts, until the floor holds it.
              if (previous > c.floorPerMinute) expect(state.ratePerMinute).toBeLessThan(previous);
              expect(state.reason).toBe("errors above target");
            }
            previous = state.ratePerMinute;
          }
          expect(decisions).toBeGreaterThanOrEqual(bound);
          expect(state.ratePerMinute).toBe(c.floorPerMinute);
        },
      ),
    );
  });

  it("recovers to the ceiling within the stated bound once the origin is healthy, and stays there", () => {
    fc.assert(
      fc.property(config, fc.array(batch, { maxLength: 60 }), (c, history) => {
        let { state, clock } = replay(c, history);
        const bound = recoveryBoundMs(c);
        // The stated bound: floor to ceiling in CLIMB_MS (five minutes), plus the probe zone near the rate
        // that last hurt the origin, plus two decisions; never more than nine and a quarter minutes for a
        // floor at or under half the ceiling.
        if (c.floorPerMinute <= c.ceilingPerMinute / 2) expect(bound).toBeLessThanOrEqual(555_000);
        const start = clock;
        const decidedBefore = state.decidedAt;
        let reachedAt: number | null = null;
        const samples = healthy(c);
        // A healthy origin, 20 samples a second, for the bound and ten minutes more.
        for (let second = 1; second <= bound / 1000 + 600; second++) {
          clock += 1_000;
          state = autopilotStep(state, samples, c, clock);
          // The first decision may still judge samples from before the recovery; from then on, only health.
          const judgedHealth = state.decidedAt !== decidedBefore;
          if (reachedAt === null && judgedHealth && state.ratePerMinute === c.ceilingPerMinute) reachedAt = clock;
          // Once at the ceiling under a steady healthy origin, it holds exactly there: no oscillation at all.
          if (reachedAt !== null) expect(state.ratePerMinute).toBe(c.ceilingPerMinute);
        }
        expect(reachedAt).not.toBeNull();
        expect(reachedAt! - start).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 50 },
    );
  }, 60_000);

  it("holds within a stated band around the capacity of an origin at capacity", () => {
    // The origin at capacity: it serves C admissions' worth of bookings a minute and refuses the excess, so
    // at a rate r above C a share 1 - C/r of requests fail, and below C none do (latency stays under
    // target). The band: no lower than MARGIN x C after the first back-off (the cut lands on the share the
    // origin served, times the margin), and no higher than one climb step above C / (1 - max error share),
    // the rate at which errors exceed their target.
    fc.assert(
      fc.property(config, fc.double({ min: 0.2, max: 0.8, noNaN: true }), (c0, capacityShare) => {
        const c = { ...c0, floorPerMinute: Math.min(c0.floorPerMinute, c0.ceilingPerMinute * 0.1) };
        const capacity = c.ceilingPerMinute * capacityShare;
        let clock = T0;
        let state = initialAutopilot(c, clock);
        const perBatch = 400;
        let backedOff = false;
        let [low, high] = [Infinity, 0];
        // An hour; one batch per decision interval (400 samples: the error share is rounded to 1/400).
        for (let i = 0; i < 720; i++) {
          clock += DECISION_MS;
          const errors = Math.round(perBatch * Math.max(0, 1 - capacity / state.ratePerMinute));
          const samples = [...Array.from({ length: errors }, () => failed), ...Array.from({ length: perBatch - errors }, () => ok(10))];
          state = autopilotStep(state, samples, c, clock);
          if (state.ratePerMinute < capacity) backedOff = true;
          if (backedOff) [low, high] = [Math.min(low, state.ratePerMinute), Math.max(high, state.ratePerMinute)];
        }
        // An origin whose refusals at the ceiling are not above the target (rounded as the samples are) is
        // not degraded by the controller's rule: the rate stays at the ceiling. Anything more fails it.
        const errorsAtCeiling = Math.round(perBatch * (1 - capacity / c.ceilingPerMinute)) / perBatch;
        if (errorsAtCeiling <= c.maxErrorShare) {
          expect(backedOff).toBe(false);
          expect(state.ratePerMinute).toBe(c.ceilingPerMinute);
          return;
        }
        expect(backedOff).toBe(true);
        const rounding = 1 / perBatch;
        expect(low).toBeGreaterThanOrEqual(MARGIN * capacity * (1 - rounding) - 1e-9);
        expect(high).toBeLessThanOrEqual(capacity / (1 - c.maxErrorShare - rounding) + climbStep(c) + 1e-9);
      }),
      { numRuns: 30 },
    );
  }, 60_000);

  it("cuts once for latency alone, then lets the cut reach the origin before cutting again", () => {
    const c: AutopilotConfig = { enabled: true, ceilingPerMinute: 600, floorPerMinute: 60, targetP95Ms: 1_000, maxErrorShare: 0.01 };
    const slow = Array.from({ length: 20 }, () => ok(1_500));
    let state = initialAutopilot(c, T0);
    const rates: number[] = [];
    for (let t = DECISION_MS; t <= LATENCY_SETTLE_MS + DECISION_MS; t += DECISION_MS) {
      state = autopilotStep(state, slow, c, T0 + t);
      rates.push(state.ratePerMinute);
      expect(state.reason).toBe("latency above target");
    }
    // One cut at the first decision, held through the settling minute, the second cut once it has passed.
    expect(rates.slice(0, -1).every((r) => r === 600 * LATENCY_CUT)).toBe(true);
    expect(rates.at(-1)).toBeCloseTo(600 * LATENCY_CUT * LATENCY_CUT);
    // Errors get no such grace.
    state = autopilotStep(state, [failed, ...slow], c, T0 + LATENCY_SETTLE_MS + 2 * DECISION_MS);
    expect(state.ratePerMinute).toBeLessThan(rates.at(-1)!);
  });

  it("says why the rate changed", () => {
    const c: AutopilotConfig = { enabled: true, ceilingPerMinute: 600, floorPerMinute: 60, targetP95Ms: 1_000, maxErrorShare: 0.01 };
    let state = initialAutopilot(c, T0);
    expect(state.reason).toBe("started");
    state = autopilotStep(state, Array.from({ length: 20 }, () => ok(3_000)), c, T0 + DECISION_MS);
    expect(state).toMatchObject({ reason: "latency above target", lastFinding: { samples: 20, slow: 20, slowShare: 1 } });
    state = autopilotStep(state, [failed, ...healthy(c, 19)], c, T0 + 2 * DECISION_MS);
    expect(state.reason).toBe("errors above target");
    state = autopilotStep(state, healthy(c), c, T0 + 3 * DECISION_MS);
    expect(state.reason).toBe("healthy, climbing");
    // Too few samples to judge: the window waits, up to QUIET_MS.
    const waiting = autopilotStep(state, healthy(c, 3), c, T0 + 4 * DECISION_MS);
    expect(waiting.decidedAt).toBe(state.decidedAt);
    expect(waiting.window.samples).toBe(3);
    state = autopilotStep(state, [], c, T0 + 3 * DECISION_MS + 30_000);
    expect(state.reason).toBe("no samples, climbing");
    expect(autopilotStep(state, [], { ...c, enabled: false }, T0 + 100_000)).toMatchObject({ reason: "disabled", ratePerMinute: 600 });
  });
});
