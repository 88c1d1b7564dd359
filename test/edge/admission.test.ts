import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admissionDeadline, advance, burstFor, shardCap, type ShardCounters, type ShardPolicy } from "../../src/edge/shard/admission.js";

/**
 * Property tests of the admission rule. Each run drives the rule the way the Durable Object does: people
 * join, time passes (sometimes backwards, as clocks do), admitted people claim or abandon, and the rule
 * is asked how far the line may move.
 */

interface Step {
  dtMs: number;
  joins: number;
  /** Of the people admitted at this step, how many claim and then finish after `holdMs`. */
  claimShare: number;
  holdMs: number;
}

const step = fc.record({
  dtMs: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: -3_000, max: 0 }), fc.integer({ min: 0, max: 400_000 })),
  joins: fc.integer({ min: 0, max: 50 }),
  claimShare: fc.double({ min: 0, max: 1, noNaN: true }),
  holdMs: fc.integer({ min: 1_000, max: 600_000 }),
});

const policy = fc.record({
  ratePerMinute: fc.oneof(fc.double({ min: 0.1, max: 10, noNaN: true }), fc.double({ min: 10, max: 5_000, noNaN: true })),
  activeCap: fc.integer({ min: 1, max: 200 }),
  paused: fc.boolean(),
});

const CLAIM_WINDOW_S = 120;

/** Runs the rule over the steps with a model of who holds capacity until when. */
function run(p: ShardPolicy, steps: Step[], switchPolicyAt = -1, other?: ShardPolicy) {
  let counters: ShardCounters = { lastSeq: 0, serving: 0, credit: 0, creditAt: 1_000_000 };
  let clock = 1_000_000;
  let holdUntil: number[] = [];
  const trace: { clock: number; admitted: number; serving: number; lastSeq: number; active: number; policy: ShardPolicy }[] = [];
  steps.forEach((s, i) => {
    clock += s.dtMs;
    const current = i >= switchPolicyAt && other ? other : p;
    counters = { ...counters, lastSeq: counters.lastSeq + s.joins };
    const active = holdUntil.filter((t) => t > clock).length;
    const before = counters.serving;
    const next = advance(counters, active, current, clock);
    counters = next.counters;
    const claimers = Math.round(next.admitted * s.claimShare);
    // Claimers hold capacity for their session; abandoners only for the claim window.
    for (let k = 0; k < next.admitted; k++) {
      holdUntil.push(k < claimers ? clock + s.holdMs : admissionDeadline(clock, CLAIM_WINDOW_S));
    }
    holdUntil = holdUntil.filter((t) => t > clock);
    trace.push({ clock, admitted: counters.serving - before, serving: counters.serving, lastSeq: counters.lastSeq, active: active + next.admitted, policy: current });
  });
  return trace;
}

describe("admission rule", () => {
  it("never admits faster than the rate, over any window", () => {
    fc.assert(
      fc.property(policy, fc.array(step, { minLength: 1, maxLength: 60 }), (p, steps) => {
        const trace = run(p, steps);
        const burst = burstFor(p.ratePerMinute);
        for (let i = 0; i < trace.length; i++) {
          let admitted = 0;
          let latest = trace[i]!.clock;
          for (let j = i; j < trace.length; j++) {
            admitted += trace[j]!.admitted;
            latest = Math.max(latest, trace[j]!.clock);
            // From just before step i (credit banked then is at most one burst) to step j.
            const windowMs = latest - Math.max(...trace.slice(0, i + 1).map((t) => t.clock));
            expect(admitted).toBeLessThanOrEqual((Math.max(0, windowMs) * p.ratePerMinute) / 60_000 + burst + 1e-6);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never exceeds the active cap, never admits past the last ticket, never moves backwards", () => {
    fc.assert(
      fc.property(policy, fc.array(step, { minLength: 1, maxLength: 80 }), (p, steps) => {
        let serving = 0;
        for (const t of run(p, steps)) {
          expect(t.active).toBeLessThanOrEqual(p.activeCap);
          expect(t.serving).toBeLessThanOrEqual(t.lastSeq);
          expect(t.serving).toBeGreaterThanOrEqual(serving);
          serving = t.serving;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("admits nobody while paused", () => {
    fc.assert(
      fc.property(policy, fc.array(step, { minLength: 1, maxLength: 40 }), (p, steps) => {
        for (const t of run({ ...p, paused: true }, steps)) expect(t.admitted).toBe(0);
      }),
    );
  });

  it("abandoned admissions stop costing capacity after the claim window", () => {
    // Everyone abandons; a cap of 3 and a fast rate: the cap alone sets the pace, three per window.
    const p: ShardPolicy = { ratePerMinute: 6_000, activeCap: 3, paused: false };
    const steps: Step[] = [{ dtMs: 1_000, joins: 30, claimShare: 0, holdMs: 0 }];
    for (let s = 0; s < 40 * 60; s++) steps.push({ dtMs: 1_000, joins: 0, claimShare: 0, holdMs: 0 });
    const trace = run(p, steps);
    const admittedBy = (ms: number) => trace.filter((t) => t.clock <= trace[0]!.clock + ms).at(-1)!.serving;
    expect(admittedBy(0)).toBe(3);
    expect(admittedBy(CLAIM_WINDOW_S * 1000 - 1_000)).toBe(3);
    expect(admittedBy(CLAIM_WINDOW_S * 1000)).toBe(6);
    expect(admittedBy(9 * CLAIM_WINDOW_S * 1000)).toBe(30);
    expect(trace.at(-1)!.serving).toBe(30);
  });

  it("a policy change mid-line keeps every place and order", () => {
    fc.assert(
      fc.property(policy, policy, fc.array(step, { minLength: 2, maxLength: 60 }), fc.nat(), (p, q, steps, at) => {
        const trace = run(p, steps, at % steps.length, q);
        let serving = 0;
        let lastSeq = 0;
        for (const t of trace) {
          // Nobody's seq changes: the line only grows at the back and the counter only moves forward.
          expect(t.lastSeq).toBeGreaterThanOrEqual(lastSeq);
          expect(t.serving).toBeGreaterThanOrEqual(serving);
          expect(t.active).toBeLessThanOrEqual(t.policy.activeCap === p.activeCap ? p.activeCap : Math.max(p.activeCap, q.activeCap));
          serving = t.serving;
          lastSeq = t.lastSeq;
        }
      }),
    );
  });

  it("splits the cap over shards exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 0, max: 100_000 }), (shards, extra) => {
        const maxActive = shards + extra;
        let total = 0;
        for (let s = 0; s < shards; s++) {
          const cap = shardCap(maxActive, shards, s);
          expect(cap).toBeGreaterThanOrEqual(1);
          total += cap;
        }
        expect(total).toBe(maxActive);
      }),
    );
  });
});
