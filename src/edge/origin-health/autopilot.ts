/**
 * The autopilot: a shard's admission rate that follows the booking origin's health. Pure (no I/O, no clock
 * of its own), like the admission rule, so the QueueShard object and the flash-crowd replay run this very
 * code. Its output replaces the configured `ratePerMinute` of the shard's `ShardPolicy`.
 *
 * Each shard judges only the bookings of the citizens it admitted (the gate hands it their health samples
 * with the completion call), so no global state is needed. The shape is AIMD, the rule that keeps TCP
 * stable on a shared link:
 *
 * - Evidence is a tumbling window: samples gather since the last decision, and a decision is taken once
 *   the window is DECISION_MS old and holds MIN_SAMPLES samples, or once it is QUIET_MS old whatever it
 *   holds. The window is three counts (samples, errors, slow), so the state fits in the counters row.
 * - "p95 above target" is read exactly from the counts: the 95th percentile of a window's latencies is
 *   above the target if and only if more than 5% of them are slower than the target.
 * - Degraded (error share or p95 above target): multiplicative decrease, at once. The cut follows the
 *   error share, since an origin failing a share e of its requests served (1 - e) of them: the new rate
 *   is that share of the old, times MARGIN, never gentler than MILD_CUT nor harsher than DEEP_CUT per step.
 *   Latency alone cuts by LATENCY_CUT, then waits LATENCY_SETTLE_MS for the cut to reach the origin.
 * - Healthy: additive increase, from floor to ceiling in CLIMB_MS, and a quarter of that pace through the
 *   last tenth below the rate where the origin last degraded (probing the edge of its capacity gently, as
 *   the rate admitted there reaches the origin only a minute or two later, when those citizens book).
 * - No samples at all: climb at a quarter of the healthy pace. No samples means no booking traffic through
 *   this shard (nobody admitted yet, or everyone admitted finished or left), so more admissions cannot be
 *   hurting the origin now; holding would leave a shard that backed off at the floor for good once its
 *   admitted crowd had drained. The slow pace bounds how far it climbs before the first samples judge it.
 * - Always within [floor, ceiling]; disabled means the ceiling, the configured rate.
 */

import { z } from "zod";

/** What the origin did with one booking request the edge forwarded. */
export const ORIGIN_OUTCOMES = ["ok", "5xx", "timeout", "unavailable"] as const;
export type OriginOutcome = (typeof ORIGIN_OUTCOMES)[number];

/** One forwarded request's health: how long the origin took and how it answered. */
export interface HealthSample {
  latencyMs: number;
  outcome: OriginOutcome;
}

export interface AutopilotConfig {
  enabled: boolean;
  /** The shard's share of ADMIT_PER_MINUTE: never exceeded. */
  ceilingPerMinute: number;
  /** The shard's share of ADMIT_FLOOR_PER_MINUTE: a sick origin never stalls the line below this. */
  floorPerMinute: number;
  /** ORIGIN_TARGET_P95_MS: the p95 latency above which the origin counts as degraded. */
  targetP95Ms: number;
  /** ORIGIN_MAX_ERROR_SHARE: the share of failed requests (5xx, timeout, 503) above which it is degraded. */
  maxErrorShare: number;
  /**
   * AUTOPILOT_TIME_SCALE, for tests only: every interval below (decision, quiet, climb, settle) is this
   * many times shorter, so a stack test sees minutes of the controller's behaviour in seconds. Absent: 1.
   */
  timeScale?: number;
}

/** Why the rate is what it is, for /ops: the finding of the last decision. */
export const AUTOPILOT_REASONS = ["disabled", "started", "errors above target", "latency above target", "healthy, climbing", "at ceiling", "no samples, climbing"] as const;
export type AutopilotReason = (typeof AUTOPILOT_REASONS)[number];

/** Samples gathered since the last decision. */
export interface HealthWindow {
  samples: number;
  /** 5xx, timeouts and 503s. */
  errors: number;
  /** Samples slower than the target p95. */
  slow: number;
}

/** What one decision saw, kept for /ops. */
export interface HealthFinding extends HealthWindow {
  errorShare: number;
  slowShare: number;
}

/** The controller's whole state: small plain numbers and strings, so it can be stored as JSON in a row. */
export interface AutopilotState {
  /** The admission rate in force (per minute, this shard's). */
  ratePerMinute: number;
  reason: AutopilotReason;
  /** When the last decision was taken; the current window started then (ms since epoch). */
  decidedAt: number;
  /** When the rate last changed (ms since epoch). */
  changedAt: number;
  /** The rate at which the origin last degraded; climbing slows near it. Null once climbed past it. */
  degradedAtRate: number | null;
  window: HealthWindow;
  /** The window the last decision judged; null before the first. */
  lastFinding: HealthFinding | null;
}

