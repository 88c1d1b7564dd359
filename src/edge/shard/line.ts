import { admissionDeadline, advance, shardCap, shardRate, type LineView, type ShardCounters, type ShardPolicy } from "./admission.js";
import { cohortPolicy, type EdgeConfig } from "../config.js";
import { observedPace, PACE_MINUTES, shardSnapshot, type ShardSnapshot } from "./snapshot.js";
import type { LatencyRing } from "../origin-health/latency-ring.js";
import type { ShardAddress } from "../queue/shard-name.js";
import { stepAutopilot } from "./autopilot-feed.js";
import { recordMinute } from "./history.js";
import { placePrequeueIfDue, type PrequeueSchedule } from "./prequeue.js";
import type { ShardStore } from "./store.js";
import type { CounterRow } from "./schema.js";
import { presentFound } from "../queue/wait-estimate.js";
import { shardLeftPlaces, sortedIncludes, type LeftPlaces } from "../queue/left-places.js";
import { noticesAfterTick } from "./push-notices.js";
import { cohortLineOf, coordinationOf, modeAt, policyIn, saveCoordination, stepOwed, type Mode } from "./coordination.js";

/**
 * A shard's line brought up to a moment: who the admission rule lets in, who it passes over, and the
 * snapshot every answer of the object is computed from.
 */

/** Everything a shard's modules work with: its storage, its configuration and who it is. */
export interface Shard {
  store: ShardStore;
  config: EdgeConfig;
  address: ShardAddress;
  prequeue: PrequeueSchedule | null;
  /** Latencies the gate reported lately, for the ops view's p95 only (memory: an eviction forgets them). */
  latencies: LatencyRing;
  /** Whether the shard keeps one line with the cohort's other shards (coordination.ts): it has some. */
  coordinates: boolean;
}

/** The shard brought up to a moment. */
export interface Tick {
  counters: ShardCounters;
  active: number;
  /** The policy admitted by: the configured one, at the autopilot's rate. */
  policy: ShardPolicy;
  /** The configured rate, the autopilot's ceiling. */
  configuredPerMinute: number;
  firstAdmittedAt: number | null;
  /** Citizens who came back and wait for the next free capacity. */
  returning: number;
  /** The rule admitted by: with the cohort's coordinator, waiting to hear from it, or alone. */
  mode: Mode;
}

/**
 * The rule's inputs: the cohort's overrides in COHORTS, else the global bindings. A new configuration takes
 * effect at the next tick; places are in SQLite and the rule only moves the serving counter forward, so no
 * one's place changes with it.
 */
export function shardPolicy(config: EdgeConfig, address: ShardAddress): ShardPolicy {
  const cohort = cohortPolicy(config, address.cohort);
  return {
    ratePerMinute: shardRate(cohort.admitPerMinute, config.shards),
    activeCap: shardCap(cohort.maxActive, config.shards, address.shard),
    paused: cohort.paused,
  };
}

/**
 * Brings the shard up to `now`: lets in whoever the admission rule allows. Synchronous, inside the
 * caller's transaction, and it writes only what changed: nothing at all when no one was let in.
 */
