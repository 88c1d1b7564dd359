import { citizenTag } from "../identity/citizen-key.js";
import { tick, type Shard } from "./line.js";
import type { ChangeHold } from "./rpc.js";

/**
 * A change of slot made with booking access (a citizen who signed in again after their pass expired) is
 * held to the capacity rule a pass is: it goes ahead only while the shard has room under its share of
 * MAX_ACTIVE and is not paused, and it holds one unit of that room while the origin works on it. So
 * signing in again is never a way around the line for load: while the line is full, a change waits like
 * everyone else (reading and cancelling do not: they add no load the cap exists for).
 *
 * The unit is held on the ticket whose pass made the booking (completed, so its state never depends on
 * `active_until`), with an expiry, so a hold whose release is lost ends on its own. A citizen with no
 * such ticket in this shard (a shard count changed since) is let through only while there is room.
 */
export function holdForChange(shard: Shard, citizenKey: string, now: number, holdMs: number): ChangeHold {
  const { store } = shard;
  const moved = tick(shard, now);
  if (moved.policy.paused) return { held: false, reason: "paused" };
  if (moved.active >= moved.policy.activeCap) return { held: false, reason: "full" };
  const row = store.latestTicketOf(citizenTag(citizenKey), citizenKey);
  if (!row || row.completed_at === null) return { held: true };
  const until = now + holdMs;
  store.holdCapacity(row.seq, row.ticket_id, until);
  return { held: true, ticket: [row.seq, row.ticket_id], until };
}
