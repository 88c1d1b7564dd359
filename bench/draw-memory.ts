/**
 * `npx tsx bench/draw-memory.ts`: the memory an isolate keeps for a cohort's draw, as the status path keeps
 * it (each value's prefix, src/edge/prequeue/draw-prefixes.ts) against the full lists the public draw page
 * keeps, in the same run and process.
 *
 *   npx tsx bench/draw-memory.ts                          2,360,000 pre-queue tickets over 64 shards, 3 runs
 *   npx tsx bench/draw-memory.ts --tickets 500000 --shards 16 --runs 5
 *
 * Both caches are the real ones of src/edge/prequeue/published-draw.ts, filled through their real entry
 * points (cohortDrawPrefixes, cohortDraws) from a stand-in QueueShard namespace whose stubs answer `draw()`
 * and `drawPrefixes()` with a structured clone of a shard's list of random draw values (what an RPC's
 * answer is: a copy, every string its own), built by the shard's own code. Memory is V8's heap in use plus
 * the ArrayBuffers' backing stores (a Uint32Array's bytes are outside the heap), after a full GC, with the
 * cache filled minus with it empty. Node's V8 runs without pointer compression, which workerd's has, so a
 * full list's strings and array slots weigh a little more here; typed arrays weigh the same. It prints
 * figures and writes nothing.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { drawPrefixes } from "../src/edge/prequeue/draw-prefixes.js";
import { cohortDrawPrefixes, cohortDraws, forgetDraws } from "../src/edge/prequeue/published-draw.js";
import { parseShardName } from "../src/edge/queue/shard-name.js";
import type { ShardDraw } from "../src/edge/shard/prequeue.js";
import { median } from "./lib/stats.js";

const { values: args } = parseArgs({
  options: { tickets: { type: "string", default: "2360000" }, shards: { type: "string", default: "64" }, runs: { type: "string", default: "3" } },
});
const tickets = Number(args.tickets);
const shards = Number(args.shards);
const runs = Number(args.runs);
const COHORT = "55-59";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function inUse(): number {
  for (let i = 0; i < 3; i++) gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** A shard's placed draw: its share of the tickets, random 64-hex values, ascending. */
function placedDraw(shard: number): ShardDraw {
  const n = Math.floor(tickets / shards) + (shard < tickets % shards ? 1 : 0);
  const bytes = randomBytes(32 * n);
  const values = Array.from({ length: n }, (_, i) => bytes.toString("hex", 32 * i, 32 * i + 32)).sort();
  return { placedAt: 1, firstSeq: 1, values };
}

/** A QueueShard namespace whose objects answer only the draw's two RPCs, with copies as RPC gives. */
const env = {
  QUEUE_SHARD: {
    idFromName: (name: string) => name,
    get: (name: string) => {
      const shard = parseShardName(name)!.shard;
      return {
        draw: async () => structuredClone(placedDraw(shard)),
        drawPrefixes: async () => structuredClone(drawPrefixes(placedDraw(shard))),
      };
    },
  },
} as unknown as Env;

/** The bytes one form's cache holds for the whole cohort; nothing of the fill outlives the call but the cache. */
async function heldBy(form: "prefixes" | "full"): Promise<number> {
  forgetDraws();
  const empty = inUse();
  const held = form === "full" ? await fullValues() : await prefixValues();
  if (held !== tickets) throw new Error(`${form}: the cache holds ${held} values, not ${tickets}`);
  const bytes = inUse() - empty;
  forgetDraws();
  return bytes;
}

async function fullValues(): Promise<number> {
  return (await cohortDraws(env, COHORT, shards, Date.now())).reduce((sum, d) => sum + d.values.length, 0);
}

async function prefixValues(): Promise<number> {
  return (await cohortDrawPrefixes(env, COHORT, shards, Date.now())).reduce((sum, d) => sum + d.prefixes.length / 2, 0);
}

const prefixBytes: number[] = [];
const fullBytes: number[] = [];
for (let run = 0; run < runs; run++) {
  // Alternate which form goes first, so neither always meets the warmer heap.
  for (const form of run % 2 ? (["full", "prefixes"] as const) : (["prefixes", "full"] as const)) {
    const bytes = await heldBy(form);
    (form === "full" ? fullBytes : prefixBytes).push(bytes);
    console.log(`run ${run + 1} ${form}: ${(bytes / 2 ** 20).toFixed(1)} MiB (${(bytes / tickets).toFixed(1)} B a ticket)`);
  }
}

const mib = (values: number[]) => (median(values) / 2 ** 20).toFixed(1);
const range = (values: number[]) => `${(Math.min(...values) / 2 ** 20).toFixed(1)}–${(Math.max(...values) / 2 ** 20).toFixed(1)}`;
const ratios = prefixBytes.map((p, i) => fullBytes[i]! / p);
console.log(
  `${tickets.toLocaleString("en-US")} tickets over ${shards} shards, ${runs} runs (median, range): ` +
    `prefixes ${mib(prefixBytes)} MiB (${range(prefixBytes)}), full lists ${mib(fullBytes)} MiB (${range(fullBytes)}), ` +
    `full / prefixes ${median(ratios).toFixed(1)}× (${Math.min(...ratios).toFixed(1)}–${Math.max(...ratios).toFixed(1)}); Node ${process.version}`,
);
