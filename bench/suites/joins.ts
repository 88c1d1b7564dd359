/**
 * 1. Joins per second into one shard, against a bare Durable Object in the same workerd.
 *
 * SHARDS=1, so every citizen lands in shard 0 of cohort 55-59; every request carries a new identity, so
 * each one creates a ticket (HMAC of the identity, zod, one RPC into the SQLite-backed QueueShard, an
 * HS256 ticket). ADMIT_PER_MINUTE is tiny so nobody is admitted and nothing but joining happens.
 * Baseline: bench/workers/bare-counter.js, a Worker that reads the body and calls a Durable Object that
 * only increments an in-memory counter, started in the same Miniflare/workerd and hit the same way.
 */
import { joinLoad } from "../lib/edge-client.js";
import { okPerSecond, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";

/** Nobody is admitted during a benchmark: the line only grows. */
export const NO_ADMISSIONS = { ADMIT_PER_MINUTE: "0.001" };

export const joins: Suite = {
  name: "joins",
  title: "Joins/s into one shard",
  async run(ctx) {
    const joinsPerSecond: number[] = [];
    const barePerSecond: number[] = [];
    const raw: Array<{ run: number; joins: LoadResult; bare: LoadResult }> = [];
    for (let run = 0; run < ctx.runs; run++) {
      const edge = await startEdge({ bundle: "edge", vars: { SHARDS: "1", ...NO_ADMISSIONS }, bareCounter: true });
      try {
        const load = (url: string, prefix: string, seconds: number) =>
          joinLoad(url, prefix, { connections: ctx.connections, durationSeconds: seconds });
        const measure = async (which: "joins" | "bare") => {
          const url = which === "joins" ? `${edge.url}/api/queue/join` : edge.bareUrl!;
          await load(url, `warm-${run}`, ctx.warmupSeconds);
          return load(url, `run-${run}`, ctx.seconds);
        };
        // Alternate the order, so neither side always runs on a warmer machine.
        const first = run % 2 === 0 ? "joins" : "bare";
        const a = await measure(first);
        const b = await measure(first === "joins" ? "bare" : "joins");
        const [j, bare] = first === "joins" ? [a, b] : [b, a];
        joinsPerSecond.push(okPerSecond(j));
        barePerSecond.push(okPerSecond(bare));
        raw.push({ run, joins: j, bare });
        ctx.log(`run ${run + 1}: ${okPerSecond(j).toFixed(0)} joins/s, bare DO ${okPerSecond(bare).toFixed(0)} req/s`);
      } finally {
        await edge.dispose();
      }
    }
    return {
      method:
        "workerd via Miniflare (the wrangler dry-run bundle of src/edge/index.ts), SHARDS=1, a fresh SQLite-backed QueueShard per run; " +
        "autocannon in a separate process POSTs /api/queue/join with a new identity per request. Baseline: a Worker in the same workerd " +
        "that reads the body and calls a Durable Object that only increments an in-memory counter. 2xx responses per second.",
      settings: { connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, shards: 1 },
      figures: [
        figure(
          "joins.one-shard",
          series("1. Joins/s into one shard", "/s", joinsPerSecond),
          series("bare DO counter, req/s", "/s", barePerSecond),
          "joins / bare DO",
        ),
      ],
      raw,
      notes: [],
    };
  },
};
