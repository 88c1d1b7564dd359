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

export const queueStates = ["waiting", "admitted", "expired", "paused"] as const;

export const etaRange = z.object({ low: z.number().int().nonnegative(), high: z.number().int().nonnegative() });

export const queueStatus = z.object({
  state: z.enum(queueStates),
  cohort: z.string(),
  /** The ticket's place in its shard's line; with `ahead`, lets the page draw progress. */
  seq: z.number().int().positive(),
  /** Estimated people ahead, cohort-wide. */
  ahead: z.number().int().nonnegative(),
  etaSeconds: etaRange.nullable(),
  nextPollMs: z.number().int().positive(),
  pass: z.string().optional(),
  passExpiresAt: z.string().optional(),
});
export type QueueStatus = z.infer<typeof queueStatus>;

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
  open: z.boolean(),
});
export type CohortInfo = z.infer<typeof cohortInfo>;
