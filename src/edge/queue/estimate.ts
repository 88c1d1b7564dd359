import { advance, type ShardCounters, type ShardPolicy } from "../shard/admission.js";
import type { OriginHealthView } from "../origin-health/autopilot.js";

/**
 * What a waiting citizen is told: people ahead, an honest wait range and when to ask again. Pure, so the
 * simulator measures the error of the very estimate the page shows.
 */

/** What the Worker caches about one shard; at most a second or two old when used. */
export interface ShardSnapshot {
  lastSeq: number;
  serving: number;
  active: number;
  activeCap: number;
  /** The rate this shard admits at now: the autopilot's (src/edge/origin-health/autopilot.ts), or the configured one. */
  ratePerMinute: number;
  /**
   * This shard's configured share of the cohort's rate: the ceiling the autopilot climbs back to. Absent
   * in a snapshot from before the autopilot, where `ratePerMinute` is the configured rate.
   */
  configuredPerMinute?: number;
  /** The origin's health as this shard's citizens met it, and why the rate is what it is (for /ops). */
  origin?: OriginHealthView;
  /** Admissions per minute this shard actually managed lately; null before there is history. */
  observedPerMinute: number | null;
  /** Citizens who came back after the line passed them over, waiting for the next free capacity. */
  returning?: number;
  /**
   * Of the people the line has reached, the share who were there (admitted rather than passed over);
   * null before it reached anyone. The soonest a turn can come counts only that share of those ahead.
   */
  presentShare?: number | null;
  /** How many people the line has reached (admitted or passed over): the weight of `presentShare`. */
  reached?: number;
  paused: boolean;
  /** When the object took the snapshot (ms since epoch). */
  at: number;
}

/**
 * The snapshot of a shard brought up to `now`: its counters, the people holding capacity, its policy and
 * the pace it managed. Built here, once, for the object that hands it out and for the simulator that
 * replays it.
 */
export function shardSnapshot(
  counters: ShardCounters,
  active: number,
  policy: ShardPolicy,
  observedPerMinute: number | null,
  now: number,
  steering?: { configuredPerMinute: number; origin?: OriginHealthView },
  presence?: { returning: number; presentShare: number | null; reached: number },
): ShardSnapshot {
  return {
    ...steering,
    ...presence,
    lastSeq: counters.lastSeq,
    serving: counters.serving,
    active,
    activeCap: policy.activeCap,
    ratePerMinute: policy.ratePerMinute,
    observedPerMinute,
    paused: policy.paused,
    at: now,
  };
}

/**
 * The share of the people ahead who will likely be there when the line reaches them, for the soonest a turn
 * can come: the shard's observed share, as if its first reached had been PRESENT_PRIOR people who were
 * there (so a few absent first tickets do not swing it), and never under PRESENT_SHARE_FLOOR (it sets how
 * often people poll: a share near 0 would have everyone poll as if next).
 */
export function likelyPresent(snap: Pick<ShardSnapshot, "presentShare" | "reached">): number {
  if (snap.presentShare === undefined || snap.presentShare === null) return 1;
  const reached = snap.reached ?? 0;
  const share = (snap.presentShare * reached + PRESENT_PRIOR) / (reached + PRESENT_PRIOR);
  return Math.max(PRESENT_SHARE_FLOOR, share);
}
const PRESENT_PRIOR = 20;
const PRESENT_SHARE_FLOOR = 0.2;

export interface Estimate {
  ahead: number;
  etaSeconds: { low: number; high: number } | null;
  nextPollMs: number;
}

export const MIN_POLL_MS = 2_000;
export const MAX_POLL_MS = 60_000;
export const PAUSED_POLL_MS = 30_000;

/**
 * The fastest a shard's line can move, per minute: the configured rate, since the autopilot may climb back
 * to it at any decision (a low end from a cut rate would be beaten by everyone told while the origin was
 * sick), or the rate in force if that is higher.
 */
export function fastestRate(snap: Pick<ShardSnapshot, "configuredPerMinute" | "ratePerMinute">): number {
  return Math.max(snap.configuredPerMinute ?? 0, snap.ratePerMinute);
}

/**
 * The fewest turns before ticket `seq`'s own, its own included: those who came back first, then only the
 * share of those ahead likely to be there when reached (the line passes over the rest). Not rounded.
 */
export function soonestTurns(seq: number, snap: ShardSnapshot): number {
  const aheadInShard = Math.max(0, seq - snap.serving - 1);
  return aheadInShard * likelyPresent(snap) + 1 + (snap.returning ?? 0);
}

