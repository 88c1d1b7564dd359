import type { ShardSnapshot } from "./snapshot.js";
import { snapshotAt, type Shard } from "./line.js";
import type { LeaveResult } from "./rpc.js";
import { ticketState } from "./ticket-state.js";

/**
 * A citizen gives up their place, inside the caller's transaction. The place is marked first and the line
 * brought to now after, so a place at the very front is stepped over rather than admitted: leaving is
 * never a turn taken. A place already admitted and not claimed gives its room back at once. A claimed pass
 * has no place left to give up (it lapses by itself, or the booking ends it). Leaving twice is leaving once.
 */
export function leaveLine(shard: Shard, seq: number, ticketId: string, now: number): { result: LeaveResult; snapshot: ShardSnapshot } {
  const { store, config } = shard;
  const row = store.ticket(seq);
  if (!row || row.ticket_id !== ticketId) return { result: { state: "unknown" }, snapshot: snapshotAt(shard, now) };
  const state = ticketState(row, store.counters.serving, now, config.returnWindowSeconds * 1000);
  if (state === "claimed" || state === "completed") return { result: { state: "admitted" }, snapshot: snapshotAt(shard, now) };
  store.leave(seq, now);
  // A place given up gets no notice (push-notices.ts).
  store.dropPushSubscription(seq);
  const snapshot = snapshotAt(shard, now);
  return { result: { state: "left", snapshot }, snapshot };
}

/**
 * A citizen gives up their ticket in the pre-queue. Its draw value stays in the draw (which is published
 * whole and checked by anyone), and the opening places it as given up, so the line steps over it.
 */
export function leavePrequeue(shard: Shard, drawValue: string, ticketId: string, now: number): LeaveResult {
  const done = shard.store.leavePrequeue(drawValue, ticketId, now);
  return { state: done === "unknown" ? "unknown" : "left" };
}
