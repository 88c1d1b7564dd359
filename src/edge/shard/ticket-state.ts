import type { TicketRow } from "./schema.js";

/**
 * Where a ticket stands. `away`: the line reached it while its holder was away (or the admission lapsed
 * unclaimed), less than the return window ago; `returning`: its holder came back and is next at the first
 * free capacity; `left`: its holder gave the place up.
 */
export type TicketState = "waiting" | "away" | "returning" | "admitted" | "claimed" | "completed" | "expired" | "left";

export function ticketState(row: TicketRow, serving: number, now: number, returnWindowMs: number): TicketState {
  // Given up for good: whatever the line did with the place after, it is nobody's.
  if (row.left_at !== null) return "left";
  if (row.seq > serving) return "waiting";
  if (row.completed_at !== null) return row.pass_exp !== null && row.pass_exp > now ? "completed" : "expired";
  if (row.claimed_at !== null) return row.pass_exp !== null && row.pass_exp > now ? "claimed" : "expired";
  if (row.admitted_at === null) {
    if (row.returned_at !== null) return "returning";
    return row.passed_at !== null && now - row.passed_at <= returnWindowMs ? "away" : "expired";
  }
  if (row.active_until !== null && row.active_until > now) return "admitted";
  // Admitted and never claimed: the admission lapsed when its claim window ended.
  return row.active_until !== null && now - row.active_until <= returnWindowMs ? "away" : "expired";
}

/**
 * Whether one who comes back was away: admitted and let it lapse, or heard from after joining and then
 * silent when the line came. A citizen the line reached before anything was heard after their join was not.
 */
export function wasAway(row: TicketRow): boolean {
  return row.admitted_at !== null || (row.seen_at !== null && row.seen_at > row.joined_at);
}

/** Pass times in JWT seconds. `exp` rounds down so the pass never outlives the capacity it holds. */
export function passTimes(claimedAt: number, passExp: number): { iat: number; exp: number } {
  return { iat: Math.floor(claimedAt / 1000), exp: Math.floor(passExp / 1000) };
}
