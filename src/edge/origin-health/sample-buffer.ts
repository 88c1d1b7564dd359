import type { HealthSample } from "./autopilot.js";

/**
 * The origin's health samples on their way from the gate to the shards, per isolate: each forwarded
 * request's outcome is held for the citizen's shard until a call to that shard carries it. Plain maps, read
 * and written synchronously, never a promise shared between requests: workerd cancels a request that waits
 * on another request's promise.
 */

/**
 * Samples held per shard until the next call to that shard carries them. Bounded: an isolate that cannot
 * reach a shard for a while keeps the newest, since the controller judges the present, not a backlog.
 */
export const MAX_PENDING_PER_SHARD = 256;
/** Bounds the map itself: an isolate serving every shard of every cohort holds at most this many. */
const MAX_SHARDS_PENDING = 4_096;
/** A shard hears from this isolate on its own (`reportHealth`) at most this often. */
export const REPORT_INTERVAL_MS = 1_000;

const pending = new Map<string, HealthSample[]>();
const reportedAt = new Map<string, number>();

/** Holds a sample for the shard named `shard` (its `shardName`). */
export function holdSample(shard: string, sample: HealthSample): void {
  let held = pending.get(shard);
  if (!held) {
    if (pending.size >= MAX_SHARDS_PENDING) pending.delete(pending.keys().next().value!);
    held = [];
    pending.set(shard, held);
  }
  held.push(sample);
  if (held.length > MAX_PENDING_PER_SHARD) held.splice(0, held.length - MAX_PENDING_PER_SHARD);
}

/** Takes every sample held for the shard, to send with a call to it; the caller owns them from now on. */
export function takeSamples(shard: string): HealthSample[] {
  const held = pending.get(shard) ?? [];
  pending.delete(shard);
  return held;
}

/**
 * Whether this request should carry the shard's held samples in a call of its own: some are held and the
 * isolate has not reported to that shard within REPORT_INTERVAL_MS. Marks the report as made, so of many
 * requests at once only one calls.
 */
export function reportDue(shard: string, now: number): boolean {
  if (!pending.has(shard)) return false;
  const last = reportedAt.get(shard);
  if (last !== undefined && now - last < REPORT_INTERVAL_MS && now >= last) return false;
  if (reportedAt.size >= MAX_SHARDS_PENDING && last === undefined) reportedAt.delete(reportedAt.keys().next().value!);
  reportedAt.set(shard, now);
  return true;
}

/** Puts samples back after a call that should have carried them failed (the newest are kept, as above). */
export function returnSamples(shard: string, samples: readonly HealthSample[]): void {
  for (const sample of samples) holdSample(shard, sample);
}

/** Forgets held samples and report times (tests only: each starts clean). */
export function forgetSamples(): void {
  pending.clear();
  reportedAt.clear();
}
