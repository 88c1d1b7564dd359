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
  /** This shard's configured share of the cohort's rate. */
  ratePerMinute: number;
  /** Admissions per minute this shard actually managed lately; null before there is history. */
  observedPerMinute: number | null;
  paused: boolean;
  /** When the object took the snapshot (ms since epoch). */
  at: number;
}

export interface Estimate {
  ahead: number;
  etaSeconds: { low: number; high: number } | null;
  nextPollMs: number;
}

export const MIN_POLL_MS = 2_000;
export const MAX_POLL_MS = 60_000;
export const PAUSED_POLL_MS = 30_000;

/**
 * Estimate for the ticket `seq` of a shard, given the cohort's shard count. Shards receive citizens by a
 * uniform hash and admit at equal rates, so the people ahead cohort-wide are about the people ahead in
 * this shard times the number of shards.
 */
export function estimateWait(seq: number, snap: ShardSnapshot, shards: number): Estimate {
  const aheadInShard = Math.max(0, seq - snap.serving - 1);
  const ahead = aheadInShard * shards;
  if (snap.paused || snap.ratePerMinute <= 0) return { ahead, etaSeconds: null, nextPollMs: PAUSED_POLL_MS };
  // Our own admission is the (aheadInShard + 1)-th from now.
  const turns = aheadInShard + 1;
  const low = Math.ceil((turns * 60) / snap.ratePerMinute);
  // The configured rate is a ceiling: when the active cap binds or people linger, the line moves at the
  // observed pace. Before there is any history, allow half again, so no one is promised too early a turn.
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
