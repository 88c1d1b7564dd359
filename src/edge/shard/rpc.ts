import type { ShardSnapshot } from "./snapshot.js";

/** What crosses the RPC between the Worker and a QueueShard, besides the snapshot and the draw. */

export interface JoinResult {
  ticketId: string;
  /** The place in the line; 0 for a pre-queue ticket, which the draw places at the opening. */
  seq: number;
  joinedAt: number;
  /** The citizen's previous place had lapsed unclaimed; this ticket is a new place at the back. */
  replacedExpired: boolean;
  /** Set for a ticket in the pre-queue: it has no place (seq) until the draw at the opening. */
  prequeue?: true;
  /** The citizen gave up their pre-queue ticket: they may join again only once the line opens. */
  gaveUp?: true;
  snapshot: ShardSnapshot;
}

/**
 * What a claim found. One object type rather than a union, so it crosses RPC with its type intact:
 * `snapshot` is set when still waiting (the Worker's cache was stale), `pass` when admitted.
 */
export interface ClaimResult {
  state: "waiting" | "returning" | "admitted" | "expired" | "left" | "unknown";
  snapshot?: ShardSnapshot;
  pass?: { iat: number; exp: number };
  /** For a citizen who came back after their turn passed: how many who came back before them still wait. */
  returnedAhead?: number;
  /** …and whether they had been away (heard from, then silent), not only unheard when the line reached them. */
  wasAway?: boolean;
}

/**
 * What leaving the line did: `left` (now or before: leaving is idempotent), `admitted` (the pass was claimed:
 * there is no place left to give up), or `unknown` (no such ticket in this shard).
 */
export interface LeaveResult {
  state: "left" | "admitted" | "unknown";
  snapshot?: ShardSnapshot;
}

/**
 * Whether a change made with booking access may go ahead (change-hold.ts): refused while the shard is
 * paused or full; when held on a ticket, `ticket` and `until` name the hold, for its release.
 */
export interface ChangeHold {
  held: boolean;
  reason?: "paused" | "full";
  ticket?: TicketRef;
  until?: number;
}

/** A ticket as the Worker names it to its shard: its place and its id (which proves the place is its own). */
export type TicketRef = readonly [seq: number, ticketId: string];

/** The most ticket references one presence or activity report carries; more are the sender's to drop. */
export const MAX_REFS_PER_REPORT = 1_024;

/** The well-formed references of a report, at most MAX_REFS_PER_REPORT: they come over a wire. */
export function wellFormedRefs(refs: readonly TicketRef[]): TicketRef[] {
  return refs.slice(0, MAX_REFS_PER_REPORT).filter(([seq, ticketId]) => Number.isSafeInteger(seq) && typeof ticketId === "string");
}