/** A decision waits for this much time to pass, so one slow request cannot swing the rate. */
export const DECISION_MS = 5_000;
/** …and for this much evidence, unless the window is QUIET_MS old. */
export const MIN_SAMPLES = 20;
/** A shard with little traffic still decides this often, on whatever samples it has. */
export const QUIET_MS = 30_000;
/** Healthy climb: floor to ceiling in this long. */
export const CLIMB_MS = 300_000;
/** Near the rate where the origin last degraded (within this share below it), climb at PROBE_PACE. */
export const PROBE_ZONE = 0.1;
export const PROBE_PACE = 0.25;
/** With no samples at all, climb at this share of the healthy pace. */
export const UNSEEN_PACE = 0.25;
/** The share of latencies that may exceed the target: the target is a 95th percentile. */
export const SLOW_SHARE = 0.05;
/** Cut bounds per decision: an error share just over target cuts to 0.9x, an origin that fails all to 0.5x. */
export const MILD_CUT = 0.9;
export const DEEP_CUT = 0.5;
/** Below the share of requests the origin served, so the next window sees some headroom. */
export const MARGIN = 0.9;
/** Latency above target, no errors: the origin is queueing, a moderate cut drains the queue. */
export const LATENCY_CUT = 0.85;
/**
 * After a latency cut, latency is judged again only this much later. Citizens book a minute or two after
 * their admission, so the windows right after a cut still carry the load admitted before it; cutting on
 * each of them would take the rate far below what the origin can serve. Errors are not given this grace:
 * they are what the autopilot exists to prevent.
 */
export const LATENCY_SETTLE_MS = 60_000;

const EMPTY: HealthWindow = { samples: 0, errors: 0, slow: 0 };

/** The state of a shard that has not decided anything yet: it starts at the configured rate. */
export function initialAutopilot(config: AutopilotConfig, now: number): AutopilotState {
  return {
    ratePerMinute: config.ceilingPerMinute,
    reason: config.enabled ? "started" : "disabled",
    decidedAt: now,
    changedAt: now,
    degradedAtRate: null,
    window: EMPTY,
    lastFinding: null,
  };
}

/** The healthy climb per decision, per minute of rate. */
export function climbStep(config: AutopilotConfig): number {
  // A ratio of two intervals: the same whatever the time scale.
  return (Math.max(0, config.ceilingPerMinute - floorOf(config)) * DECISION_MS) / CLIMB_MS;
}

/**
 * An upper bound on the time from the floor to the ceiling under a healthy origin, given a decision every
 * DECISION_MS: the plain climb, plus the probe zone crossed at PROBE_PACE, plus two decisions (the first
 * may still judge samples from before the origin recovered; the last climbs a partial step).
 */
export function recoveryBoundMs(config: AutopilotConfig): number {
  const step = climbStep(config);
  const decision = scaled(DECISION_MS, config);
  if (step === 0) return decision;
  const probeDistance = PROBE_ZONE * config.ceilingPerMinute;
  return scaled(CLIMB_MS, config) + Math.ceil(probeDistance / (step * PROBE_PACE)) * decision + 2 * decision;
}

/** An interval under the configuration's time scale. */
function scaled(ms: number, config: AutopilotConfig): number {
  return ms / (config.timeScale ?? 1);
}

function floorOf(config: AutopilotConfig): number {
  // A cohort's own admitPerMinute may be below the global floor: the ceiling wins, never the floor.
  return Math.min(config.floorPerMinute, config.ceilingPerMinute);
}

function judge(w: HealthWindow): HealthFinding {
  return { ...w, errorShare: w.samples ? w.errors / w.samples : 0, slowShare: w.samples ? w.slow / w.samples : 0 };
}

/**
 * The controller's step: adds `samples` to the window and, when the window is due, decides the rate.
 * Deterministic: the same state, samples, configuration and time give the same result.
 */
