import { autopilotStep, initialAutopilot, ORIGIN_OUTCOMES, readAutopilotState, shardAutopilotConfig, type AutopilotState, type HealthSample } from "../origin-health/autopilot.js";
import { MAX_PENDING_PER_SHARD } from "../origin-health/sample-buffer.js";
import type { EdgeConfig } from "../config.js";
import type { ShardStore } from "./store.js";

/**
 * The shard's side of the autopilot (src/edge/origin-health/autopilot.ts): the controller's state lives in
 * the counters row, and every tick steps it, with the samples the gate reported or with none.
 */

/**
 * The samples worth hearing of those reported. They come from this project's own Worker, but over a wire,
 * so only well-formed ones count, and at most as many as the gate ever holds for a shard.
 */
export function usableSamples(samples: readonly HealthSample[]): HealthSample[] {
  return samples.slice(-MAX_PENDING_PER_SHARD).filter((s) => Number.isFinite(s.latencyMs) && s.latencyMs >= 0 && ORIGIN_OUTCOMES.includes(s.outcome));
}

/**
 * One step of the autopilot at `now`, with `configuredPerMinute` as its ceiling; written to the counters
 * row only when the state changed (between decisions, with nothing heard, the controller hands back the
 * same state).
 */
export function stepAutopilot(store: ShardStore, config: EdgeConfig, now: number, samples: readonly HealthSample[], configuredPerMinute: number): AutopilotState {
  const autopilotConfig = shardAutopilotConfig(config.autopilot, configuredPerMinute, config.shards);
  // `memory.autopilot` is always a state the row holds (read from it or written to it below).
  const known = store.memory.autopilot;
  const state = known ?? readAutopilotState(store.counters.autopilot) ?? initialAutopilot(autopilotConfig, now);
  const next = autopilotStep(state, samples, autopilotConfig, now);
  if (next === known) return next;
  store.memory.autopilot = next;
  store.setAutopilot(JSON.stringify(next));
  return next;
}
