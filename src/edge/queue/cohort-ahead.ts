import { z } from "zod";
import type { RankRun } from "../cohort/cohort-line.js";
import { readLocation, writeLocation } from "../location-cache.js";
import type { ShardSnapshot } from "../shard/snapshot.js";
import { RANK_CHUNK } from "../shard/queue-shard.js";
import { callShard, shardStub } from "./shard-client.js";
import { shardName, type ShardAddress } from "./shard-name.js";
import { SNAPSHOT_TTL_MS } from "./snapshot-cache.js";
import { countAhead } from "./count-ahead.js";

/**
 * The count of people ahead in a cohort whose shards keep one line (src/edge/cohort/cohort-line.ts):
 * those ranked before the citizen that no shard has reached yet, and those who came back. Worked out at the
 * edge from two things the Worker keeps: the shard's snapshot, which carries the cohort as the coordinator
 * last described it (how many ranked places the shards have reached), and the citizen's rank, read from
 * the shard once per chunk of RANK_CHUNK places and kept (a rank never changes). So a poll costs no object
 * call, and the count falls by one with each admission anywhere in the cohort and never rises while the
 * line runs normally.
 */

interface Chunk {
  runs: RankRun[];
  rankedSeq: number;
  fetchedAt: number;
}

// Per isolate, in front of the location's Cache API: chunks whose places are all ranked never change.
const chunks = new Map<string, Chunk>();
/** Chunks some request is fetching, and since when: a flag, never a shared promise (snapshot-cache.ts says why). */
const fetching = new Map<string, number>();
const MAX_CHUNKS = 8_192;
const FETCH_TIMEOUT_MS = 3_000;
const COLD_WAIT_MS = 250;
const COLD_WAIT_STEP_MS = 10;
/** A chunk with every place ranked is kept in the location's cache this long. */
const COMPLETE_TTL_MS = 3_600_000;

const chunkEntry = z.object({
  runs: z.array(z.tuple([z.number(), z.number(), z.number()])),
  rankedSeq: z.number(),
  fetchedAt: z.number(),
});

/**
 * People ahead of ticket `seq` of the shard `address` cohort-wide, or undefined when the shard has never
 * heard from its cohort's coordinator (a cohort of one shard, or a line not started yet): then its own
 * count is the honest one. A shard gone alone counts with the cohort as it last heard it.
 */
export async function cohortAhead(env: Env, address: ShardAddress, seq: number, snap: ShardSnapshot, now: number): Promise<number | undefined> {
  const line = snap.line;
  if (!line) return undefined;
  const rank = seq <= line.rankedSeq ? await rankOf(env, address, seq, now) : undefined;
  return countAhead(seq, snap, line, rank);
}

/** The cohort-wide rank of place `seq` of a shard, from the chunk that holds it; undefined if it cannot be read. */
async function rankOf(env: Env, address: ShardAddress, seq: number, now: number): Promise<number | undefined> {
  const key = `${shardName(address)}#${Math.floor(seq / RANK_CHUNK)}`;
  let chunk = chunks.get(key);
  if (!chunk || chunk.rankedSeq < seq) {
    try {
      chunk = await fetchChunk(env, address, seq, key, now, chunk);
    } catch (err) {
      console.error("could not read a shard's ranks for the count ahead:", err);
      return undefined;
    }
  }
  if (!chunk) return undefined;
  let lo = 0;
  let hi = chunk.runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [firstSeq, count, rankBase] = chunk.runs[mid]!;
    if (seq < firstSeq) hi = mid - 1;
    else if (seq >= firstSeq + count) lo = mid + 1;
    else return rankBase + (seq - firstSeq);
  }
  return undefined;
}

async function fetchChunk(env: Env, address: ShardAddress, seq: number, key: string, now: number, stale: Chunk | undefined): Promise<Chunk | undefined> {
  const since = fetching.get(key);
  if (since !== undefined && now - since < FETCH_TIMEOUT_MS) {
    // Another request of the isolate is fetching it: wait a little on this request's own timer.
    for (let waited = 0; waited < COLD_WAIT_MS; waited += COLD_WAIT_STEP_MS) {
      await new Promise((resolve) => setTimeout(resolve, COLD_WAIT_STEP_MS));
      const filled = chunks.get(key);
      if (filled && filled.rankedSeq >= seq) return filled;
    }
    return stale;
  }
  // A chunk read lately that does not reach this place yet: the place was ranked since; at most once a TTL.
  if (stale && now - stale.fetchedAt < SNAPSHOT_TTL_MS) return stale;
  fetching.set(key, now);
  try {
    const url = `https://queue-ranks.waiting-room.internal/${encodeURIComponent(key)}`;
    const shared = await readLocation(url, chunkEntry, "rank");
    let chunk: Chunk;
    if (shared && shared.rankedSeq >= seq) chunk = shared;
    else {
      const read = await callShard(() => shardStub(env, address).ranks(seq));
      chunk = { runs: read.runs as RankRun[], rankedSeq: read.rankedSeq, fetchedAt: Math.max(now, Date.now()) };
      const end = (Math.floor(seq / RANK_CHUNK) + 1) * RANK_CHUNK - 1;
      await writeLocation(url, chunk, chunk.rankedSeq >= end ? COMPLETE_TTL_MS : SNAPSHOT_TTL_MS, "rank");
    }
    if (chunks.size >= MAX_CHUNKS && !chunks.has(key)) chunks.delete(chunks.keys().next().value!);
    chunks.set(key, chunk);
    return chunk;
  } finally {
    if (fetching.get(key) === now) fetching.delete(key);
  }
}

/** Drops the ranks this isolate keeps, for tests. */
export function forgetRanks(): void {
  chunks.clear();
  fetching.clear();
}
