import type { CohortLine, ShardSnapshot } from "../shard/snapshot.js";
import { leftBefore } from "./left-places.js";

/**
 * People ahead of ticket `seq` in its own shard's line: the places the line has not reached before it, less
 * those given up (snap.left), less those of them the snapshot's serving counter has since passed.
 */
export function aheadInShard(seq: number, snap: Pick<ShardSnapshot, "serving" | "left">): number {
  return Math.max(0, seq - snap.serving - 1 - leftBefore(snap.left, seq, (_, q) => q <= snap.serving));
}

/**
 * People ahead of ticket `seq` in a cohort whose shards keep one line: those ranked before it that no shard
 * has reached yet, plus those who came back, from the shard's snapshot (which carries the cohort as the
 * coordinator last described it) and the ticket's cohort-wide `rank` (undefined while it is not ranked yet).
 * Pure, so the Worker (cohort-ahead.ts) and the flash-crowd replay count with the very same rule.
 */
export function countAhead(seq: number, snap: ShardSnapshot, line: CohortLine, rank: number | undefined): number {
  const { cohort } = line;
  // The coordinator counted this shard's reached places as of its report; the snapshot is newer.
  const reached = cohort.reached - line.ownReached + Math.max(line.ownReached, Math.min(snap.serving, line.rankedSeq));
  // Never fewer than the shard itself has ahead of the citizen.
  const own = aheadInShard(seq, snap) + (snap.returning ?? 0);
  // Places given up cohort-wide, less those of this shard its newer serving counter has passed (counted as reached).
  const passed = (shard: number, q: number) => shard === line.shard && q <= snap.serving;
  if (rank === undefined) {
    // Not ranked yet (it joined a second or two ago): behind everyone ranked who waits, the other shards'
    // places not ranked yet when they last reported (they joined before it), and its own shard's earlier places.
    const others = Math.max(0, cohort.unranked - line.ownUnranked);
    const from = Math.max(line.rankedSeq, snap.serving);
    const ownUnranked = Math.max(0, seq - 1 - from) - (leftBefore(snap.left, seq) - leftBefore(snap.left, from + 1));
    const givenUp = leftBefore(cohort.left, Number.POSITIVE_INFINITY, passed);
    return Math.max(own, cohort.ranked - reached + cohort.returning + others + ownUnranked - givenUp);
  }
  return Math.max(own, rank - reached + cohort.returning - leftBefore(cohort.left, rank, passed));
}

/**
 * The place is not ranked cohort-wide yet (it joined a second or two ago): its status says `placing`, the
 * page shows no count, and it asks again soon. A shard alone counts its own line and has nothing to wait for.
 */
export function isPlacing(seq: number, line: CohortLine | undefined): boolean {
  return line !== undefined && !line.alone && seq > line.rankedSeq;
}
