import { citizenTag } from "../identity/citizen-key.js";
import { newTicketId } from "../tokens/ticket.js";
import type { ShardSnapshot } from "./snapshot.js";
import type { Outcome, Written } from "./group-commit.js";
import { snapshotOf, tick, type Shard } from "./line.js";
import type { JoinResult } from "./rpc.js";
import { ticketState, wasAway } from "./ticket-state.js";

/** A batch of joins as written: each join's ticket, and the shard's snapshot after the batch. */
export interface JoinBatch extends Written<JoinResult> {
  snapshot: ShardSnapshot;
}

/**
 * Writes a batch of joins, in arrival order, inside the caller's transaction: each gets the citizen's live
 * ticket, or a new one at the back. One bad join fails alone.
 */
export function writeJoinBatch(shard: Shard, citizenKeys: readonly string[], now: number): JoinBatch {
  const { store } = shard;
  const moved = tick(shard, now);
  const tickets: Array<Outcome<Omit<JoinResult, "snapshot">>> = [];
  // After the tick, which may have placed the pre-queue in the line.
  let lastSeq = store.counters.last_seq;
  for (const citizenKey of citizenKeys) {
    try {
      const ticket = joinOne(shard, citizenKey, lastSeq, now);
      // A new ticket is the next number; a citizen's live ticket is an earlier one.
      lastSeq = Math.max(lastSeq, ticket.seq);
      tickets.push({ ok: true, value: ticket });
    } catch (error) {
      tickets.push({ ok: false, error });
    }
  }
  store.setLastSeq(lastSeq);
  const snapshot = snapshotOf(shard, { ...moved, counters: { ...moved.counters, lastSeq } }, now);
  return { snapshot, outcomes: tickets.map((t) => (t.ok ? { ok: true, value: { ...t.value, snapshot } } : t)) };
}

/** One join inside a batch: the citizen's live ticket, or a new one at the back of the line. */
function joinOne(shard: Shard, citizenKey: string, lastSeq: number, now: number): Omit<JoinResult, "snapshot"> {
  const { store, config } = shard;
  const tag = citizenTag(citizenKey);
  const latest = store.latestTicketOf(tag, citizenKey);
  const state = latest ? ticketState(latest, store.counters.serving, now, config.returnWindowSeconds * 1000) : "expired";
  // A place given up is gone for good: joining again is a new place at the back, as for a lapsed one.
  if (latest && state !== "expired" && state !== "left") {
    // Joining again is being here: a place the line passed over is taken up again, as next.
    if (state === "away") store.comeBack(latest, now, wasAway(latest));
    else store.markSeen(latest.seq, now);
    return { ticketId: latest.ticket_id, seq: latest.seq, joinedAt: latest.joined_at, replacedExpired: false };
  }
  const seq = lastSeq + 1;
  const ticketId = newTicketId();
  store.addTicket(seq, ticketId, tag, citizenKey, now);
  return { ticketId, seq, joinedAt: now, replacedExpired: state === "expired" && latest !== undefined };
}
