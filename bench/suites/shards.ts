/**
 * 3. Joins per second with 1, 2, 4 and 8 shards, against 1 shard in the same run.
 *
 * Each join carries a different citizen's id_token; citizen keys are HMACs, so joins spread evenly over the shards. On this machine
 * every shard's object lives in the one workerd process, whose JavaScript runs on one thread, so the
 * figure shows what sharding buys (or costs) when the objects share a core; on Cloudflare each object
 * may run on a different machine.
 */
import { Citizens, joinLoad } from "../lib/edge-client.js";
import { okPerSecond, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import { loadFlags, NO_ADMISSIONS, tally } from "./joins.js";

const SHARD_COUNTS = [1, 2, 4, 8] as const;

export const shards: Suite = {
  name: "shards",
  title: "Joins/s with 1, 2, 4 and 8 shards",
  async run(ctx) {
    const perShards = new Map<number, number[]>(SHARD_COUNTS.map((s) => [s, []]));
    const raw: Array<{ run: number; shards: number; joins: LoadResult }> = [];
    for (let run = 0; run < ctx.runs; run++) {
      // Rotate the order from run to run, so that no shard count always goes first.
      const order = SHARD_COUNTS.map((_, i) => SHARD_COUNTS[(i + run) % SHARD_COUNTS.length]!);
      for (const count of order) {
        const edge = await startEdge({ bundle: "edge", vars: { SHARDS: String(count), MAX_ACTIVE: "200", ...NO_ADMISSIONS } });
        try {
          const citizens = new Citizens();
          const warmBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
          const runBodies = await citizens.joinBodiesFor(ctx.seconds);
          const load = (bodies: string[], seconds: number) =>
            joinLoad(`${edge.url}/api/queue/join`, bodies, { connections: ctx.connections, durationSeconds: seconds });
          await load(warmBodies, ctx.warmupSeconds);
          const j = await load(runBodies, ctx.seconds);
          perShards.get(count)!.push(okPerSecond(j));
          raw.push({ run, shards: count, joins: j });
          ctx.log(`run ${run + 1}: ${count} shard(s): ${okPerSecond(j).toFixed(0)} joins/s${loadFlags(j)}`);
        } finally {
          await edge.dispose();
        }
      }
    }
    const one = series("1 shard, same run", "/s", perShards.get(1)!);
    return {
      method:
        "workerd via Miniflare (the wrangler dry-run bundle of src/edge/index.ts), a fresh edge per shard count and run; " +
        "autocannon in a separate process POSTs /api/queue/join with a different citizen's RS256 id_token per request (minted beforehand, " +
        "verified at the edge; spread over the shards by the citizen-key hash).",
      settings: { connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, shardCounts: SHARD_COUNTS },
      figures: SHARD_COUNTS.map((count) =>
        figure(`shards.${count}`, series(`3. Joins/s, ${count} shard${count > 1 ? "s" : ""}`, "/s", perShards.get(count)!), one, `${count} / 1 shard`),
      ),
      raw,
      notes: [
        tally(raw.map((r) => r.joins)),
        "All shards' Durable Objects run in the one local workerd process; the scaling seen here is bounded by its one JavaScript thread and the machine's 2 cores.",
      ],
    };
  },
};
