import { citizenTag } from "../identity/citizen-key.js";
import { shardPolicy, tick, type Shard } from "./line.js";
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
  // A shard waiting to hear from its cohort's coordinator admits nobody new, to keep the line's order; a
  // change takes no one's turn, so it needs only room in the shard's even share meanwhile.
  const cap = moved.mode === "waiting" ? shardPolicy(shard.config, shard.address).activeCap : moved.policy.activeCap;
  if (moved.active >= cap) return { held: false, reason: "full" };
  const row = store.latestTicketOf(citizenTag(citizenKey), citizenKey);
  if (!row || row.completed_at === null) return { held: true };
  const until = now + holdMs;
  store.holdCapacity(row.seq, row.ticket_id, until);
  return { held: true, ticket: [row.seq, row.ticket_id], until };
}
