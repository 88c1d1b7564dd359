import type { ShardSnapshot } from "../shard/snapshot.js";
import { aheadInShard, isPlacing } from "./count-ahead.js";

/**
 * What a waiting citizen is told: people ahead, an honest wait range and when to ask again. Pure, so the
 * simulator measures the error of the very estimate the page shows.
 */

/**
 * The share of the people ahead who will likely be there when the line reaches them, for the soonest a turn
 * can come: the least the shard has found (`leastPresent`, kept by the shard from presentFound at each
 * tick). The low end is a "not sooner than": counted from a share that can only fall, it never rises
 * because more people turned out to be there, and the shard's later findings (people reached after longer
 * waits, more of them gone) only bring it lower. A snapshot without it gives the share its counts say now,
 * and one that counts no presence at all, everyone ahead.
 */
export function likelyPresent(snap: Pick<ShardSnapshot, "presentShare" | "reached" | "leastPresent">): number {
  if (snap.leastPresent !== undefined) return snap.leastPresent;
  return snap.presentShare === undefined ? 1 : presentFound(snap.presentShare, snap.reached ?? 0);
}

/**
 * The share present the shard's counts say: its observed share, as if its first reached had been
 * PRESENT_PRIOR people of whom PRESENT_PRIOR_SHARE were there (so a few present or absent first tickets do
 * not swing it), and never under PRESENT_SHARE_FLOOR (it sets how often people poll: a share near 0 would
 * have everyone poll as if next). Before the line has reached anyone it is PRESENT_PRIOR_SHARE, not
 * everyone: the first reached are the shortest waits, so the fewest gone; the low end must not assume
 * those far back will all be there.
 */
export function presentFound(presentShare: number | null, reached: number): number {
  const share = ((presentShare ?? 0) * reached + PRESENT_PRIOR * PRESENT_PRIOR_SHARE) / (reached + PRESENT_PRIOR);
  return Math.max(PRESENT_SHARE_FLOOR, share);
}
const PRESENT_PRIOR = 20;
export const PRESENT_PRIOR_SHARE = 0.85;
const PRESENT_SHARE_FLOOR = 0.2;

export interface Estimate {
  ahead: number;
  etaSeconds: { low: number; high: number } | null;
  nextPollMs: number;
}

export const MIN_POLL_MS = 2_000;
/**
 * The longest a waiting page goes without asking: also how soon it notices a lost connection (it says so
 * at the first failed poll), and how soon a paused line's citizens see it resume. The design's load
 * figures assume a poll every 20 s; polls are answered at the edge, so this costs the objects nothing.
 */
export const MAX_POLL_MS = 20_000;
export const PAUSED_POLL_MS = MAX_POLL_MS;

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
  return aheadInShard(seq, snap) * likelyPresent(snap) + 1 + (snap.returning ?? 0);
}

/** Turns per minute the range is computed from: the rate in force, the autopilot's if it cut it. */
function rateInForce(snap: Pick<ShardSnapshot, "ratePerMinute">): number {
  return snap.ratePerMinute;
}

/**
 * The widest range the page shows: the high end is at most RANGE_RATIO times the low end plus RANGE_SLACK_S.
 * Both ends rest on the one rate in force; what separates them is how many of those ahead turn out to be
 * there and whether the cap holds the line back. Past twice the soonest turn a range no longer helps anyone
 * plan, and the estimate is worked out again at every poll as the line moves, so a slower line shows as a
 * later range within a poll or two. The slack keeps short waits (a few seconds) from a range of a second.
 */
export const RANGE_RATIO = 2;
export const RANGE_SLACK_S = 60;

/**
 * The wait range for `soonest` turns at the fewest (only those likely present) and `turns` at the most
 * (everyone ahead there), both at the rate in force. The observed pace stands in for the rate only when the
 * active cap binds: then the line moves as people finish, which the pace measures. Otherwise the pace is no
 * speed of the line (it also counts minutes the line was paused, empty, or passing over the absent), so a
 * resume or a rate change shows at once. Null while the line does not move.
 */
