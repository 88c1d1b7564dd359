/**
 * What the flash-crowd replay (`npm run simulate`) takes, shared by the in-memory replay (bench/simulate.ts)
 * and the live one (bench/simulate-live.ts), so neither imports the other's module.
 */

import { COHORTS_2021 } from "../../scripts/cohorts.js";

/** The 2021 cohorts (sizes as reported in the press), replayed at their 2021 openings. */
export { COHORTS_2021 };

export interface SimulationOptions {
  cohort: keyof typeof COHORTS_2021;
  people: number;
  shards: number;
  admitPerMinute: number;
  maxActive: number;
  claimWindowSeconds: number;
  passTtlSeconds: number;
  /** Share of people who give up while waiting (they still hold a place until admitted). */
  abandonShare: number;
  /** Share of people who refresh or re-join while waiting (the live replay; the in-memory one has no shard to ask). */
  refreshShare: number;
  /** Share of admitted people who never book and let the pass lapse. */
  lapseShare: number;
  seed: number;
  /** Poll model: data centers the crowd's polls spread over (evenly: the worst case for a cache). */
  locations: number;
  /** Poll model: isolates of the Worker per location, each with its own snapshot cache. */
  isolatesPerLocation: number;
  /** Poll model: how long a cached shard snapshot is served, per isolate or per location. */
  cacheTtlSeconds: number;
  /** Poll model: requests per second one Durable Object handles before it is overloaded (Cloudflare's guide: ~1,000). */
  objectSoftLimit: number;
}

export const DEFAULTS: SimulationOptions = {
  cohort: "50-52",
  people: COHORTS_2021["50-52"].people,
  shards: 64,
  admitPerMinute: 20_000,
  maxActive: 40_000,
  claimWindowSeconds: 120,
  passTtlSeconds: 900,
  abandonShare: 0.1,
  refreshShare: 0.2,
  lapseShare: 0.05,
  seed: 20210720,
  locations: 300,
  isolatesPerLocation: 4,
  cacheTtlSeconds: 1,
  objectSoftLimit: 1_000,
};