export function autopilotStep(state: AutopilotState, samples: readonly HealthSample[], config: AutopilotConfig, now: number): AutopilotState {
  const ceiling = config.ceilingPerMinute;
  const floor = floorOf(config);
  if (!config.enabled) {
    if (state.reason === "disabled" && state.ratePerMinute === ceiling) return state;
    return { ...state, ratePerMinute: ceiling, reason: "disabled", decidedAt: now, changedAt: now, degradedAtRate: null, window: EMPTY };
  }
  let { samples: count, errors, slow } = state.window;
  for (const s of samples) {
    count++;
    if (s.outcome !== "ok") errors++;
    else if (s.latencyMs > config.targetP95Ms) slow++;
  }
  const window = { samples: count, errors, slow };
  // A clock that steps backwards (a restart elsewhere) restarts the window rather than stretching it.
  const age = now - state.decidedAt;
  const clamped = Math.min(ceiling, Math.max(floor, state.ratePerMinute));
  const due = age < 0 || (age >= scaled(DECISION_MS, config) && count >= MIN_SAMPLES) || age >= scaled(QUIET_MS, config);
  if (!due) {
    // Between decisions the rate holds, but a lowered ceiling or raised floor applies at once. With
    // nothing new the state itself comes back, so a caller can tell "unchanged" without comparing.
    if (clamped !== state.ratePerMinute) return { ...state, ratePerMinute: clamped, changedAt: now, window };
    return samples.length === 0 ? state : { ...state, window };
  }
  if (age < 0) return { ...state, ratePerMinute: clamped, decidedAt: now, window: EMPTY };

  const finding = judge(window);
  let rate = clamped;
  let reason: AutopilotReason;
  let degradedAtRate = state.degradedAtRate;
  if (count > 0 && finding.errorShare > config.maxErrorShare) {
    rate = clamped * Math.min(MILD_CUT, Math.max(DEEP_CUT, (1 - finding.errorShare) * MARGIN));
    reason = "errors above target";
    degradedAtRate = clamped;
  } else if (count > 0 && finding.slowShare > SLOW_SHARE) {
    const settling = state.reason === "latency above target" && now - state.changedAt < scaled(LATENCY_SETTLE_MS, config);
    if (!settling) rate = clamped * LATENCY_CUT;
    reason = "latency above target";
    degradedAtRate = settling ? degradedAtRate : clamped;
  } else if (clamped >= ceiling) {
    reason = "at ceiling";
    degradedAtRate = null;
  } else {
    const probing = degradedAtRate !== null && clamped >= degradedAtRate * (1 - PROBE_ZONE);
    const pace = (count === 0 ? UNSEEN_PACE : 1) * (probing ? PROBE_PACE : 1);
    rate = clamped + climbStep(config) * pace;
    reason = count === 0 ? "no samples, climbing" : "healthy, climbing";
    // Past the rate that last hurt the origin, the origin has shown it copes: climb at full pace again.
    if (degradedAtRate !== null && rate > degradedAtRate) degradedAtRate = null;
  }
  rate = Math.min(ceiling, Math.max(floor, rate));
  return {
    ratePerMinute: rate,
    reason,
    decidedAt: now,
    changedAt: rate === state.ratePerMinute ? state.changedAt : now,
    degradedAtRate,
    window: EMPTY,
    lastFinding: finding,
  };
}

/**
 * A shard's controller configuration from the cohort-wide bindings. The ceiling is the shard's configured
 * rate (its share of ADMIT_PER_MINUTE, or whatever its policy configures); the floor is its share of
 * ADMIT_FLOOR_PER_MINUTE, so the shards together never fall below that floor.
 */
export function shardAutopilotConfig(
  bindings: { enabled: boolean; floorPerMinute: number; targetP95Ms: number; maxErrorShare: number; timeScale?: number },
  configuredPerMinute: number,
  shards: number,
): AutopilotConfig {
  return {
    enabled: bindings.enabled,
    ceilingPerMinute: configuredPerMinute,
    floorPerMinute: bindings.floorPerMinute / shards,
    targetP95Ms: bindings.targetP95Ms,
    maxErrorShare: bindings.maxErrorShare,
    ...(bindings.timeScale !== undefined && bindings.timeScale !== 1 ? { timeScale: bindings.timeScale } : {}),
  };
}

const count = z.number().int().nonnegative();
const share = z.number().min(0).max(1);
const healthWindow = z.object({ samples: count, errors: count, slow: count });
const storedState = z.object({
  ratePerMinute: z.number().nonnegative(),
  reason: z.enum(AUTOPILOT_REASONS),
  decidedAt: z.number(),
  changedAt: z.number(),
  degradedAtRate: z.number().nullable(),
  window: healthWindow,
  lastFinding: healthWindow.extend({ errorShare: share, slowShare: share }).nullable(),
});

/**
 * The controller's state as a shard stored it (JSON in its counters row), or null when there is none or
 * it is not a state this code wrote (a row from a future version rolled back, say): the shard then starts
 * the controller afresh at the configured rate rather than guess.
 */
export function readAutopilotState(stored: string | null): AutopilotState | null {
  if (stored === null) return null;
  try {
    const parsed = storedState.safeParse(JSON.parse(stored));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * A shard's view of the origin, for the ops view: the controller's last finding and recent latency. A
 * schema, since it travels in snapshots that the location's cache hands back to other isolates.
 */
export const originHealthView = z.object({
  reason: z.enum(AUTOPILOT_REASONS),
  /** When the rate last changed (ms since epoch). */
  changedAt: z.number(),
  /** Failed share of the window the last decision judged; null before the first decision with samples. */
  errorShare: z.number().nullable(),
  /** 95th percentile of the latencies the shard heard about lately; null with none. */
  p95Ms: z.number().nullable(),
  /** Samples behind `p95Ms`. */
  samples: z.number(),
});
export type OriginHealthView = z.infer<typeof originHealthView>;
