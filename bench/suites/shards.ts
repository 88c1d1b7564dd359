/**
 * 3. Joins per second with 1, 2, 4 and 8 shards, against 1 shard in the same run.
 *
 * Each join carries a different citizen's id_token; citizen keys are HMACs, so joins spread evenly over the shards. On this machine
 * every shard's object lives in the one workerd process, whose JavaScript runs on one thread, so the
 * figure shows what sharding buys (or costs) when the objects share a core; on Cloudflare each object
 * may run on a different machine.
 *
 * The edge is the deployed bundle with wrangler.toml's bindings, so a cohort of several shards keeps one
 * line through its coordinator while the joins come in (each shard reports about once a second from its
 * alarm; no join waits for it). After the load one more citizen joins and polls: the people ahead are
 * counted cohort-wide only while the shards keep one line, so a run whose shards went alone fails. The
 * check is not timed: it runs after the measured load.
 */
import { queueStatus } from "../../src/contract/queue.js";
import { Citizens, getJson, joinLoad, joinMany } from "../lib/edge-client.js";
import { okPerSecond, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import { loadFlags, NO_ADMISSIONS, tally } from "./joins.js";

const SHARD_COUNTS = [1, 2, 4, 8] as const;

/** How long the check of one line waits for the coordinator to rank the last joins (it ranks a second once every shard reported it). */
const RANKING_WAIT_MS = 15_000;

/**
 * The people ahead of a citizen who joins after the loads, as its polls tell them, polled until the count
 * reaches `expected` or RANKING_WAIT_MS pass. With the cohort's shards keeping one line it reaches about
 * everyone who joined before, once the coordinator ranked them; a shard alone counts only its own line.
 */
async function aheadOfNextJoin(edgeUrl: string, citizens: Citizens, expected: number): Promise<{ ahead: number; afterMs: number }> {
  const [joined] = await joinMany(edgeUrl, await citizens.idTokens(1));
  const started = Date.now();
  for (;;) {
    const answer = await getJson(`${edgeUrl}/api/queue/status`, { headers: { authorization: `Bearer ${joined!.ticket}` } });
    const { ahead } = queueStatus.parse(answer);
    const afterMs = Date.now() - started;
    if (ahead >= expected || afterMs >= RANKING_WAIT_MS) return { ahead, afterMs };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export const shards: Suite = {
  name: "shards",
  title: "Joins/s with 1, 2, 4 and 8 shards",
  async run(ctx) {
    type Measured = { run: number; shards: number; joins: LoadResult; joinedBefore: number; nextJoin: { ahead: number; afterMs: number } };
    const runs = await ctx.eachRun(async (run) => {
      const measured: Measured[] = [];
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
          const warm = await load(warmBodies, ctx.warmupSeconds);
          const j = await load(runBodies, ctx.seconds);
          // Answered joins; those in flight when a load stops (up to one per connection) join too, uncounted.
          const joinedBefore = warm.ok + j.ok;
          // Alone, each of N ≥ 2 shards would count about 1/N of them: 3/4 can only be the cohort's one line.
          const expected = Math.floor(joinedBefore * 0.75);
          const next = await aheadOfNextJoin(edge.url, citizens, count > 1 ? expected : 0);
          if (next.ahead < expected) {
            throw new Error(`${count} shards: the next citizen is told ${next.ahead} ahead of ${joinedBefore} joined after ${next.afterMs} ms: the shards did not keep one line`);
          }
          measured.push({ run, shards: count, joins: j, joinedBefore, nextJoin: next });
          ctx.log(
            `run ${run + 1}: ${count} shard(s): ${okPerSecond(j).toFixed(0)} joins/s${loadFlags(j)}; the next citizen: ${next.ahead} ahead of ${joinedBefore} answered joins` +
              (count > 1 ? `, ${next.afterMs} ms after joining` : ""),
          );
        } finally {
          await edge.dispose();
        }
      }
      return measured;
    });
    const raw = runs.flat();
    // Joins/s per shard count, one value per run that succeeded, in the order of the runs.
    const perShards = new Map(SHARD_COUNTS.map((count) => [count, raw.filter((r) => r.shards === count).map((r) => okPerSecond(r.joins))]));
    const one = series("1 shard, same run", "/s", perShards.get(1)!);
    return {
      method:
        "workerd via Miniflare (the wrangler dry-run bundle of src/edge/index.ts), a fresh edge per shard count and run; " +
        "autocannon in a separate process POSTs /api/queue/join with a different citizen's RS256 id_token per request (minted beforehand, " +
        "verified at the edge; spread over the shards by the citizen-key hash). The edge binds wrangler.toml's objects, so several shards keep one line through " +
        `the cohort's coordinator during the load; after it one more citizen joins and polls (every 0.5 s, for up to ${RANKING_WAIT_MS / 1000} s while the coordinator ranks the last joins), ` +
        "and the people ahead must reach 3/4 of the joins answered (counted cohort-wide, as only one line counts them) or the run fails.",
      settings: { connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, shardCounts: SHARD_COUNTS, rankingWaitMs: RANKING_WAIT_MS },
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
