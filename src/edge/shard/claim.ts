import { passExpiry } from "./admission.js";
import type { ShardSnapshot } from "./snapshot.js";
import { snapshotOf, tick, type Shard } from "./line.js";
import type { ClaimResult } from "./rpc.js";
import { passTimes, ticketState, wasAway } from "./ticket-state.js";

/**
 * A claim of the ticket `seq`, inside the caller's transaction. Asking is being here: the holder is seen
 * before the tick, so the line does not pass over the one who asks. The first claim of an admitted ticket
 * fixes the pass's times; every later claim returns the same times, so the Worker re-signs the same pass
 * (same jti) and the citizen never holds a second place.
 */
export function claimTicket(shard: Shard, seq: number, ticketId: string, now: number): { result: ClaimResult; snapshot: ShardSnapshot } {
  const { store, config } = shard;
  const returnWindowMs = config.returnWindowSeconds * 1000;
  const before = store.ticket(seq);
  store.markSeenIfHeld(seq, ticketId, now);
  let moved = tick(shard, now);
  let row = store.ticket(seq);
  if (!row || !before || row.ticket_id !== ticketId) return { result: { state: "unknown" }, snapshot: snapshotOf(shard, moved, now) };
  if (ticketState(row, moved.counters.serving, now, returnWindowMs) === "away") {
    // Back within the return window: next at the first free capacity, which may be free now.
    store.comeBack(before, now, wasAway(before));
    moved = tick(shard, now);
    row = store.ticket(seq)!;
  }
  const snapshot = snapshotOf(shard, moved, now);
  switch (ticketState(row, moved.counters.serving, now, returnWindowMs)) {
    case "waiting":
      return { result: { state: "waiting", snapshot }, snapshot };
    case "returning":
      return { result: { state: "returning", snapshot, returnedAhead: store.returnedAhead(row), wasAway: row.away_known !== 0 }, snapshot };
    case "away":
    case "expired":
      return { result: { state: "expired" }, snapshot };
    case "left":
      return { result: { state: "left" }, snapshot };
    case "claimed":
    case "completed":
      return { result: { state: "admitted", pass: passTimes(row.claimed_at!, row.pass_exp!) }, snapshot };
    case "admitted": {
      const passExp = passExpiry(now, config.passTtlSeconds);
      // The pass holds capacity while used: until PASS_IDLE_SECONDS without a request.
      store.claimPass(seq, now, passExp, Math.min(passExp, now + config.passIdleSeconds * 1000));
      return { result: { state: "admitted", pass: passTimes(now, passExp) }, snapshot };
    }
  }
}
