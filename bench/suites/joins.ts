/**
 * 1. Joins per second into one shard, against a bare Durable Object in the same workerd; and, in the same
 * run, what a join costs besides throughput (issue 10): p50/p99 latency at 32 and at 64 connections, the
 * workerd process's CPU time per join, and the fsyncs per join.
 *
 * SHARDS=1, so every citizen lands in shard 0 of cohort 55-59, a cohort of one shard that is its own line
 * and never calls its coordinator: the figures compare with every earlier run (several shards keeping one
 * line are figures 2 and 3). Every request carries the id_token of a citizen not seen before on that edge
 * (minted beforehand by the bench's identity provider), so each one is a whole join: zod, the RS256
 * id_token verified by jose against the inline JWKS, the per-citizen join limit, the citizen-key HMAC, one
 * RPC into the SQLite-backed QueueShard, an HS256 ticket.
 * ADMIT_PER_MINUTE is tiny so nobody is admitted and nothing but joining happens.
 * Baseline: bench/workers/bare-counter.js, a Worker that reads the body and calls a Durable Object that
 * only increments an in-memory counter, started in the same Miniflare/workerd and sent the very same
 * bodies (same tokens, same sizes).
 *
 * CPU is workerd's user + system time (all threads, /proc/<pid>/stat) across the measured load, divided by
 * the 2xx answers of that load: everything workerd does for a join, the HTTP parsing, the identity check
 * and SQLite included, and nothing of the load generator's. fsyncs are counted by `strace -c -f` attached
 * to workerd for a separate, shorter load of fresh joins: ptrace stops every system call of the traced
 * threads, so a traced load is slower and is used for nothing else.
 */
