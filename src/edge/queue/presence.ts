import { burstFor } from "../shard/admission.js";
import type { ShardSnapshot } from "../shard/snapshot.js";
import { fastestRate, likelyPresent, soonestTurns } from "./wait-estimate.js";
import { ShardMailbox } from "./shard-mailbox.js";

/**
 * Presence, the Worker's side. The line passes over a ticket whose holder has not been seen for
 * PRESENCE_SECONDS when it is reached, so the shard must hear of the polls of the people it is about to
 * reach, and only of those: a crowd's polls stay at the edge. A poll is passed on when the ticket's turn
 * can come within two presence windows; the page near the front polls every quarter of its soonest wait
 * (src/edge/queue/wait-estimate.ts), so from then on it is heard well within every window.
 */

/** A shard hears who was here from this isolate at most this often. */
export const PRESENCE_REPORT_MS = 1_000;

/** Tickets seen polling near the front, per shard, until a call carries them. */
export const seenNearFront = new ShardMailbox(PRESENCE_REPORT_MS);

/**
 * Whether the shard should hear that ticket `seq`'s holder polled: its turn can come within 2 × presence.
 * In a cohort whose shards keep one line, `cohortAhead` (cohort-ahead.ts) and the cohort's rate say how
 * soon: a long shard may be reached at the whole cohort's rate, far faster than its share.
 */
export function nearTheFront(seq: number, snap: ShardSnapshot, presenceSeconds: number, cohortAhead?: number): boolean {
  const line = snap.line;
  if (line && !line.alone && cohortAhead !== undefined) {
    if (seq <= line.grantedSeq) return true;
    const rate = fastestRate(line.cohort);
    const returning = line.cohort.returning;
    const soonest = Math.max(0, cohortAhead - returning) * likelyPresent(snap) + 1 + returning;
    return soonest <= (rate / 60) * 2 * presenceSeconds + burstFor(rate);
  }
  // The fastest the line can reach it, with a burst.
  const rate = fastestRate(snap);
  return soonestTurns(seq, snap) <= (rate / 60) * 2 * presenceSeconds + burstFor(rate);
}