export function tick(shard: Shard, now: number): Tick {
  const { store, config } = shard;
  // The opening comes first: everyone of the pre-queue is placed before anyone who joins at or after it.
  placePrequeueIfDue(store, shard.prequeue, now);
  const row = store.counters;
  const configured = shardPolicy(config, shard.address);
  const shards = shard.coordinates ? config.shards : 1;
  const coordination = coordinationOf(store);
  const mode = modeAt(coordination, shards, now);
  const cohort = cohortPolicy(config, shard.address.cohort);
  // The autopilot's rate replaces the configured one, which is its ceiling.
  const rated = { ...configured, ratePerMinute: stepAutopilot(store, config, now, [], configured.ratePerMinute).ratePerMinute };
  const policy = policyIn(mode, coordination, rated, cohort.maxActive, shards, shard.address.shard, now);
  const before: ShardCounters = { lastSeq: row.last_seq, serving: row.serving, credit: row.credit, creditAt: row.credit_at };
  const active = activeAt(store, now);
  const line = lineAt(store, now, config.presenceSeconds);
  const step = advance(before, active, policy, now, line);
  const { counters } = step;
  const admitted = step.admitted + step.returnsAdmitted.length;
  const passed = step.passedOver.length + step.returnsPassed.length;
  if (admitted > 0) {
    const deadline = admissionDeadline(now, config.claimWindowSeconds);
    store.admitRange(before.serving, counters.serving, now, deadline);
    for (const seq of step.returnsAdmitted) store.admitOne(seq, now, deadline);
    const holding = store.memory.holding!;
    store.memory.holding = { count: active + admitted, earliestExpiry: Math.min(holding.earliestExpiry, deadline), countedAt: holding.countedAt };
  }
  // Written after the range above, which they are inside.
  for (const seq of step.passedOver) store.passOver(seq, now);
  for (const seq of step.returnsPassed) store.passOverReturner(seq, now);
  if (admitted > 0 || passed > 0) store.countAdmissions(Math.floor(now / 60_000), admitted, passed, 2 * PACE_MINUTES);
  // Credit accrues the same however often it is brought up to date (it is capped at a burst, and
  // min(B, min(B, c + a) + b) = min(B, c + a + b)), so it is written only with an admission, which
  // spends it. While paused it must not accrue, so a pause is written as it happens.
  const firstAdmittedAt = row.first_admitted_at ?? (admitted > 0 ? now : null);
  const admittedBefore = row.admitted_total;
  if (admitted > 0 || passed > 0 || step.leftSkipped > 0 || (policy.paused && (counters.creditAt !== row.credit_at || counters.credit !== row.credit))) {
    const admittedTotal = row.admitted_total + admitted;
    const passedTotal = row.passed_total + passed;
    store.setLine({
      serving: counters.serving,
      credit: counters.credit,
      creditAt: counters.creditAt,
      firstAdmittedAt,
      admittedTotal,
      passedTotal,
      leastPresent: Math.min(leastPresentOf(row), foundPresent(admittedTotal, passedTotal)),
    });
  }
  recordMinute(store, now, before, admittedBefore, active + admitted);
  const returning = line.returning.length - step.returnsAdmitted.length - step.returnsPassed.length;
  store.memory.returnersWaiting = returning;
  if (policy.grantedSeq !== undefined && (step.passedOver.length > 0 || step.leftSkipped > 0 || step.returnsAdmitted.length > 0)) {
    saveCoordination(store, { ...coordination, ...stepOwed(coordination, step) });
  }
  // Notices the line made due go out with the same commit (push-notices.ts): nothing while none is subscribed.
  noticesAfterTick(shard, policy.ratePerMinute, now);
  return { counters, active: active + admitted, policy, configuredPerMinute: configured.ratePerMinute, firstAdmittedAt, returning, mode };
}

/**
 * The line as the admission rule needs it at `now`: who came back, who gave their place up, and whether a
 * ticket's holder has been seen within `presenceSeconds`. Rows are read only as the rule reaches them, a
 * page at a time, so a tick that admits one person reads one or two rows however long the line.
 */
function lineAt(store: ShardStore, now: number, presenceSeconds: number): LineView {
  const since = now - presenceSeconds * 1000;
  const returners = store.memory.returnersWaiting === 0 ? [] : store.returners();
  const seen = new Map<number, number>(returners.map((r) => [r.seq, r.seen]));
  let readUpTo = store.counters.serving;
  // Searched, not copied into a set: a tick asks about the few places it reaches, however many were given up.
  const given = store.leftUnreached();
  return {
    returning: returners.map((r) => r.seq),
    ...(given.length > 0 ? { left: (seq: number) => sortedIncludes(given, seq) } : {}),
    present: (seq) => {
      if (!seen.has(seq) && seq > readUpTo) {
        for (const [s, at] of store.seenAfter(readUpTo, 64)) {
          seen.set(s, at);
          readUpTo = s;
        }
      }
      // A place with no row (a gap) has nobody to admit.
      return (seen.get(seq) ?? Number.NEGATIVE_INFINITY) >= since;
    },
  };
}