import { Citizens, joinLoad } from "../lib/edge-client.js";
import { okPerSecond, rateLimited, shortfall, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import { cpuSeconds, traceSyncs, workerdPid } from "../lib/workerd-process.js";

/** What a load should never show: 429s (a rate limit hit), a token sent twice, a count cut short by its time bound; "" when clean. */
export function loadFlags(r: LoadResult): string {
  const flags = [
    shortfall(r) ?? "",
    rateLimited(r) > 0 ? `${rateLimited(r)} answered 429` : "",
    r.bodies && r.bodies.reused > 0 ? `${r.bodies.reused} requests reused a token` : "",
    r.non2xx - rateLimited(r) > 0 ? `${r.non2xx - rateLimited(r)} other non-2xx` : "",
    r.errors > 0 ? `${r.errors} errors (${r.timeouts} timeouts)` : "",
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

/** Figure 1's line, which the peer suite, the memory suite and bench/dissect.ts measure too: one shard, nobody admitted. */
export const ONE_SHARD_NO_ADMISSIONS = { SHARDS: "1", ...NO_ADMISSIONS };

/** Issue 29's targets for the join path (issue 10's were 0.6×, 60 ms and 0.5 ms). */
export const JOIN_TARGETS = { ratioToBare: 0.7, p99At32Ms: 60, cpuPerJoinMs: 0.4 };

/** Seconds of the strace-counted load (it runs slower under ptrace and counts calls, not time). */
const TRACED_SECONDS = 2;

interface Measured {
  load: LoadResult;
  /** workerd CPU seconds used during the load. */
  cpuSeconds: number;
}

export interface JoinsRun {
  run: number;
  workerdPid: number;
  joins: LoadResult;
  bare: LoadResult;
  joins64: LoadResult;
  /** The same 32-connection loads on the Workers' own sockets, past Miniflare's entry Worker (`Edge.directUrl`). */
  direct: { joins: LoadResult; bare: LoadResult; msPerJoin: number; msPerBare: number };
  cpu: { joinsSeconds: number; bareSeconds: number; joins64Seconds: number; msPerJoin: number; msPerBare: number; msPerJoin64: number };
  syncs: { joins: number; fsync: number; fdatasync: number; perJoin: number } | { notMeasured: string };
}

export const joins: Suite = {
  name: "joins",
  title: "Joins/s into one shard",
  async run(ctx) {
    const raw = await ctx.eachRun(async (run): Promise<JoinsRun> => {
      const edge = await startEdge({ bundle: "edge", vars: ONE_SHARD_NO_ADMISSIONS, bareCounter: true, direct: true });
      try {
        const pid = workerdPid();
        if (pid === undefined) throw new Error("no workerd process found under this bench process");
        // Minted before any load (not measured); the bare counter gets the same bodies as the 32-connection joins.
        const citizens = new Citizens();
        const warmBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
        const runBodies = await citizens.joinBodiesFor(ctx.seconds);
        const warm64Bodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
        const run64Bodies = await citizens.joinBodiesFor(ctx.seconds);
        const warmDirectBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
        const runDirectBodies = await citizens.joinBodiesFor(ctx.seconds);
        const tracedBodies = await citizens.joinBodiesFor(TRACED_SECONDS);
        const measure = async (url: string, warm: string[], bodies: string[], connections: number): Promise<Measured> => {
          await joinLoad(url, warm, { connections, durationSeconds: ctx.warmupSeconds });
          const before = cpuSeconds(pid);
          const load = await joinLoad(url, bodies, { connections, durationSeconds: ctx.seconds });
          return { load, cpuSeconds: cpuSeconds(pid) - before };
        };
        const joinUrl = `${edge.url}/api/queue/join`;
        // Alternate the order, so neither side always runs on a warmer machine.
        const first = run % 2 === 0 ? "joins" : "bare";
        const side = (which: "joins" | "bare") => measure(which === "joins" ? joinUrl : edge.bareUrl!, warmBodies, runBodies, ctx.connections);
        const a = await side(first);
        const b = await side(first === "joins" ? "bare" : "joins");
        const [j, bare] = first === "joins" ? [a, b] : [b, a];
        const j64 = await measure(joinUrl, warm64Bodies, run64Bodies, ctx.connections * 2);
        // Straight to each Worker, the order alternating as above; the bare side is sent the same bodies as before.
        const directSide = (which: "joins" | "bare") =>
          which === "joins"
            ? measure(`${edge.directUrl!}/api/queue/join`, warmDirectBodies, runDirectBodies, ctx.connections)
            : measure(edge.bareDirectUrl!, warmBodies, runBodies, ctx.connections);
        const da = await directSide(first);
        const db = await directSide(first === "joins" ? "bare" : "joins");
        const [dj, dbare] = first === "joins" ? [da, db] : [db, da];

        const trace = await traceSyncs(pid);
        let syncs: JoinsRun["syncs"];
        if ("notMeasured" in trace) syncs = trace;
        else {
          const traced = await joinLoad(joinUrl, tracedBodies, { connections: ctx.connections, durationSeconds: TRACED_SECONDS });
          const counted = await trace.stop();
          syncs = "notMeasured" in counted
            ? counted
            : { joins: traced.ok, ...counted, perJoin: traced.ok > 0 ? (counted.fsync + counted.fdatasync) / traced.ok : NaN };
        }
        const per = (m: Measured) => (m.load.ok > 0 ? (m.cpuSeconds * 1000) / m.load.ok : NaN);
        const measured: JoinsRun = {
          run,
          workerdPid: pid,
          joins: j.load,
          bare: bare.load,
          joins64: j64.load,
          direct: { joins: dj.load, bare: dbare.load, msPerJoin: per(dj), msPerBare: per(dbare) },
          cpu: { joinsSeconds: j.cpuSeconds, bareSeconds: bare.cpuSeconds, joins64Seconds: j64.cpuSeconds, msPerJoin: per(j), msPerBare: per(bare), msPerJoin64: per(j64) },
          syncs,
        };
        ctx.log(
          `run ${run + 1}: ${okPerSecond(j.load).toFixed(0)} joins/s${loadFlags(j.load)}, bare DO ${okPerSecond(bare.load).toFixed(0)} req/s; ` +
            `p50/p99 ${j.load.latencyMs.p50}/${j.load.latencyMs.p99} ms at ${ctx.connections}, ${j64.load.latencyMs.p50}/${j64.load.latencyMs.p99} ms at ${ctx.connections * 2}${loadFlags(j64.load)}; ` +
            `CPU ${per(j).toFixed(3)} ms/join (bare ${per(bare).toFixed(3)} ms/req); ` +
            `straight to the Workers ${okPerSecond(dj.load).toFixed(0)} joins/s${loadFlags(dj.load)} against ${okPerSecond(dbare.load).toFixed(0)}, CPU ${per(dj).toFixed(3)} ms/join (bare ${per(dbare).toFixed(3)}); ` +
            ("notMeasured" in syncs ? `fsyncs not measured: ${syncs.notMeasured}` : `${syncs.fsync} fsync + ${syncs.fdatasync} fdatasync for ${syncs.joins} joins`),
        );
        return measured;
      } finally {
        await edge.dispose();
      }
    });
    const c = ctx.connections;
    const joinsPerSecond = raw.map((r) => okPerSecond(r.joins));
    const barePerSecond = raw.map((r) => okPerSecond(r.bare));
    const syncsPerJoin = raw.map((r) => ("notMeasured" in r.syncs ? NaN : r.syncs.perJoin));
    const notMeasured = raw.map((r) => ("notMeasured" in r.syncs ? r.syncs.notMeasured : "")).find(Boolean);
    return {
      method:
        "workerd via Miniflare (the wrangler dry-run bundle of src/edge/index.ts), SHARDS=1, a fresh SQLite-backed QueueShard per run; " +
        "autocannon in a separate process POSTs /api/queue/join with a different citizen's RS256 id_token per request (minted beforehand " +
        "by the bench's identity provider, whose JWKS is the edge's IDP_JWKS; verified at the edge). Baseline: a Worker in the same workerd " +
        "that reads the body and calls a Durable Object that only increments an in-memory counter, sent the same bodies. 2xx responses per second. " +
        `Latency: autocannon's p50/p99 of the same ${c}-connection load, and of a load of fresh joins at ${c * 2} connections on the same edge. ` +
        "CPU per join: workerd's utime+stime (/proc/<pid>/stat, all threads) across the measured load / its 2xx answers. " +
        "Straight to the Workers: the same 32-connection loads (fresh tokens for the joins) on a socket of each Worker's own " +
        "(Miniflare's unsafeDirectSockets), which reaches the Worker without Miniflare's entry Worker, as a deployed Worker is reached; " +
        "the entry Worker's CPU per request is the bare request's CPU through it less straight, run by run. " +
        `fsyncs per join: strace -c -f -e trace=fsync,fdatasync attached to workerd for a separate ${TRACED_SECONDS} s load of fresh joins, (fsync+fdatasync) / its 2xx answers.`,
      settings: { connections: c, connections64: c * 2, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, tracedSeconds: TRACED_SECONDS, shards: 1, targets: JOIN_TARGETS },
      figures: [
        figure(
          "joins.one-shard",
          series("1. Joins/s into one shard", "/s", joinsPerSecond),
          series("bare DO counter, req/s", "/s", barePerSecond),
          "joins / bare DO",
          { text: `≥ ${JOIN_TARGETS.ratioToBare}× bare`, met: (f) => f.ratio.median >= JOIN_TARGETS.ratioToBare },
        ),
        figure(
          "joins.p50-32",
          series(`1. Join latency p50, ${c} connections`, "ms", raw.map((r) => r.joins.latencyMs.p50)),
          series(`bare DO counter p50, ${c} connections`, "ms", raw.map((r) => r.bare.latencyMs.p50)),
          "join / bare",
        ),
        figure(
          "joins.p99-32",
          series(`1. Join latency p99, ${c} connections`, "ms", raw.map((r) => r.joins.latencyMs.p99)),
          series(`bare DO counter p99, ${c} connections`, "ms", raw.map((r) => r.bare.latencyMs.p99)),
          "join / bare",
          { text: `p99 ≤ ${JOIN_TARGETS.p99At32Ms} ms`, met: (f) => f.value.median <= JOIN_TARGETS.p99At32Ms },
        ),
        figure(
          "joins.p50-64",
          series(`1. Join latency p50, ${c * 2} connections`, "ms", raw.map((r) => r.joins64.latencyMs.p50)),
          series(`join p50 at ${c} connections, same run`, "ms", raw.map((r) => r.joins.latencyMs.p50)),
          `${c * 2} / ${c} connections`,
        ),
        figure(
          "joins.p99-64",
          series(`1. Join latency p99, ${c * 2} connections`, "ms", raw.map((r) => r.joins64.latencyMs.p99)),
          series(`join p99 at ${c} connections, same run`, "ms", raw.map((r) => r.joins.latencyMs.p99)),
          `${c * 2} / ${c} connections`,
        ),
        figure(
          "joins.cpu-per-join",
          series("1. workerd CPU per join (user+sys)", "ms", raw.map((r) => r.cpu.msPerJoin)),
          series("workerd CPU per bare DO request", "ms", raw.map((r) => r.cpu.msPerBare)),
          "join / bare",
          { text: `≤ ${JOIN_TARGETS.cpuPerJoinMs} ms`, met: (f) => f.value.median <= JOIN_TARGETS.cpuPerJoinMs },
        ),
        figure(
          "joins.direct",
          series("1. Joins/s into one shard, straight to the Worker", "/s", raw.map((r) => okPerSecond(r.direct.joins))),
          series("bare DO counter straight to its Worker, req/s", "/s", raw.map((r) => okPerSecond(r.direct.bare))),
          "joins / bare DO",
          { text: `≥ ${JOIN_TARGETS.ratioToBare}× bare`, met: (f) => f.ratio.median >= JOIN_TARGETS.ratioToBare },
        ),
        figure(
          "joins.direct-p99-32",
          series(`1. Join latency p99, ${c} connections, straight to the Worker`, "ms", raw.map((r) => r.direct.joins.latencyMs.p99)),
          series(`bare DO counter p99, ${c} connections, straight`, "ms", raw.map((r) => r.direct.bare.latencyMs.p99)),
          "join / bare",
          { text: `p99 ≤ ${JOIN_TARGETS.p99At32Ms} ms`, met: (f) => f.value.median <= JOIN_TARGETS.p99At32Ms },
        ),
        figure(
          "joins.direct-cpu-per-join",
          series("1. workerd CPU per join, straight to the Worker", "ms", raw.map((r) => r.direct.msPerJoin)),
          series("workerd CPU per bare DO request, straight", "ms", raw.map((r) => r.direct.msPerBare)),
          "join / bare",
          { text: `≤ ${JOIN_TARGETS.cpuPerJoinMs} ms`, met: (f) => f.value.median <= JOIN_TARGETS.cpuPerJoinMs },
        ),
        figure(
          "joins.entry-worker-cpu",
          series("1. Miniflare's entry Worker, CPU per request", "ms", raw.map((r) => r.cpu.msPerBare - r.direct.msPerBare)),
          series("workerd CPU per bare DO request through it", "ms", raw.map((r) => r.cpu.msPerBare)),
          "share of the bare request",
        ),
        figure(
          "joins.fsyncs-per-join",
          series(`1. fsyncs per join${notMeasured ? ` (not measured: ${notMeasured})` : ""}`, "fsyncs", syncsPerJoin),
          series("one fsync per join", "fsyncs", syncsPerJoin.map(() => 1)),
          "fsyncs / one per join",
        ),
      ],
      raw,
      notes: [
        tally(raw.flatMap((r) => [r.joins, r.joins64, r.direct.joins])),
        `CPU is workerd's alone (the load generator is a separate process); the machine's other work does not count in it, but a busy machine still slows what it measures (caches, scheduling).`,
        notMeasured ? `fsyncs per join: not measured (${notMeasured}).` : "fsyncs per join come from a separate strace-traced load, not the timed one.",
      ],
    };
  },
};
