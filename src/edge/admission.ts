/**
 * The admission rule: how far a shard's serving counter may move. Pure (no I/O, no clock of its own), so
 * the QueueShard Durable Object, the tests and the flash-crowd simulator all run this very code.
 *
 * A shard admits in strict ticket order: every ticket with seq <= serving has been admitted. Admissions
 * are paid for with credit that accrues at the shard's share of the cohort's rate. Credit is capped at a
 * short burst, so a shard that sat idle (empty line, full capacity or paused) cannot later admit a crowd
 * at once: over any window of T ms a shard admits at most rate*T + burst people.
 */

/** Credit a shard may bank: two seconds of its rate, and never less than one person. */
export const BURST_SECONDS = 2;

export interface ShardCounters {
  /** Highest sequence number handed out (0 when the line is empty). */
  lastSeq: number;
  /** Every ticket with seq <= serving has been admitted. Never decreases. */
  serving: number;
  /** Admissions earned but not yet spent; may be fractional. */
  credit: number;
  /** When credit was last brought up to date (ms since epoch). */
  creditAt: number;
}

export interface ShardPolicy {
  /** This shard's share of the cohort's admissions per minute. */
  ratePerMinute: number;
  /** This shard's share of the cohort's cap on active people. */
  activeCap: number;
  paused: boolean;
}

export interface Advance {
  counters: ShardCounters;
  /** How many tickets this step admitted: seq in (before.serving, after.serving]. */
  admitted: number;
}

/** A shard's share of a cohort-wide rate: rates split evenly and may be fractional. */
export function shardRate(admitPerMinute: number, shards: number): number {
  return admitPerMinute / shards;
}

/**
 * A shard's share of the cohort-wide cap. Caps are whole people: the remainder goes to the lowest shard
 * indexes, so the shares add up to exactly `maxActive` and the cohort never exceeds its cap.
 */
export function shardCap(maxActive: number, shards: number, shard: number): number {
  return Math.floor(maxActive / shards) + (shard < maxActive % shards ? 1 : 0);
}

export function burstFor(ratePerMinute: number): number {
  return Math.max(1, (ratePerMinute / 60) * BURST_SECONDS);
}

/**
 * Moves a shard forward to `now`. `active` is the number of people currently holding capacity (live
 * passes plus unclaimed admissions that have not lapsed), counted by the caller at `now`.
 */
export function advance(counters: ShardCounters, active: number, policy: ShardPolicy, now: number): Advance {
  // A clock that steps backwards (a restart on another machine) must never un-admit anyone or mint credit.
  const elapsed = Math.max(0, now - counters.creditAt);
  const creditAt = Math.max(now, counters.creditAt);
  const burst = burstFor(policy.ratePerMinute);
  if (policy.paused || policy.ratePerMinute <= 0) {
    // No credit accrues while paused, so resuming does not release a pent-up crowd.
    return { counters: { ...counters, credit: Math.min(counters.credit, burst), creditAt }, admitted: 0 };
  }
  const credit = Math.min(burst, counters.credit + (elapsed * policy.ratePerMinute) / 60_000);
  const waiting = Math.max(0, counters.lastSeq - counters.serving);
  const room = Math.max(0, policy.activeCap - active);
  const admitted = Math.max(0, Math.min(Math.floor(credit + 1e-9), waiting, room));
  return {
    counters: { lastSeq: counters.lastSeq, serving: counters.serving + admitted, credit: Math.max(0, credit - admitted), creditAt },
    admitted,
  };
}

/** Until when an admission holds capacity if its citizen never claims the pass. */
export function admissionDeadline(admittedAt: number, claimWindowSeconds: number): number {
  return admittedAt + claimWindowSeconds * 1000;
}

/** Until when a claimed pass holds capacity (unless the booking completes first). */
export function passExpiry(claimedAt: number, passTtlSeconds: number): number {
  return claimedAt + passTtlSeconds * 1000;
}