/**
 * People holding capacity at `now`. Counted in SQL only when someone may have stopped holding it since
 * the last count (the earliest expiry has passed, a booking completed, or the clock went backwards).
 */
function activeAt(store: ShardStore, now: number): number {
  const h = store.memory.holding;
  if (h && now < h.earliestExpiry && now >= h.countedAt) return h.count;
  const counted = store.countHolding(now);
  store.memory.holding = { count: counted.n, earliestExpiry: counted.first ?? Number.POSITIVE_INFINITY, countedAt: now };
  return counted.n;
}

/** The share of those the line reached who were there, and how many it reached. */
export function presenceOf(admitted: number, passed: number): { presentShare: number | null; reached: number } {
  return { presentShare: admitted + passed > 0 ? admitted / (admitted + passed) : null, reached: admitted + passed };
}

/** The share present the counts say (wait-estimate.ts): the least of these is what the soonest counts. */
function foundPresent(admitted: number, passed: number): number {
  const { presentShare, reached } = presenceOf(admitted, passed);
  return presentFound(presentShare, reached);
}

/** The least share present the line has found: what its counts say now until one has been written. */
function leastPresentOf(row: CounterRow): number {
  return Math.min(row.least_present ?? 1, foundPresent(row.admitted_total, row.passed_total));
}

/** What the Worker caches about the shard, from a tick at `now`. */
export function snapshotOf(shard: Shard, { counters, active, policy, configuredPerMinute, firstAdmittedAt, returning, mode }: Tick, now: number): ShardSnapshot {
  const { store, latencies } = shard;
  const autopilot = store.memory.autopilot!;
  const finding = autopilot.lastFinding;
  const origin = {
    reason: autopilot.reason,
    changedAt: autopilot.changedAt,
    errorShare: finding && finding.samples > 0 ? finding.errorShare : null,
    p95Ms: latencies.p95(),
    samples: latencies.size,
  };
  const row = store.counters;
  const presence = { returning, ...presenceOf(row.admitted_total, row.passed_total), leastPresent: leastPresentOf(row) };
  const base = shardSnapshot(counters, active, policy, paceAt(store, firstAdmittedAt, now), now, { configuredPerMinute, origin }, presence);
  const left = ownLeftPlaces(store, shard.address.shard);
  const departed = row.left_total;
  const snapshot = { ...base, ...(left ? { left } : {}), ...(departed > 0 ? { departed } : {}) };
  if (!shard.coordinates) return snapshot;
  const line = cohortLineOf(coordinationOf(store), mode, shard.address.shard);
  return line ? { ...snapshot, line } : snapshot;
}

/** The shard's places given up that its line has not reached, as its snapshot carries them; kept until they change. */
function ownLeftPlaces(store: ShardStore, shard: number): LeftPlaces | undefined {
  const seqs = store.leftUnreached();
  const kept = store.memory.leftPlaces;
  if (kept && kept.of === seqs) return kept.places;
  const places = shardLeftPlaces(seqs, shard);
  store.memory.leftPlaces = { of: seqs, places };
  return places;
}

/** The tick and its snapshot: what most calls answer from. */
export function snapshotAt(shard: Shard, now: number): ShardSnapshot {
  return snapshotOf(shard, tick(shard, now), now);
}

function paceAt(store: ShardStore, firstAdmittedAt: number | null, now: number): number | null {
  const minute = Math.floor(now / 60_000);
  const known = store.memory.pace;
  // Whole past minutes only, so the figure can change only when the minute does (or admissions begin).
  if (known && known.minute === minute && (known.perMinute !== null || firstAdmittedAt === null)) return known.perMinute;
  const perMinute = observedPace(firstAdmittedAt, now, (from, to) => store.admittedInMinutes(from, to));
  store.memory.pace = { minute, perMinute };
  return perMinute;
}
