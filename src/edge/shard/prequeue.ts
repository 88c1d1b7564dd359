import type { EdgeConfig } from "../config.js";
import type { ShardStore } from "./store.js";

/**
 * The pre-queue of a shard: before the cohort's opening, a join waits without a place, under a draw value;
 * at the first moment at or after the opening every pre-queue ticket is placed in the line, in draw order,
 * ahead of everyone who joins from then on.
 */

/** A cohort's pre-queue: when it opens. */
export interface PrequeueSchedule {
  cohort: string;
  opensAt: number;
}

/** A draw as the Worker publishes it: before the placement only that it has not happened; after, the values in place order. */
export interface ShardDraw {
  placedAt: number | null;
  firstSeq: number;
  values: string[];
}

/** The cohort's pre-queue, when it has one; a cohort without `prequeueOpensAt` has none. */
export function prequeueSchedule(config: EdgeConfig, cohort: string): PrequeueSchedule | null {
  const found = config.cohorts.find((c) => c.id === cohort);
  return found?.prequeueOpensAt === undefined ? null : { cohort, opensAt: Date.parse(found.opensAt) };
}

/** Whether a join at `now` goes to the pre-queue: the cohort has one, and it has not been placed yet. */
export function awaitsDraw(store: ShardStore, schedule: PrequeueSchedule | null, now: number): boolean {
  return store.counters.prequeue_placed_at === null && schedule !== null && now < schedule.opensAt;
}

/**
 * Places the pre-queue in the line if the opening has come and it is not placed yet: as the next places
 * (1..k in a fresh shard). Runs inside the caller's transaction, so an eviction leaves all of it or none,
 * and the recorded placement makes it happen once. The placement counts as seeing everyone placed: the
 * pre-queue's polls are answered at the edge, so the first places are reached before their holders' first
 * polls after the opening can say they are here.
 */
export function placePrequeueIfDue(store: ShardStore, schedule: PrequeueSchedule | null, now: number): void {
  if (store.counters.prequeue_placed_at !== null || schedule === null || now < schedule.opensAt) return;
  store.placePrequeue(store.counters.last_seq + 1, now);
}

/**
 * The citizen's pre-queue ticket, or a new one under `drawValue`; inside the caller's transaction. One they
 * gave up is returned as given up (`gaveUp`).
 */
export function holdPrequeueTicket(
  store: ShardStore,
  join: { tag: number; citizenKey: string; ticketId: string; drawValue: string },
  now: number,
): { ticketId: string; joinedAt: number; gaveUp?: true } {
  const held = store.prequeueTicket(join.tag, join.citizenKey);
  // A citizen who gave up their pre-queue ticket gets no second draw: they may join once the line opens, at the back.
  if (held?.left_at != null) return { ticketId: held.ticket_id, joinedAt: held.joined_at, gaveUp: true };
  if (held) return { ticketId: held.ticket_id, joinedAt: held.joined_at };
  store.addPrequeueTicket(join.drawValue, join.ticketId, join.tag, join.citizenKey, now);
  return { ticketId: join.ticketId, joinedAt: now };
}

/** The shard's draw for publication: nothing of it before the placement. */
export function publishedDraw(store: ShardStore): ShardDraw {
  const placedAt = store.counters.prequeue_placed_at;
  return { placedAt, firstSeq: store.counters.prequeue_first_seq ?? 1, values: placedAt === null ? [] : store.drawValues() };
}
