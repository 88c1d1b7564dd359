import { fail } from "../http/errors.js";
import type { ShardSnapshot } from "./estimate.js";
import type { ShardAddress } from "./queue-shard.js";

/**
 * The Worker's side of the QueueShard objects: deterministic names, bounded retries, and the per-shard
 * snapshot cache that keeps status polls away from the objects.
 */

/** Objects are addressed by name, so every Worker anywhere reaches the same object for a shard. */
export function shardName(address: ShardAddress): string {
  return `${address.cohort}/${address.shard}`;
}

export function shardStub(env: Env, address: ShardAddress): DurableObjectStub<import("./queue-shard.js").QueueShard> {
  return env.QUEUE_SHARD.getByName(shardName(address));
}

function flag(err: unknown, name: "retryable" | "overloaded"): boolean {
  return typeof err === "object" && err !== null && name in err && (err as Record<string, unknown>)[name] === true;
}

/**
 * Calls a shard, retrying once when the runtime says the failure was transient. An overloaded object is
 * not retried (that would add to its load); the citizen is asked to come back shortly, and keeps their
 * ticket, so nothing is lost.
 */
export async function callShard<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (flag(err, "overloaded") || attempt >= 1 || !flag(err, "retryable")) {
        console.error("queue shard call failed:", err);
        throw fail(503, "unavailable", "the queue is busy; your place is kept, please retry shortly", { retryAfterSeconds: 2 });
      }
    }
  }
}

/** How long a cached snapshot answers polls. Admission moves at most a burst per second, so a second-old
 * snapshot is off by a handful of people at most. */
export const SNAPSHOT_TTL_MS = 1_000;

interface CachedSnapshot {
  snapshot: ShardSnapshot;
  fetchedAt: number;
}

// Per isolate. Concurrent polls for a shard whose snapshot is stale share one in-flight call, so an
// isolate makes at most about one call per shard per TTL however many citizens poll through it.
const snapshots = new Map<string, CachedSnapshot>();
const inFlight = new Map<string, Promise<ShardSnapshot>>();
/** Bounds the cache: an isolate serving every shard of every cohort still holds only this many. */
const MAX_CACHED_SHARDS = 4_096;

/** A snapshot of the shard no older than SNAPSHOT_TTL_MS, from the cache when possible. */
export async function cachedSnapshot(env: Env, address: ShardAddress, now: number): Promise<ShardSnapshot> {
  const name = shardName(address);
  const cached = snapshots.get(name);
  if (cached && now - cached.fetchedAt < SNAPSHOT_TTL_MS) return cached.snapshot;
  let pending = inFlight.get(name);
  if (!pending) {
    pending = callShard(() => shardStub(env, address).snapshot(address)).finally(() => inFlight.delete(name));
    inFlight.set(name, pending);
  }
  const snapshot = await pending;
  // The runtime's clock stands still within a request until I/O happens, so `now` is when this request
  // began; the snapshot is as new as the moment it arrived, which Date.now() tells after the await.
  remember(name, snapshot, Date.now());
  return snapshot;
}

/** Any fresh snapshot the Worker sees (from a join or a claim) refreshes the cache for free. */
export function remember(name: string, snapshot: ShardSnapshot, now: number): void {
  if (snapshots.size >= MAX_CACHED_SHARDS && !snapshots.has(name)) {
    const oldest = snapshots.keys().next().value;
    if (oldest !== undefined) snapshots.delete(oldest);
  }
  snapshots.delete(name);
  snapshots.set(name, { snapshot, fetchedAt: now });
}

/** Drops cached snapshots; for tests that need the next poll to see the object's present. */
export function forgetSnapshots(): void {
  snapshots.clear();
}
