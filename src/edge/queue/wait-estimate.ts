import type { ShardSnapshot } from "../shard/snapshot.js";

/**
 * What a waiting citizen is told: people ahead, an honest wait range and when to ask again. Pure, so the
 * simulator measures the error of the very estimate the page shows.
 */

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
