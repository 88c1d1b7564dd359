/**
 * 1. Joins per second into one shard, against a bare Durable Object in the same workerd.
 *
 * SHARDS=1, so every citizen lands in shard 0 of cohort 55-59; every request carries the id_token of a
 * citizen not seen before on that edge (minted beforehand by the bench's identity provider), so each one
 * is a whole join: zod, the RS256 id_token verified by jose against the inline JWKS, the per-citizen
 * join limit, the citizen-key HMAC, one RPC into the SQLite-backed QueueShard, an HS256 ticket.
 * ADMIT_PER_MINUTE is tiny so nobody is admitted and nothing but joining happens.
 * Baseline: bench/workers/bare-counter.js, a Worker that reads the body and calls a Durable Object that
 * only increments an in-memory counter, started in the same Miniflare/workerd and sent the very same
 * bodies (same tokens, same sizes).
 */
import { Citizens, joinLoad } from "../lib/edge-client.js";
import { okPerSecond, rateLimited, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";

/** What a join load should never show: 429s (a rate limit hit) or a token sent twice; "" when clean. */
export function loadFlags(r: LoadResult): string {
  const flags = [
    rateLimited(r) > 0 ? `${rateLimited(r)} answered 429` : "",
    r.bodies && r.bodies.reused > 0 ? `${r.bodies.reused} requests reused a token` : "",
    r.non2xx - rateLimited(r) > 0 ? `${r.non2xx - rateLimited(r)} other non-2xx` : "",
  ].filter(Boolean);
  return flags.length ? ` (${flags.join(", ")})` : "";
}

/** A note for the results: 429s and reused tokens over the measured join loads of every run. */
export function tally(loads: LoadResult[]): string {
  const limited = loads.reduce((a, r) => a + rateLimited(r), 0);
  const reused = loads.reduce((a, r) => a + (r.bodies?.reused ?? 0), 0);
  const requests = loads.reduce((a, r) => a + r.requests, 0);
  return `Measured join loads: ${requests} requests, ${limited} answered 429 (rate limited), ${reused} sent a token already used on that edge.`;
}

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
        // Minted before any load (not measured); the bare counter gets the same bodies.
        const citizens = new Citizens();
        const warmBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
        const runBodies = await citizens.joinBodiesFor(ctx.seconds);
        const load = (url: string, bodies: string[], seconds: number) =>
          joinLoad(url, bodies, { connections: ctx.connections, durationSeconds: seconds });
        const measure = async (which: "joins" | "bare") => {
          const url = which === "joins" ? `${edge.url}/api/queue/join` : edge.bareUrl!;
          await load(url, warmBodies, ctx.warmupSeconds);
          return load(url, runBodies, ctx.seconds);
        };
        // Alternate the order, so neither side always runs on a warmer machine.
        const first = run % 2 === 0 ? "joins" : "bare";
        const a = await measure(first);
        const b = await measure(first === "joins" ? "bare" : "joins");
        const [j, bare] = first === "joins" ? [a, b] : [b, a];
        joinsPerSecond.push(okPerSecond(j));
        barePerSecond.push(okPerSecond(bare));
        raw.push({ run, joins: j, bare });
        ctx.log(`run ${run + 1}: ${okPerSecond(j).toFixed(0)} joins/s, bare DO ${okPerSecond(bare).toFixed(0)} req/s${loadFlags(j)}`);
      } finally {
        await edge.dispose();
      }
    }
    return {
      method:
        "workerd via Miniflare (the wrangler dry-run bundle of src/edge/index.ts), SHARDS=1, a fresh SQLite-backed QueueShard per run; " +
        "autocannon in a separate process POSTs /api/queue/join with a different citizen's RS256 id_token per request (minted beforehand " +
        "by the bench's identity provider, whose JWKS is the edge's IDP_JWKS; verified at the edge). Baseline: a Worker in the same workerd " +
        "that reads the body and calls a Durable Object that only increments an in-memory counter, sent the same bodies. 2xx responses per second.",
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
      notes: [tally(raw.map((r) => r.joins))],
    };
  },
};
