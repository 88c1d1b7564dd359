/**
 * 2. Status polls per second for waiting tickets, against joins per second on the same edge, and the
 * Durable Object calls each poll costs (design invariant 7: polls are answered from the ticket and a
 * per-shard snapshot cached 1 s, so the object sees about one call per shard per second).
 *
 * Per run: a fresh edge (bench/workers/edge-bench.ts: the same app plus a read-only probe of the
 * object's own RPC counters), SHARDS=1, nobody admitted; a few thousand citizens join first (not
 * measured); then autocannon polls GET /api/queue/status with `Authorization: Bearer <ticket>`, a
 * different waiting ticket each request; then joins are measured on the same edge for the ratio.
 */
import { getJson, joinLoad, joinMany } from "../lib/edge-client.js";
import { okPerSecond, runLoad, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import type { ShardProbe } from "../workers/edge-bench.js";
import { NO_ADMISSIONS } from "./joins.js";

async function shardCalls(edgeUrl: string): Promise<number> {
  const { shards } = (await getJson(`${edgeUrl}/__bench/shards?cohort=55-59&shards=1`)) as { shards: ShardProbe[] };
  return shards.reduce((sum, s) => sum + s.calls.join + s.calls.snapshot + s.calls.claim + s.calls.complete, 0);
}

export const polls: Suite = {
  name: "polls",
  title: "Status polls/s for waiting tickets",
  async run(ctx) {
    const tickets = ctx.quick ? 500 : 2_000;
    const pollsPerSecond: number[] = [];
    const joinsPerSecond: number[] = [];
    const callsPerPoll: number[] = [];
    const raw: Array<{ run: number; polls: LoadResult; joins: LoadResult; objectCallsDuringPolls: number }> = [];
    for (let run = 0; run < ctx.runs; run++) {
      const edge = await startEdge({ bundle: "edge-bench", vars: { SHARDS: "1", ...NO_ADMISSIONS } });
      try {
        const joined = await joinMany(edge.url, `citizen-${run}`, tickets);
        const waiting = joined.filter((t) => t.state === "waiting").map((t) => t.ticket);
        if (waiting.length < tickets * 0.99) throw new Error(`only ${waiting.length} of ${tickets} tickets are waiting`);
        const poll = (seconds: number) =>
          runLoad({
            url: `${edge.url}/api/queue/status`,
            method: "GET",
            headers: { authorization: "Bearer {{v}}" },
            values: waiting,
            connections: ctx.connections,
            durationSeconds: seconds,
            timeoutSeconds: 10,
          });
        await poll(ctx.warmupSeconds);
        const callsBefore = await shardCalls(edge.url);
        const p = await poll(ctx.seconds);
        const callsDuring = (await shardCalls(edge.url)) - callsBefore;
        const joins = (prefix: string, seconds: number) =>
          joinLoad(`${edge.url}/api/queue/join`, prefix, { connections: ctx.connections, durationSeconds: seconds });
        await joins(`warm-${run}`, ctx.warmupSeconds);
        const j = await joins(`run-${run}`, ctx.seconds);
        pollsPerSecond.push(okPerSecond(p));
        joinsPerSecond.push(okPerSecond(j));
        callsPerPoll.push(p.ok > 0 ? callsDuring / p.ok : NaN);
        raw.push({ run, polls: p, joins: j, objectCallsDuringPolls: callsDuring });
        ctx.log(`run ${run + 1}: ${okPerSecond(p).toFixed(0)} polls/s, ${okPerSecond(j).toFixed(0)} joins/s, ${callsDuring} object calls in ${p.ok} polls`);
      } finally {
        await edge.dispose();
      }
    }
    const pollsFigure = figure(
      "polls.waiting",
      series("2. Status polls/s (waiting tickets)", "/s", pollsPerSecond),
      series("joins/s, same edge", "/s", joinsPerSecond),
      "polls / joins",
    );
    // The baseline of "calls per poll" is the naive design: every poll asks its object (1 call per poll).
    const calls = figure(
      "polls.object-calls-per-poll",
      series("2. Durable Object calls per poll", "calls", callsPerPoll),
      series("one call per poll (no snapshot cache)", "calls", callsPerPoll.map(() => 1)),
      "calls / naive",
      { text: "< 0.01", met: (f) => f.value.median < 0.01 },
    );
    return {
      method:
        `workerd via Miniflare (bench/workers/edge-bench.ts: src/edge's app and QueueShard plus a read-only probe), SHARDS=1, nobody admitted; ` +
        `${tickets} citizens join first, then autocannon polls GET /api/queue/status with a different waiting ticket (Bearer) per request, ` +
        "then joins are measured on the same edge. Object calls = the QueueShard's own RPC counters (join+snapshot+claim+complete) " +
        "read before and after the poll load.",
      settings: { connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, shards: 1, tickets },
      figures: [pollsFigure, calls],
      raw,
      notes: [
        "Object calls count RPC calls only; the shard's 1 s alarm (which moves the line while people wait) runs whatever the polls do and is not a call.",
      ],
    };
  },
};
