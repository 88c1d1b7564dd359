/**
 * 7. Memory.
 *
 * a) Durable Object SQLite bytes per waiting ticket: the shard's `ctx.storage.sql.databaseSize` after N
 *    joins minus before any (the object created and migrated), divided by N. Baseline: the bytes of the
 *    ticket rows' own values (seq and joined_at as 8-byte integers, ticket id and citizen key as text),
 *    so the ratio is what indexes, the other columns and SQLite's pages add.
 * b) Edge isolate memory with 1,000 cached shard snapshots: the workerd isolate's V8 heap in use (read
 *    through its inspector after a full GC) with 1,000 snapshots put through the real `remember` of
 *    src/edge/queue/snapshot-cache.ts, minus with the cache empty. Baseline: the same 1,000 snapshot objects in a
 *    plain array. Also the isolate's whole heap with the cache full.
 */
import { Citizens, getJson, joinLoad } from "../lib/edge-client.js";
import { freePort, inspectIsolate } from "../lib/inspector.js";
import { shortfallNote } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import type { ShardProbe } from "../workers/edge-bench.js";
import { loadFlags, ONE_SHARD_NO_ADMISSIONS } from "./joins.js";

const SNAPSHOTS = 1_000;

async function probe(edgeUrl: string): Promise<ShardProbe> {
  const { shards } = (await getJson(`${edgeUrl}/__bench/shards?cohort=55-59&shards=1`)) as { shards: ShardProbe[] };
  return shards[0]!;
}

export const memory: Suite = {
  name: "memory",
  title: "Memory: SQLite bytes per ticket, isolate memory with 1,000 cached snapshots",
  async run(ctx) {
    const tickets = ctx.quick ? 1_000 : 5_000;
    const raw = await ctx.eachRun(async (run) => {
      const port = await freePort();
      const edge = await startEdge({ bundle: "edge-bench", vars: ONE_SHARD_NO_ADMISSIONS, inspectorPort: port });
      try {
        // b) first, while the isolate holds nothing but the app.
        await getJson(`${edge.url}/api/cohorts`);
        const inspector = await inspectIsolate(port, "edge");
        const heaps: Record<string, number> = {};
        try {
          for (const [step, kind] of [["empty", "clear"], ["cache", "cache"], ["empty-again", "clear"], ["plain", "plain"]] as const) {
            await getJson(`${edge.url}/__bench/snapshots?kind=${kind}&n=${SNAPSHOTS}`, { method: "POST" });
            heaps[step] = await inspector.heapUsedAfterGc();
          }
        } finally {
          inspector.close();
        }

        // a) the shard's SQLite database before and after `tickets` joins (load from a separate process),
        // one citizen per join: a request count bounds this load, so exactly `tickets` tokens (and its
        // duration, a bound only: the figure divides by the tickets the shard gained, however many).
        const bodies = await new Citizens().joinBodies(tickets);
        const before = await probe(edge.url);
        const load = await joinLoad(`${edge.url}/api/queue/join`, bodies, { connections: ctx.connections, durationSeconds: 120, amount: tickets });
        const after = await probe(edge.url);
        const added = after.tickets - before.tickets;
        ctx.log(
          `run ${run + 1}: ${((after.databaseSize - before.databaseSize) / added).toFixed(0)} SQLite bytes/ticket over ${added} tickets${loadFlags(load)}; ` +
            `snapshot cache ${((heaps.cache! - heaps.empty!) / 1024).toFixed(0)} KiB, plain ${((heaps.plain! - heaps["empty-again"]!) / 1024).toFixed(0)} KiB, isolate ${(heaps.cache! / 2 ** 20).toFixed(2)} MiB`,
        );
        return { run, heaps, sqlite: { before, after, added, joinsAnswered: load.ok }, load };
      } finally {
        await edge.dispose();
      }
    });
    const bytesPerTicket = raw.map((r) => (r.sqlite.after.databaseSize - r.sqlite.before.databaseSize) / r.sqlite.added);
    const rawBytesPerTicket = raw.map((r) => (r.sqlite.after.rawTicketBytes - r.sqlite.before.rawTicketBytes) / r.sqlite.added);
    const cacheBytes = raw.map((r) => r.heaps.cache! - r.heaps.empty!);
    const plainBytes = raw.map((r) => r.heaps.plain! - r.heaps["empty-again"]!);
    const isolateHeap = raw.map((r) => r.heaps.cache!);
    const isolateHeapEmpty = raw.map((r) => r.heaps.empty!);
    const cutShort = shortfallNote(raw.map((r) => ({ run: r.run, load: r.load })));
    const kib = (values: number[]) => values.map((v) => v / 1024);
    const mib = (values: number[]) => values.map((v) => v / 2 ** 20);
    return {
      method:
        `SQLite: the QueueShard's ctx.storage.sql.databaseSize (read by a probe RPC of bench/workers/edge-bench.ts) before and after ${tickets} joins ` +
        `into one shard through HTTP (autocannon, separate process; one citizen's id_token per join). Isolate: workerd's V8 heap in use for the edge isolate, read through its inspector ` +
        `(Runtime.getHeapUsage after the full GC of a heap snapshot), with ${SNAPSHOTS} snapshots put through src/edge/queue/snapshot-cache.ts's remember(), ` +
        "against the same snapshot objects held in a plain array.",
      settings: { tickets, snapshots: SNAPSHOTS },
      figures: [
        figure(
          "memory.sqlite-bytes-per-ticket",
          series("7. DO SQLite bytes per waiting ticket", "B", bytesPerTicket),
          series("the ticket row's own values", "B", rawBytesPerTicket),
          "SQLite / raw row",
          undefined,
          cutShort,
        ),
        figure(
          "memory.snapshot-cache",
          series(`7. Heap of ${SNAPSHOTS.toLocaleString("en-US")} cached shard snapshots (workerd isolate)`, "KiB", kib(cacheBytes)),
          series(`${SNAPSHOTS.toLocaleString("en-US")} snapshot objects in a plain array`, "KiB", kib(plainBytes)),
          "cache / plain",
        ),
        figure(
          "memory.isolate",
          series(`7. Edge isolate heap with ${SNAPSHOTS.toLocaleString("en-US")} cached snapshots`, "MiB", mib(isolateHeap)),
          series("same isolate, cache empty", "MiB", mib(isolateHeapEmpty)),
          "full / empty",
        ),
      ],
      raw,
      notes: [
        "The isolate heap is V8's used size as workerd's inspector reports it (Runtime.getHeapUsage); the Worker and its Durable Objects share that isolate locally.",
        "databaseSize counts whole SQLite pages, so a few thousand tickets are needed for a stable per-ticket figure.",
        ...(cutShort ? [`The ${tickets} joins of a run: ${cutShort}; bytes per ticket are over the tickets the shard gained.`] : []),
      ],
    };
  },
};