/**
 * Estimate for the ticket `seq` of a shard, given the cohort's shard count. Shards receive citizens by a
 * uniform hash and admit at equal rates, so the people ahead cohort-wide are about the people ahead in
 * this shard times the number of shards.
 */
export function estimateWait(seq: number, snap: ShardSnapshot, shards: number): Estimate {
  const aheadInShard = Math.max(0, seq - snap.serving - 1);
  const ahead = aheadInShard * shards;
  if (snap.paused || snap.ratePerMinute <= 0) return { ahead, etaSeconds: null, nextPollMs: PAUSED_POLL_MS };
  // Our own admission is the (aheadInShard + 1)-th from now, after those who came back.
  const turns = aheadInShard + 1 + (snap.returning ?? 0);
  const low = Math.ceil((Math.ceil(soonestTurns(seq, snap)) * 60) / fastestRate(snap));
  // The rate in force is a ceiling for the high end: when the active cap binds or people linger, the line
  // moves at the observed pace. Before there is any history, allow half again, so no one is promised too
  // early a turn.
  const pace = snap.observedPerMinute !== null && snap.observedPerMinute > 0
    ? Math.min(snap.ratePerMinute, snap.observedPerMinute)
    : snap.ratePerMinute / 1.5;
  const capBinds = snap.active >= snap.activeCap;
  const high = Math.max(low, Math.ceil(((turns * 60) / pace) * (capBinds ? 1.5 : 1.2)));
  // Ask again after about a quarter of the shortest wait: often near the front, rarely far back.
  const nextPollMs = Math.round(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, (low * 1000) / 4)));
  return { ahead, etaSeconds: { low, high }, nextPollMs };
}

/** Observed pace is averaged over this many complete minutes. */
export const PACE_MINUTES = 5;

/**
 * Admissions per minute over the last PACE_MINUTES complete minutes, counted only from the first minute
 * after the shard began admitting; null until that many minutes have passed. The first minutes of an
 * opening run at the full rate while the cap fills, so a shorter history would promise too much.
 * `admittedIn(from, to)` gives the admissions in whole minutes [from, to).
 */
export function observedPace(firstAdmittedAt: number | null, now: number, admittedIn: (fromMinute: number, toMinute: number) => number): number | null {
  if (firstAdmittedAt === null) return null;
  const current = Math.floor(now / 60_000);
  const from = current - PACE_MINUTES;
  if (from < Math.floor(firstAdmittedAt / 60_000) + 1) return null;
  return admittedIn(from, current) / (current - from);
}

/** How far past its arrival a snapshot is carried forward: a few refreshes' worth. A snapshot older than
 * this means the object is not answering, and then the line is not known to be moving. */
export const EXTRAPOLATION_HORIZON_MS = 5_000;

/** The object ticks about once a second while people wait; stepping the rule at that beat reproduces it. */
const EXTRAPOLATION_STEP_MS = 1_000;

/**
 * The snapshot carried `elapsedMs` forward by the admission rule itself, so the position a citizen sees
 * keeps moving between refreshes. It is a floor of what the object does: it starts with no banked credit,
 * ignores capacity freed since (expiries, completed bookings) and counts every admission against the cap,
 * so it never runs ahead of the object under the same configuration. It never moves past the last ticket
 * the snapshot knew of, past the cap, or while paused. A display value only: it never admits anyone, since
 * only the object's `claim` does that.
 */
export function extrapolate(snap: ShardSnapshot, elapsedMs: number): ShardSnapshot {
  const horizon = Math.min(Math.max(0, elapsedMs), EXTRAPOLATION_HORIZON_MS);
  if (snap.paused || horizon === 0 || snap.serving >= snap.lastSeq) return snap;
  const policy = { ratePerMinute: snap.ratePerMinute, activeCap: snap.activeCap, paused: snap.paused };
  let counters: ShardCounters = { lastSeq: snap.lastSeq, serving: snap.serving, credit: 0, creditAt: 0 };
  let active = snap.active;
  for (let t = 0; t < horizon; ) {
    t = Math.min(horizon, t + EXTRAPOLATION_STEP_MS);
    const step = advance(counters, active, policy, t);
    counters = step.counters;
    active += step.admitted;
  }
  if (counters.serving === snap.serving) return snap;
  return { ...snap, serving: counters.serving, active, at: snap.at + horizon };
}
