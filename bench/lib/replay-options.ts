/**
 * What the flash-crowd replay (`npm run simulate`) takes, shared by the in-memory replay (bench/lib/replay.ts)
 * and the live one (bench/simulate-live.ts), so neither imports the other's module.
 */

import { COHORTS_2021 } from "../../scripts/cohorts.js";

/** The 2021 cohorts (sizes as reported in the press), replayed at their 2021 openings. */
export { COHORTS_2021 };

export interface SimulationOptions {
  cohort: keyof typeof COHORTS_2021;
  people: number;
  shards: number;
  /**
   * `--independent-shards`: each shard a line of its own at its share of the rate and the cap, as before
   * the cohort's coordinator (src/edge/cohort/); otherwise the shards keep one line through it.
   */
  independentShards: boolean;
  admitPerMinute: number;
  maxActive: number;
  /** CLAIM_WINDOW_SECONDS: how long an admission nobody claims holds capacity. */
  claimWindowSeconds: number;
  passTtlSeconds: number;
  /** PASS_IDLE_SECONDS: a claimed pass with no request through the gate for this long stops holding capacity. */
  passIdleSeconds: number;
  /** PRESENCE_SECONDS: a holder not seen for this long when the line reaches their ticket is passed over. */
  presenceSeconds: number;
  /** RETURN_WINDOW_SECONDS: one passed over (or whose admission lapsed) who comes back within this keeps the place. */
  returnWindowSeconds: number;
  /**
   * Share of people who join and then leave (close the tab, walk away from a second device): they stop
   * polling, at an exponential time after arrival with mean `leaveMeanSeconds`; those still waiting then
   * are away when the line reaches them. In the live replay an abandoner stops polling within 30 s.
   */
  abandonShare: number;
  leaveMeanSeconds: number;
  /**
   * Share of people who give their place up with the page's button ("I no longer need my place",
   * DELETE /api/queue/ticket) at an exponential time after arrival with mean `leaveMeanSeconds`, unless
   * their turn came first; they do not come back. Drawn after the silent leavers, from the same draws, so
   * with `abandonShare` 0 the same citizens give up at the same moments as `abandonShare` of this size
   * would have them close the tab.
   */
  leaveShare: number;
  /** Share of the leavers who come back, an exponential time after leaving with mean `returnMeanSeconds`. */
  returnShare: number;
  returnMeanSeconds: number;
  /**
   * Share of people away from the screen while they wait (a tab in the background on a phone in a pocket,
   * a laptop closed): the page still counts them as present, but they look at it only now and then, an
   * exponential time apart with mean `lookMeanSeconds`, so an admission waits for their next look to be
   * claimed. Drawn from a stream of their own: the rest of the replay is the same whatever the share.
   */
  awayShare: number;
  lookMeanSeconds: number;
  /** Share of those away who subscribed to notifications (docs/notifications.md): the admitted notice wakes them. */
  notifiedShare: number;
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
  independentShards: false,
  admitPerMinute: 20_000,
  maxActive: 40_000,
  // The product's bindings (wrangler.toml).
  claimWindowSeconds: 30,
  passTtlSeconds: 900,
  passIdleSeconds: 180,
  presenceSeconds: 30,
  returnWindowSeconds: 600,
  abandonShare: 0.1,
  leaveMeanSeconds: 600,
  leaveShare: 0,
  returnShare: 0.25,
  returnMeanSeconds: 600,
  awayShare: 0,
  lookMeanSeconds: 480,
  notifiedShare: 0,
  refreshShare: 0.2,
  lapseShare: 0.05,
  seed: 20210720,
  locations: 300,
  isolatesPerLocation: 4,
  cacheTtlSeconds: 1,
  objectSoftLimit: 1_000,
};
