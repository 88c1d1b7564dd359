import type { OriginOutcome } from "./autopilot.js";

/**
 * The gate's answer from the origin must come within this, or the citizen is told to retry (keeping pass
 * and place) and the request counts as a "timeout". The replay's modelled origin times out the same.
 */
export const ORIGIN_TIMEOUT_MS = 8_000;

/** What one forwarded request tells about the origin: its outcome from the status (or no answer). */
export function outcomeOf(status: number | "timeout" | "unreachable"): OriginOutcome {
  if (status === "timeout") return "timeout";
  // A fetch that failed outright and the origin's own 503 both mean "not serving now": a full pool, a
  // restart. Other 5xx are the origin failing at the work itself.
  if (status === "unreachable" || status === 503) return "unavailable";
  return status >= 500 ? "5xx" : "ok";
}
