/**
 * The admission rule: how far a shard's serving counter may move. Pure (no I/O, no clock of its own), so
 * the QueueShard Durable Object, the tests and the flash-crowd simulator all run this very code.
 *
 * A shard's line moves in strict ticket order: every ticket with seq <= serving has been reached. The line
 * reaches a ticket only when it could admit someone (credit and room are there); a ticket whose holder is
 * here then is admitted, one whose holder is away is passed over, which costs neither credit nor room, so
 * the rate and the cap count people who are there; a ticket given up is stepped over the same way, and is
 * counted as neither. Citizens who were passed over and came back are
 * admitted first, from the same credit and room. Admissions are paid for with credit that accrues at the
 * shard's share of the cohort's rate. Credit is capped at a short burst, so a shard that sat idle (empty
 * line, full capacity or paused) cannot later admit a crowd at once: over any window of T ms a shard
 * admits at most rate*T + burst people.
 */

/** The most tickets one step passes over, so a step's work stays bounded behind a crowd of absent holders. */
export const MAX_PASS_OVER_PER_STEP = 1_000;

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
  /**
   * Set while the cohort's coordinator keeps the shards one line (src/edge/cohort/): the shard admits its
   * places through this one and no further, as the cap allows, with no credit of its own (the coordinator
   * paid for them at the cohort's rate).
   */
  grantedSeq?: number;
}

/** Who is there, as the shard knows it: asked only about the tickets a step reaches. */
export interface LineView {
  /** Citizens who came back after being passed over, in the order they came back: first to be admitted. */
  returning: readonly number[];
  /** Whether the holder of ticket `seq` is here (seen lately); asked in the order the step reaches them. */
  present(seq: number): boolean;
  /** Whether the holder of ticket `seq` gave the place up; asked before `present`. None did when absent. */
  left?(seq: number): boolean;
}

/** The line as the rule sees it when nobody tracks presence: everyone is there. */
export const EVERYONE_HERE: LineView = { returning: [], present: () => true };

export interface Advance {
  counters: ShardCounters;
  /** How many tickets of the line this step admitted: seq in (before.serving, after.serving] less `passedOver`. */
  admitted: number;
  /** Tickets of the line this step reached while their holders were away, in seq order. */
  passedOver: number[];
  /** Returned citizens (seqs) this step admitted, and those it found away again. */
  returnsAdmitted: number[];
  returnsPassed: number[];
  /** Places given up that this step stepped over: no admission, no pass-over, nothing spent. */
  leftSkipped: number;
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
export function advance(counters: ShardCounters, active: number, policy: ShardPolicy, now: number, line: LineView = EVERYONE_HERE): Advance {
  // A clock that steps backwards (a restart on another machine) must never un-admit anyone or mint credit.
  const elapsed = Math.max(0, now - counters.creditAt);
  const creditAt = Math.max(now, counters.creditAt);
  const burst = burstFor(policy.ratePerMinute);
  const none = { admitted: 0, passedOver: [], returnsAdmitted: [], returnsPassed: [], leftSkipped: 0 };
  if (policy.paused || policy.ratePerMinute <= 0) {
    // No credit accrues while paused, so resuming does not release a pent-up crowd.
    return { counters: { ...counters, credit: Math.min(counters.credit, burst), creditAt }, ...none };
  }
  const granted = policy.grantedSeq;
  // Under a grant the shard banks no credit, so a shard that goes alone later starts with none.
  const credit = granted === undefined ? Math.min(burst, counters.credit + (elapsed * policy.ratePerMinute) / 60_000) : 0;
  const lineEnd = granted === undefined ? counters.lastSeq : Math.min(counters.lastSeq, granted);
  // Each admission spends one of these; a pass-over spends nothing.
  let admissions = Math.max(0, granted === undefined ? Math.min(Math.floor(credit + 1e-9), policy.activeCap - active) : policy.activeCap - active);
  const returnsAdmitted: number[] = [];
  const returnsPassed: number[] = [];
  for (const seq of line.returning) {
    if (admissions === 0) break;
    if (line.present(seq)) {
      returnsAdmitted.push(seq);
      admissions--;
    } else returnsPassed.push(seq);
  }
  let serving = counters.serving;
  let admitted = 0;
  const passedOver: number[] = [];
  let leftSkipped = 0;
  while (admissions > 0 && serving < lineEnd) {
    const seq = serving + 1;
    if (line.left?.(seq)) {
      if (leftSkipped + passedOver.length >= MAX_PASS_OVER_PER_STEP) break;
      leftSkipped++;
    } else if (line.present(seq)) {
      admitted++;
      admissions--;
    } else if (passedOver.length + leftSkipped < MAX_PASS_OVER_PER_STEP) passedOver.push(seq);
    else break;
    serving = seq;
  }
  const spent = admitted + returnsAdmitted.length;
  return {
    counters: { lastSeq: counters.lastSeq, serving, credit: granted === undefined ? Math.max(0, credit - spent) : 0, creditAt },
    admitted,
    passedOver,
    returnsAdmitted,
    returnsPassed,
    leftSkipped,
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
