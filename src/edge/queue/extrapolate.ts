import { advance, type ShardCounters } from "../shard/admission.js";
import type { ShardSnapshot } from "../shard/snapshot.js";

/** How far past its arrival a snapshot is carried forward: a few refreshes' worth. A snapshot older than
 * this means the object is not answering, and then the line is not known to be moving. */
export const EXTRAPOLATION_HORIZON_MS = 5_000;

/** The object ticks about once a second while people wait; stepping the rule at that beat reproduces it. */
const EXTRAPOLATION_STEP_MS = 1_000;

/**
 * The snapshot carried `elapsedMs` forward by the admission rule itself, so the position a citizen sees
 * keeps moving between refreshes. It is a floor of what the object does: it starts with no banked credit,
 * ignores capacity freed since (expiries, completed bookings) and counts every admission against the cap,
 * so it never runs ahead of the object under the same configuration. It never moves past the last ticket
 * the snapshot knew of, past the cap, or while paused. A display value only: it never admits anyone, since
 * only the object's `claim` does that.
 */
export function extrapolate(snap: ShardSnapshot, elapsedMs: number): ShardSnapshot {
  const horizon = Math.min(Math.max(0, elapsedMs), EXTRAPOLATION_HORIZON_MS);
  // A shard of a coordinated cohort admits what it was granted at once, so its snapshot has it already.
  if (snap.paused || horizon === 0 || snap.serving >= snap.lastSeq || (snap.line && !snap.line.alone)) return snap;
  const policy = { ratePerMinute: snap.ratePerMinute, activeCap: snap.activeCap, paused: snap.paused };
  let counters: ShardCounters = { lastSeq: snap.lastSeq, serving: snap.serving, credit: 0, creditAt: 0 };
  let active = snap.active;
  for (let t = 0; t < horizon; ) {
    t = Math.min(horizon, t + EXTRAPOLATION_STEP_MS);
    const step = advance(counters, active, policy, t);
    counters = step.counters;
    active += step.admitted;
  }
  if (counters.serving === snap.serving) return snap;
  return { ...snap, serving: counters.serving, active, at: snap.at + horizon };
}
