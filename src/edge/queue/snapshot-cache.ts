import { z } from "zod";
import { originHealthView } from "../origin-health/autopilot.js";
import type { ShardSnapshot } from "../shard/snapshot.js";
import { readLocation, writeLocation } from "../location-cache.js";
import { callShard, shardStub } from "./shard-client.js";
import { shardName, type ShardAddress } from "./shard-name.js";

/**
 * The shards' snapshots as the Worker keeps them, so status polls stay away from the objects: per isolate,
 * in front of the location's Cache API (location-cache.ts), each entry refreshed about once a second.
 */

/** How long a cached snapshot answers polls. Admission moves at most a burst per second, so a second-old
 * snapshot is off by a handful of people at most. */
export const SNAPSHOT_TTL_MS = 1_000;

/** A refresh that has not come back in this long is presumed lost (its request was cancelled, say), and
 * the next request to notice the stale snapshot may try its own. */
export const REFRESH_TIMEOUT_MS = 3_000;

/** How old a snapshot may be and still answer polls while a refresh is under way or has failed. An older
 * one no longer describes the line: a request then makes its own call, as if there were none. */
const MAX_STALE_MS = 10_000;
/**
 * A cold isolate has nothing stale to serve: its first polls would each call the object. All but the
 * first instead look in the isolate's cache on their own short timer, up to this long, for the snapshot the
 * first one is fetching; only then do they call the object themselves.
 */
export const COLD_WAIT_MS = 250;
const COLD_WAIT_STEP_MS = 10;

/** A snapshot and when the Worker learned it (the Worker's clock, not the object's). */
export interface CachedSnapshot {
  snapshot: ShardSnapshot;
  fetchedAt: number;
}

// Per isolate, in front of the per-location Cache API. No request ever awaits a promise another request
// created: workerd cancels such a wait ("Worker's code had hung") when the other request ends first. So a
// stale snapshot is served while the first request to notice refreshes it with its own call, and the
// isolate still makes about one call per shard per TTL however many citizens poll through it.
const snapshots = new Map<string, CachedSnapshot>();
/** Shards whose snapshot some request is refreshing, and since when: a flag, never a shared promise. */
const refreshing = new Map<string, number>();
/** Bounds the cache: an isolate serving every shard of every cohort still holds only this many. */
const MAX_CACHED_SHARDS = 4_096;
/** Moves the Cache API keys aside when tests forget snapshots; always 0 in production. */
let generation = 0;

/**
 * A snapshot of the shard, and when it was learned: from this isolate's cache when younger than
 * SNAPSHOT_TTL_MS; else, if a refresh is already under way, the stale one; else this request refreshes it
 * (from the location's Cache API if another isolate just did, from the object otherwise) and waits only for
 * its own calls. A request that finds no snapshot at all makes its own call too.
 */
export async function cachedSnapshot(env: Env, address: ShardAddress, now: number): Promise<CachedSnapshot> {
  const name = shardName(address);
  // A snapshot too old to trust is treated as none (an isolate that sat idle, or an object long silent).
  const found = snapshots.get(name);
  const cached = found && now - found.fetchedAt <= MAX_STALE_MS ? found : undefined;
  if (cached && now - cached.fetchedAt < SNAPSHOT_TTL_MS) return cached;
  const since = refreshing.get(name);
  if (since !== undefined && now - since < REFRESH_TIMEOUT_MS) {
    if (cached) return cached;
    const arrived = await firstFill(name, since);
    if (arrived) return arrived;
  }
  // Set before the first await, so concurrent polls of this isolate see it and serve the stale snapshot.
  refreshing.set(name, now);
  let result: CachedSnapshot;
  try {
    result = await refresh(env, address, name, now, cached);
  } catch (err) {
    // The object is busy or unreachable: a recent snapshot is a better answer than an error. The flag
    // stays until REFRESH_TIMEOUT_MS, so the polls behind this one serve it too instead of piling on.
    if (cached) return cached;
    throw err;
  }
  if (refreshing.get(name) === now) refreshing.delete(name);
  return result;
}

/**
 * Waits, on this request's own timer, for another request of the isolate to put a snapshot of the shard
 * in the cache (one learned after `since`); undefined after COLD_WAIT_MS. It reads the map, never the
 * other request's promise, so a cancelled filler costs this request a quarter second, not its answer.
 */
