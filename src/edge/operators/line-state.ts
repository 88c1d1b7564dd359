import type { LineState } from "../../contract/ops.js";
import type { AutopilotReason } from "../origin-health/autopilot.js";
import type { ShardSnapshot } from "../shard/snapshot.js";

/** The autopilot's findings that cut the rate: the origin is in trouble, and the line slows for it. */
const CUTS: readonly AutopilotReason[] = ["errors above target", "latency above target"];

/**
 * What a cohort's line is doing, from whether it is open, its policy and its shards' snapshots, for the
 * operators' console. A rate below the configured one is "slowed" only when a shard's autopilot cut it for
 * the origin's errors or latency (errors named first: they are what the autopilot exists to prevent);
 * below it for any other finding (a start, a raised rate, a recovery) the line is "climbing", which asks
 * nothing of an operator. A paused line is paused whatever its rate, since it admits nobody.
 */
export function lineStateOf(
  cohort: { open: boolean; paused: boolean },
  shards: readonly Pick<ShardSnapshot, "ratePerMinute" | "configuredPerMinute" | "origin">[],
): LineState {
  if (!cohort.open) return { state: "not open yet", reason: null };
  if (cohort.paused) return { state: "paused", reason: null };
  // A snapshot without `configuredPerMinute` admits at its configured rate.
  const below = shards.filter((s) => s.configuredPerMinute !== undefined && s.ratePerMinute < s.configuredPerMinute);
  for (const cut of CUTS) if (below.some((s) => s.origin?.reason === cut)) return { state: "slowed", reason: cut };
  if (below.length > 0) return { state: "climbing", reason: below.find((s) => s.origin)?.origin?.reason ?? null };
  return { state: "admitting", reason: null };
}
