import type { ShardDraw } from "../shard/prequeue.js";
import type { ShardAddress } from "../queue/shard-name.js";
import { callShard, shardStub } from "../queue/shard-client.js";
import { COLD_WAIT_MS, REFRESH_TIMEOUT_MS, SNAPSHOT_TTL_MS } from "../queue/snapshot-cache.js";
import { shardName } from "../queue/shard-name.js";
import type { DrawPrefixes } from "./draw-prefixes.js";

/**
 * The Worker's copy of each shard's draw, so that pre-queue citizens' polls and the public draw page do
 * not each reach a Durable Object. Once a shard has placed its pre-queue the list never changes (the
 * pre-queue takes no one after the opening), so it is kept for the isolate's life; before that the
 * "not yet" answer is kept as long as a snapshot is, so asking around the opening costs about one call
 * per shard per second per isolate, as polls do. Every pre-queue poll after the opening needs every
 * shard's draw (the cohort's one order is merged from them all), and a crowd polls at once at the
 * opening: one request of the isolate fetches a draw while the others wait a moment for it.
 *
 * Two forms are kept apart: the polls use each value's prefix (draw-prefixes.ts, 8 bytes a value), so an
 * isolate answering a cohort of millions holds a few megabytes; the public draw page publishes the full
 * lists (64 characters a value), as the audit anyone checks with verify-draw needs them.
 */

interface Placement {
  placedAt: number | null;
}

/** One form's cache: placed draws for the isolate's life, "not yet" for a snapshot's time. */
class DrawCache<T extends Placement> {
  private readonly placed = new Map<string, T>();
  private readonly unplaced = new Map<string, { draw: T; fetchedAt: number }>();
  /** Shards whose draw some request is fetching, and since when: a flag, never a shared promise (snapshot-cache.ts says why). */
  private readonly fetching = new Map<string, number>();

  constructor(
    private readonly ask: (env: Env, address: ShardAddress) => Promise<T>,
    /** Bounds the isolate's memory: a draw grows with the shard's pre-queue. */
    private readonly maxPlacedShards: number,
  ) {}

  async get(env: Env, address: ShardAddress, now: number): Promise<T> {
    const name = shardName(address);
    const kept = this.placed.get(name);
    if (kept) return kept;
    const recent = this.unplaced.get(name);
    if (recent && now - recent.fetchedAt < SNAPSHOT_TTL_MS && now >= recent.fetchedAt) return recent.draw;
    const since = this.fetching.get(name);
    if (since !== undefined && now - since < REFRESH_TIMEOUT_MS) {
      // Another request is asking: a "not yet" a little old will do, else wait on this request's own timer.
      if (recent) return recent.draw;
      for (let waited = 0; waited < COLD_WAIT_MS; waited += COLD_WAIT_STEP_MS) {
        await new Promise((resolve) => setTimeout(resolve, COLD_WAIT_STEP_MS));
        const arrived = this.placed.get(name) ?? this.unplaced.get(name)?.draw;
        if (arrived) return arrived;
      }
    }
    this.fetching.set(name, now);
    try {
      const draw = await callShard(() => this.ask(env, address));
      if (draw.placedAt === null) {
        this.unplaced.set(name, { draw, fetchedAt: now });
      } else {
        this.unplaced.delete(name);
        if (this.placed.size >= this.maxPlacedShards) this.placed.delete(this.placed.keys().next().value!);
        this.placed.set(name, draw);
      }
      return draw;
    } finally {
      if (this.fetching.get(name) === now) this.fetching.delete(name);
    }
  }

  forget(): void {
    this.placed.clear();
    this.unplaced.clear();
    this.fetching.clear();
  }
}

const COLD_WAIT_STEP_MS = 10;

// A full list holds 64 characters per pre-queue ticket of the shard, a prefix list 8 bytes.
const fullDraws = new DrawCache<ShardDraw>((env, address) => shardStub(env, address).draw(), 1_024);
const prefixDraws = new DrawCache<DrawPrefixes>((env, address) => shardStub(env, address).drawPrefixes(), 1_024);

/** The shard's full draw as last learned: the placed list, or a "not placed yet" no older than a second. */
function shardDraw(env: Env, address: ShardAddress, now: number): Promise<ShardDraw> {
  return fullDraws.get(env, address, now);
}

/** Every shard's full draw of a cohort, in shard order: what the public draw page publishes. */
export function cohortDraws(env: Env, cohort: string, shards: number, now: number): Promise<ShardDraw[]> {
  return everyShard(shards, (shard) => shardDraw(env, { cohort, shard }, now));
}

/** The shard's draw as prefixes (draw-prefixes.ts), as last learned: what a citizen's status needs. */
export function shardDrawPrefixes(env: Env, address: ShardAddress, now: number): Promise<DrawPrefixes> {
  return prefixDraws.get(env, address, now);
}

/** Every shard's draw of a cohort as prefixes, in shard order: what a citizen's draw rank is found from. */
export function cohortDrawPrefixes(env: Env, cohort: string, shards: number, now: number): Promise<DrawPrefixes[]> {
  return everyShard(shards, (shard) => shardDrawPrefixes(env, { cohort, shard }, now));
}

function everyShard<T>(shards: number, draw: (shard: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: shards }, (_, shard) => draw(shard)));
}

/** Drops what this isolate learned of the draws, for tests that move a shard's clock across the opening. */
export function forgetDraws(): void {
  fullDraws.forget();
  prefixDraws.forget();
}