async function firstFill(name: string, since: number): Promise<CachedSnapshot | undefined> {
  for (let waited = 0; waited < COLD_WAIT_MS; waited += COLD_WAIT_STEP_MS) {
    await new Promise((resolve) => setTimeout(resolve, COLD_WAIT_STEP_MS));
    const filled = snapshots.get(name);
    if (filled && filled.fetchedAt >= since) return filled;
  }
  return undefined;
}

async function refresh(env: Env, address: ShardAddress, name: string, now: number, cached: CachedSnapshot | undefined): Promise<CachedSnapshot> {
  const shared = await readShared(name);
  if (shared && now - shared.fetchedAt < SNAPSHOT_TTL_MS && (!cached || shared.fetchedAt > cached.fetchedAt)) {
    remember(name, shared.snapshot, shared.fetchedAt);
    return shared;
  }
  const snapshot = await callShard(() => shardStub(env, address).snapshot());
  // The runtime's clock stands still within a request until I/O happens, so `now` is when this request
  // began; the snapshot is as new as the moment it arrived, which Date.now() tells after the await.
  // (A caller that passes a later `now`, as tests do to let time pass, is taken at its word.)
  const fresh = { snapshot, fetchedAt: Math.max(now, Date.now()) };
  remember(name, snapshot, fresh.fetchedAt);
  await writeShared(name, fresh);
  return fresh;
}

/** The Cache API key of a shard's snapshot: a synthetic URL no request from outside can reach. */
function sharedKey(name: string): string {
  return `https://queue-snapshots.waiting-room.internal/${generation}/${encodeURIComponent(name)}`;
}

const numbers = z.array(z.number());
const leftPlaces = z.object({
  near: z.object({ position: numbers, shard: numbers, seq: numbers }),
  far: z.object({ bucket: numbers, count: numbers }),
  total: z.number(),
});
const cohortView = z.object({
  at: z.number(),
  ranked: z.number(),
  reached: z.number(),
  returning: z.number(),
  waiting: z.number(),
  unranked: z.number(),
  left: leftPlaces.optional(),
  active: z.number(),
  held: z.number(),
  activeCap: z.number(),
  ratePerMinute: z.number(),
  configuredPerMinute: z.number(),
  observedPerMinute: z.number().nullable(),
  paused: z.boolean(),
  slowedByOperators: z.boolean(),
});
// The cohort's one line as the shard last heard it: without it, another isolate would count the shard alone.
const cohortLine = z.object({
  cohort: cohortView,
  shard: z.number(),
  ownReached: z.number(),
  ownUnranked: z.number(),
  rankedSeq: z.number(),
  grantedSeq: z.number(),
  alone: z.boolean(),
});

const sharedEntry = z.object({
  fetchedAt: z.number(),
  snapshot: z.object({
    lastSeq: z.number(),
    serving: z.number(),
    active: z.number(),
    activeCap: z.number(),
    ratePerMinute: z.number(),
    configuredPerMinute: z.number().optional(),
    origin: originHealthView.optional(),
    observedPerMinute: z.number().nullable(),
    returning: z.number().optional(),
    presentShare: z.number().nullable().optional(),
    reached: z.number().optional(),
    leastPresent: z.number().optional(),
    paused: z.boolean(),
    left: leftPlaces.optional(),
    departed: z.number().optional(),
    at: z.number(),
    line: cohortLine.optional(),
  }),
});

function readShared(name: string): Promise<CachedSnapshot | undefined> {
  return readLocation(sharedKey(name), sharedEntry, "snapshot");
}

function writeShared(name: string, entry: CachedSnapshot): Promise<void> {
  return writeLocation(sharedKey(name), entry, SNAPSHOT_TTL_MS, "snapshot");
}

/** Any fresh snapshot the Worker sees (from a join or a claim) refreshes the isolate cache for free. */
export function remember(name: string, snapshot: ShardSnapshot, now: number): void {
  if (snapshots.size >= MAX_CACHED_SHARDS && !snapshots.has(name)) {
    const oldest = snapshots.keys().next().value;
    if (oldest !== undefined) snapshots.delete(oldest);
  }
  snapshots.delete(name);
  snapshots.set(name, { snapshot, fetchedAt: now });
}

/**
 * Drops cached snapshots, for tests: "everywhere" (this isolate's, and the location's as this isolate
 * reads it) so the next poll sees the object's present; "isolate" only, to be the next isolate of the
 * same location, which starts with nothing but the location's cache.
 */
export function forgetSnapshots(where: "everywhere" | "isolate" = "everywhere"): void {
  snapshots.clear();
  refreshing.clear();
  if (where === "everywhere") generation++;
}