export function waitRange(soonest: number, turns: number, snap: ShardSnapshot): { low: number; high: number } | null {
  const rate = rateInForce(snap);
  if (snap.paused || rate <= 0) return null;
  const low = Math.ceil((Math.ceil(soonest) * 60) / rate);
  const capBinds = snap.active >= snap.activeCap;
  // Before there is any history the first minutes run at the full rate while the cap fills: allow half
  // again, so no one is promised too early a turn.
  const pace = capBinds && snap.observedPerMinute !== null && snap.observedPerMinute > 0
    ? Math.min(rate, snap.observedPerMinute)
    : snap.observedPerMinute === null ? rate / 1.5 : rate;
  const high = Math.ceil(((turns * 60) / pace) * (capBinds ? 1.5 : 1.2));
  return { low, high: Math.max(low, Math.min(high, RANGE_RATIO * low + RANGE_SLACK_S)) };
}

/** Seconds from a join until its place is ranked cohort-wide: the second ends, then every shard reports. */
export const RANKING_S = 2;
/** Seconds between a shard's reports, at each of which the coordinator grants and the shard admits. */
export const REPORT_BEAT_S = 2;

/**
 * Estimate for the ticket `seq` of a shard. `cohortAhead` is the count of people ahead cohort-wide when
 * the shard keeps one line with its cohort's others (cohort-ahead.ts): the wait is then that many turns
 * (those likely there, at the soonest) at the cohort's rate. Without it the shard is a line of its own: its
 * own count and rate.
 */
export function estimateWait(seq: number, snap: ShardSnapshot, cohortAhead?: number): Estimate {
  const ownAhead = aheadInShard(seq, snap);
  const returning = snap.returning ?? 0;
  let ahead = ownAhead;
  let etaSeconds: Estimate["etaSeconds"];
  const line = snap.line;
  if (cohortAhead !== undefined) ahead = cohortAhead;
  if (cohortAhead !== undefined && line && !line.alone) {
    const cohort = line.cohort;
    // The cohort's figures in place of the shard's: its rate, its cap and its pace.
    const rates: ShardSnapshot = {
      ...snap,
      ratePerMinute: cohort.ratePerMinute,
      configuredPerMinute: cohort.configuredPerMinute,
      // Granted places and returners hold the cap's room too, before their shards report them active.
      active: cohort.held,
      activeCap: cohort.activeCap,
      observedPerMinute: cohort.observedPerMinute,
      paused: snap.paused || cohort.paused,
    };
    const waitingAhead = Math.max(0, ahead - cohort.returning);
    const range = waitRange(waitingAhead * likelyPresent(snap) + 1 + cohort.returning, ahead + 1, rates);
    // A turn comes with a report: a place is ranked once every shard has reported its second, then
    // granted at a report, each about a second apart. The soonest is not sooner, the latest a few later.
    const ranking = isPlacing(seq, line) ? RANKING_S : 0;
    etaSeconds = range && { low: range.low + ranking, high: range.high + ranking + REPORT_BEAT_S };
  } else {
    // Our own admission is the (ownAhead + 1)-th from now, after those who came back.
    etaSeconds = waitRange(soonestTurns(seq, snap), ownAhead + 1 + returning, snap);
  }
  // Soon while the place is not ranked yet, paused or not, so the page shows the count as soon as it is known.
  const placing = isPlacing(seq, line);
  if (!etaSeconds) return { ahead, etaSeconds: null, nextPollMs: placing ? MIN_POLL_MS : PAUSED_POLL_MS };
  // Ask again after about a quarter of the shortest wait: often near the front, rarely far back.
  const nextPollMs = placing ? MIN_POLL_MS : Math.round(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, (etaSeconds.low * 1000) / 4)));
  return { ahead, etaSeconds, nextPollMs };
}
