import { z } from "zod";

/** The most an id_token may weigh; a national provider's tokens are well under 2 KB. */
export const MAX_ID_TOKEN_LENGTH = 4096;

/**
 * `POST /api/queue/join`: an id_token the identity provider signed. Nothing a client types (a phone
 * number, a birth date) is trusted: the citizen and their cohort come from the verified token alone.
 */
export const joinRequest = z
  .object({
    idToken: z
      .string({ error: "idToken is required: the id_token the identity provider issued (typed identities are not accepted)" })
      .min(1)
      .max(MAX_ID_TOKEN_LENGTH),
  })
  .strict();
export type JoinRequest = z.infer<typeof joinRequest>;

/** `prequeue`: joined before the opening; the draw places the ticket in the line when the cohort opens. */
/** `left`: the citizen gave the place up (DELETE /api/queue/ticket); joining again is a new place at the back. */
export const queueStates = ["prequeue", "waiting", "admitted", "expired", "paused", "left"] as const;

export const etaRange = z.object({ low: z.number().int().nonnegative(), high: z.number().int().nonnegative() });

export const queueStatus = z.object({
  state: z.enum(queueStates),
  cohort: z.string(),
  /**
   * The ticket's number in its shard's line: it identifies the place (with the cohort) and its draw, and is
   * no count of anything cohort-wide, so the page does not show it. Absent in the pre-queue.
   */
  seq: z.number().int().positive().optional(),
  /**
   * People ahead, cohort-wide: those who joined the cohort before this citizen (in its one order across
   * shards, docs/one-line.md) and are still waiting, plus those who came back, as of a snapshot a second or
   * two old. While the citizen's shard cannot reach the cohort's coordinator, its count as last known.
   */
  ahead: z.number().int().nonnegative(),
  /**
   * The citizen joined a second or two ago and the cohort has not ranked them among its shards yet:
   * `ahead` counts those known to be ahead so far and may still grow by people who joined in the same
   * second in other shards. The page says it is finding the place instead of showing the number.
   */
  placing: z.literal(true).optional(),
  /** Seconds until admission, at the rate in force; null while paused. */
  etaSeconds: etaRange.nullable(),
  /**
   * The autopilot cut the line's rate because the booking system returns errors or answers slowly: the
   * page says the line moves more slowly for it.
   */
  originBusy: z.literal(true).optional(),
  /**
   * The line moves more slowly than it did, for a reason other than the origin: `operators` lowered the
   * cohort's rate, or the cohort is at `capacity` (as many people are booking as may at once, so the line
   * moves as they finish). The page says which; an estimate that grew grew for that reason.
   */
  slowedBy: z.enum(["operators", "capacity"]).optional(),
  nextPollMs: z.number().int().positive(),
  pass: z.string().optional(),
  passExpiresAt: z.string().optional(),
  /**
   * The line reached this place while its holder was away, and they came back within the return window:
   * they keep the place and are next at the first free capacity (`ahead` counts only others who came back).
   */
  cameBack: z.literal(true).optional(),
  /** In the pre-queue: when the line opens and the draw orders it. */
  opensAt: z.string().optional(),
  /**
   * For a ticket that joined in the pre-queue, once every shard's draw is revealed: its draw, to check
   * against `GET /api/cohorts/{id}/draw`.
   */
  draw: z
    .object({
      /** The ticket id the value is computed from: HMAC-SHA256(seed, ticketId). */
      ticketId: z.string(),
      shard: z.number().int().nonnegative(),
      value: z.string(),
      /**
       * The ticket's position in the cohort's one draw order (`order` of the draw), 1 = first of the whole
       * pre-queue. Its place: `seq` = the shard's `firstSeq` + the value's index in the shard's list.
       */
      rank: z.number().int().positive(),
      /** Everyone in the cohort's pre-queue, all shards together. */
      of: z.number().int().positive(),
    })
    .optional(),
});
export type QueueStatus = z.infer<typeof queueStatus>;

/** `DELETE /api/queue/ticket`: the place is given up for good. */
export const leaveResponse = z.object({
  state: z.literal("left"),
  cohort: z.string(),
});
export type LeaveResponse = z.infer<typeof leaveResponse>;

export const joinResponse = z.object({
  ticket: z.string(),
  status: queueStatus,
  /** The citizen's earlier place lapsed unclaimed, so this is a new place at the back of the line. */
  previousPlaceExpired: z.boolean(),
});
export type JoinResponse = z.infer<typeof joinResponse>;

/** A cohort as the public sees it (the page shows labels and opening times). */
export const cohortInfo = z.object({
  id: z.string(),
  label: z.object({ ko: z.string(), en: z.string() }),
  birthYears: z.tuple([z.number().int(), z.number().int()]),
  opensAt: z.string(),
  /** When its pre-queue starts taking joins, for a cohort that has one. */
  prequeueOpensAt: z.string().optional(),
  open: z.boolean(),
});
export type CohortInfo = z.infer<typeof cohortInfo>;

/** `GET /api/cohorts`: every cohort the edge knows, in the order COHORTS lists them. */
export const cohortsResponse = z.object({ cohorts: z.array(cohortInfo) });
export type CohortsResponse = z.infer<typeof cohortsResponse>;

/** A hex SHA-256 or HMAC-SHA256 output, as the draw publishes them. */
const drawHex = z.string().regex(/^[0-9a-f]{64}$/);

/** One shard's revealed pre-queue: its draw values, ascending, which is the order of their places. */
export const shardDrawInfo = z.object({
  shard: z.number().int().nonnegative(),
  /** Whether the shard has placed its pre-queue yet (it does at its first moment at or after `opensAt`). */
  placed: z.boolean(),
  /** The place (`seq`) of the first value in the list; the k-th value holds place firstSeq + k - 1. */
  firstSeq: z.number().int().positive(),
  values: z.array(drawHex),
  /**
   * How many of the list the line has reached so far (always a prefix: it reaches places in order), each
   * let in, or passed over because its holder was away when it was reached.
   */
  admitted: z.number().int().nonnegative(),
});
export type ShardDrawInfo = z.infer<typeof shardDrawInfo>;

/**
 * How the shards' lists make the cohort's one order: compare by the draw value's bucket (its first
 * `bucketHexDigits` hex digits), then the shard's index, then the value (src/edge/prequeue/draw-order.ts).
 */
export const drawOrder = z.object({
  by: z.tuple([z.literal("bucket"), z.literal("shard"), z.literal("value")]),
  bucketHexDigits: z.literal(3),
});
export type DrawOrder = z.infer<typeof drawOrder>;

/**
 * `GET /api/cohorts/{id}/draw`: from `prequeueOpensAt` the commitment; from `opensAt` also the seed, each
 * shard's sorted draw values (no ticket ids, no citizen keys) and the rule that merges them into the
 * cohort's one order.
 */
export const drawInfo = z.object({
  cohort: z.string(),
  prequeueOpensAt: z.string(),
  opensAt: z.string(),
  commitment: drawHex,
  seed: drawHex.optional(),
  order: drawOrder.optional(),
  shards: z.array(shardDrawInfo).optional(),
});
export type DrawInfo = z.infer<typeof drawInfo>;
