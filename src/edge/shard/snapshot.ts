import type { ShardCounters, ShardPolicy } from "./admission.js";
import type { OriginHealthView } from "../origin-health/autopilot.js";
import type { CohortView } from "../cohort/cohort-line.js";
import type { LeftPlaces } from "../queue/left-places.js";

/**
 * What a shard reports of itself to the Worker: the snapshot the Worker caches and answers polls from,
 * and the pace it has managed lately, which the snapshot carries.
 */

/** What the Worker caches about one shard; at most a second or two old when used. */
export interface ShardSnapshot {
  lastSeq: number;
  serving: number;
  active: number;
  activeCap: number;
  /** The rate this shard admits at now: the autopilot's (src/edge/origin-health/autopilot.ts), or the configured one. */
  ratePerMinute: number;
  /**
   * This shard's configured share of the cohort's rate: the ceiling the autopilot climbs back to. When
   * absent, `ratePerMinute` stands for the configured rate too.
   */
  configuredPerMinute?: number;
  /** The origin's health as this shard's citizens met it, and why the rate is what it is (for /ops). */
  origin?: OriginHealthView;
  /** Admissions per minute this shard actually managed lately; null before there is history. */
  observedPerMinute: number | null;
  /** Citizens who came back after the line passed them over, waiting for the next free capacity. */
  returning?: number;
  /**
   * Of the people the line has reached, the share who were there (admitted rather than passed over);
   * null before it reached anyone. The soonest a turn can come counts only that share of those ahead.
   */
  presentShare?: number | null;
  /** How many people the line has reached (admitted or passed over): the weight of `presentShare`. */
  reached?: number;
  /**
   * The least share present the line has found (wait-estimate.ts's presentFound, at each tick it reached
   * someone): what the soonest counts. It only falls, so no low end rises because more were there.
   */
  leastPresent?: number;
  paused: boolean;
  /** The shard's places given up that its line has not reached, by place (absent: none). */
  left?: LeftPlaces;
  /** Everyone who ever gave up a place in this shard (absent: none did). */
  departed?: number;
  /** When the object took the snapshot (ms since epoch). */
  at: number;
  /** Set while the shard keeps one line with the cohort's others (src/edge/cohort/): see CohortLine. */
  line?: CohortLine;
}

/** The cohort's one line as a shard last heard it from the coordinator. */
export interface CohortLine {
  cohort: CohortView;
  /** This shard's index in the cohort. */
  shard: number;
  /** This shard's reached places as `cohort.reached` counted them, so its own newer count can replace them. */
  ownReached: number;
  /** This shard's unranked places waiting as `cohort.unranked` counted them. */
  ownUnranked: number;
  /** The shard holds the cohort-wide ranks of its places through this one. */
  rankedSeq: number;
  /** The shard may admit its places through this one. */
  grantedSeq: number;
  /**
   * The shard has not heard from the coordinator lately (coordination.ts: waiting to hear, or gone alone):
   * it admits by its own rule, and `cohort` is as it last heard it.
   */
  alone: boolean;
}

/**
 * The snapshot of a shard brought up to `now`: its counters, the people holding capacity, its policy and
 * the pace it managed. Built here, once, for the object that hands it out and for the simulator that
 * replays it.
 */
export function shardSnapshot(
  counters: ShardCounters,
  active: number,
  policy: ShardPolicy,
  observedPerMinute: number | null,
  now: number,
  steering?: { configuredPerMinute: number; origin?: OriginHealthView },
  presence?: { returning: number; presentShare: number | null; reached: number; leastPresent: number },
): ShardSnapshot {
  return {
    ...steering,
    ...presence,
    lastSeq: counters.lastSeq,
    serving: counters.serving,
    active,
    activeCap: policy.activeCap,
    ratePerMinute: policy.ratePerMinute,
    observedPerMinute,
    paused: policy.paused,
    at: now,
  };
}

/** Observed pace is averaged over this many complete minutes. */
export const PACE_MINUTES = 5;

/**
 * Admissions per minute over the last PACE_MINUTES complete minutes, counted only from the first minute
 * after the shard began admitting; null until that many minutes have passed. The first minutes of an
 * opening run at the full rate while the cap fills, so a shorter history would promise too much.
 * `admittedIn(from, to)` gives the admissions in whole minutes [from, to).
 */
export function observedPace(firstAdmittedAt: number | null, now: number, admittedIn: (fromMinute: number, toMinute: number) => number): number | null {
  if (firstAdmittedAt === null) return null;
  const current = Math.floor(now / 60_000);
  const from = current - PACE_MINUTES;
  if (from < Math.floor(firstAdmittedAt / 60_000) + 1) return null;
  return admittedIn(from, current) / (current - from);
}
