import type { ShardDraw } from "../shard/prequeue.js";
import type { ShardAddress } from "../queue/shard-name.js";
import { callShard, shardStub } from "../queue/shard-client.js";
import { COLD_WAIT_MS, REFRESH_TIMEOUT_MS, SNAPSHOT_TTL_MS } from "../queue/snapshot-cache.js";
import { shardName } from "../queue/shard-name.js";

/**
 * The Worker's copy of each shard's draw, so that pre-queue citizens' polls and the public draw page do
 * not each reach a Durable Object. Once a shard has placed its pre-queue the list never changes (the
 * pre-queue takes no one after the opening), so it is kept for the isolate's life; before that the
 * "not yet" answer is kept as long as a snapshot is, so asking around the opening costs about one call
 * per shard per second per isolate, as polls do. Every pre-queue poll after the opening needs every
 * shard's list (the cohort's one order is merged from them all), and a crowd polls at once at the
 * opening: one request of the isolate fetches a list while the others wait a moment for it.
 */

const placed = new Map<string, ShardDraw>();
const unplaced = new Map<string, { draw: ShardDraw; fetchedAt: number }>();
/** Shards whose draw some request is fetching, and since when: a flag, never a shared promise (snapshot-cache.ts says why). */
const fetching = new Map<string, number>();
/** Bounds the isolate's memory: a list holds 64 characters per pre-queue ticket of the shard. */
const MAX_PLACED_SHARDS = 1_024;
const COLD_WAIT_STEP_MS = 10;

/** The shard's draw as last learned: the placed list, or a "not placed yet" no older than a second. */
export async function shardDraw(env: Env, address: ShardAddress, now: number): Promise<ShardDraw> {
  const name = shardName(address);
  const kept = placed.get(name);
  if (kept) return kept;
  const recent = unplaced.get(name);
  if (recent && now - recent.fetchedAt < SNAPSHOT_TTL_MS && now >= recent.fetchedAt) return recent.draw;
  const since = fetching.get(name);
  if (since !== undefined && now - since < REFRESH_TIMEOUT_MS) {
    // Another request is asking: a "not yet" a little old will do, else wait on this request's own timer.
    if (recent) return recent.draw;
    for (let waited = 0; waited < COLD_WAIT_MS; waited += COLD_WAIT_STEP_MS) {
      await new Promise((resolve) => setTimeout(resolve, COLD_WAIT_STEP_MS));
      const arrived = placed.get(name) ?? unplaced.get(name)?.draw;
      if (arrived) return arrived;
    }
  }
  fetching.set(name, now);
  try {
    const draw = await callShard(() => shardStub(env, address).draw());
    if (draw.placedAt === null) {
      unplaced.set(name, { draw, fetchedAt: now });
    } else {
      unplaced.delete(name);
      if (placed.size >= MAX_PLACED_SHARDS) placed.delete(placed.keys().next().value!);
      placed.set(name, draw);
    }
    return draw;
  } finally {
    if (fetching.get(name) === now) fetching.delete(name);
  }
}

/** Every shard's draw of a cohort, in shard order: what the cohort's one draw order is merged from. */
export function cohortDraws(env: Env, cohort: string, shards: number, now: number): Promise<ShardDraw[]> {
  return Promise.all(Array.from({ length: shards }, (_, shard) => shardDraw(env, { cohort, shard }, now)));
}

/** Drops what this isolate learned of the draws, for tests that move a shard's clock across the opening. */
export function forgetDraws(): void {
  placed.clear();
  unplaced.clear();
  fetching.clear();
}
