import { z } from "zod";
import { cohortInfo } from "./queue.js";

/** A number of people or admissions. */
const count = z.number().int().nonnegative();

/** The admission settings in force for a cohort: its own overrides in COHORTS, else the global bindings. */
export const admissionPolicy = z.object({
  /** May be fractional: a small cohort can admit one person every few minutes. */
  admitPerMinute: z.number().nonnegative(),
  maxActive: count,
  paused: z.boolean(),
});
export type AdmissionPolicy = z.infer<typeof admissionPolicy>;

/**
 * What a cohort's line is doing, as an operator reads it first: not open yet; paused; slowed, when the
 * autopilot cut the rate because the origin failed or answered slowly; climbing, when the rate in force is
 * below the configured one for any other reason (a start, a rate raised, a cut the origin recovered from);
 * else admitting at the configured rate.
 */
export const LINE_STATES = ["not open yet", "paused", "slowed", "climbing", "admitting"] as const;
export const lineState = z.object({
  state: z.enum(LINE_STATES),
  /** The autopilot's finding behind "slowed" or "climbing", in its words; null for the other states. */
  reason: z.string().nullable(),
});
export type LineState = z.infer<typeof lineState>;

/** One cohort on the operators' overview: counters summed over its shards, no one's identity. */
export const opsCohort = cohortInfo.pick({ id: true, label: true, opensAt: true, open: true }).extend({
  policy: admissionPolicy,
  line: lineState,
  joined: count,
  admitted: count,
  /** Citizens who gave their place up (left the line), ever. */
  departed: count,
  waiting: count,
  active: count,
  /** Admissions per minute the shards observed; null until every shard has observed some. */
  observedPerMinute: z.number().nonnegative().nullable(),
  /** The autopilot (src/edge/origin-health/autopilot.ts): the rate the bindings allow, and the rate in force. */
  configuredPerMinute: z.number().nonnegative(),
  ratePerMinute: z.number().nonnegative(),
  /** The origin's health as the cohort's citizens met it: failed share of the last decisions, worst shard's p95. */
  origin: z.object({ errorShare: z.number().min(0).max(1).nullable(), p95Ms: z.number().nonnegative().nullable() }),
  /**
   * Shards with people waiting that do not keep one line with the others right now (src/edge/cohort/):
   * their coordinator has not answered lately, so they admit alone at their share. 0 when all is well.
   */
  shardsAlone: count,
  /** Why the rate last changed, when, and on which shard; null while no shard has changed it. */
  rateChange: z.object({ reason: z.string(), at: z.string(), shard: z.number().int().nonnegative() }).nullable(),
});

/** `GET /api/ops/queue`: the bindings in force and every cohort's counters. */
export const opsQueue = z.object({
  at: z.string(),
  /** The global bindings (a cohort's `policy` may override the first three). */
  config: admissionPolicy.extend({
    shards: z.number().int().positive(),
    claimWindowSeconds: z.number().int().positive(),
    presenceSeconds: z.number().int().positive(),
    returnWindowSeconds: z.number().int().positive(),
    passIdleSeconds: z.number().int().positive(),
    passTtlSeconds: z.number().int().positive(),
    autopilot: z.object({
      enabled: z.boolean(),
      floorPerMinute: z.number().nonnegative(),
      targetP95Ms: z.number().positive(),
      maxErrorShare: z.number().min(0).max(1),
      timeScale: z.number().positive(),
    }),
  }),
  cohorts: z.array(opsCohort),
});
export type OpsQueue = z.infer<typeof opsQueue>;

/**
 * `GET /api/ops/cohorts/{id}/history`'s query: how many minutes back, from 1 to the `kept` minutes each
 * shard keeps (all of them when not given).
 */
export function historyQuery(kept: number) {
  return z.object({
    minutes: z.coerce.number({ error: "minutes must be a whole number" }).int("minutes must be a whole number").min(1).max(kept).default(kept),
  });
}

/** One minute of a cohort, summed over its shards. */
export const cohortMinute = z.object({
  /** The minute's start. */
  at: z.string(),
  joined: count,
  admitted: count,
  /** Citizens who gave their place up (left the line) in the minute. */
  departed: count,
  waiting: count,
  active: count,
  activeMax: count,
  /** Admissions per minute over the last complete minutes; null for the minute under way. */
  pace: z.number().nonnegative().nullable(),
  /** The median wait of the minute's admissions, in seconds; null when nobody was admitted. */
  medianWaitSeconds: z.number().nonnegative().nullable(),
});
export type CohortMinute = z.infer<typeof cohortMinute>;

/** `GET /api/ops/cohorts/{id}/history`: the cohort's recent minutes, oldest first; the last is under way. */
export const cohortHistory = z.object({
  cohort: z.string(),
  at: z.string(),
  policy: admissionPolicy,
  minutes: z.array(cohortMinute),
});
export type CohortHistory = z.infer<typeof cohortHistory>;
