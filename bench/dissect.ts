/**
 * `npx tsx bench/dissect.ts`: what each piece of a join or of a status poll costs in workerd, in CPU microseconds, measured
 * the way `npm run bench -- joins` measures a join (workerd's own CPU time over a load of join bodies from
 * a separate process) and against the bare counter's request in the same workerd and the same round.
 *
 *   npx tsx bench/dissect.ts                      every piece, 5 rounds of 5-second loads
 *   npx tsx bench/dissect.ts rs256 identity       some pieces (their baselines come along)
 *   npx tsx bench/dissect.ts --rounds 9 --seconds 8
 *
 * A piece (bench/workers/pieces.ts) does the bare counter's request plus its own work `times` times over,
 * so the cost of one time is (piece − its baseline) / times, computed round by round; the median of the
 * rounds is printed with their range. Pieces run in a different order each round, so neither end of a
 * round is always the warmer. It prints figures and writes nothing: a tool for deciding where to look,
 * not a figure of the summary, which only `npm run bench` writes.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Citizens, joinLoad } from "./lib/edge-client.js";
import { okPerSecond } from "./lib/load.js";
import { machine } from "./lib/machine.js";
import { machineLine } from "./lib/report.js";
import { median } from "./lib/stats.js";
import { removeBundles, startEdge } from "./lib/miniflare.js";
import { cleanupAll } from "./lib/processes.js";
import { cpuSeconds, workerdPid } from "./lib/workerd-process.js";
import { ONE_SHARD_NO_ADMISSIONS } from "./suites/joins.js";

interface PieceSpec {
  name: string;
  /** How many times the request does the piece's work. */
  times: number;
  /** The piece the cost is measured against. */
  baseline: string;
  what: string;
}

const PIECES: PieceSpec[] = [
  { name: "bare", times: 1, baseline: "bare", what: "the bare counter's request: body, one RPC, a JSON answer" },
  { name: "join-answer", times: 1, baseline: "bare", what: "the same request answered as a join is: three Set-Cookie headers, no-store, about 1 KB of JSON" },
  { name: "hono", times: 1, baseline: "bare", what: "the same request through a Hono app shaped as the edge's (two middlewares, a mounted route, two headers, c.json)" },
  { name: "rpc", times: 10, baseline: "bare", what: "one more RPC into a Durable Object, awaited, answered with a number" },
  { name: "result", times: 10, baseline: "rpc", what: "an RPC answered with a join's result (ticket id, seq, counters snapshot) instead of a number" },
  { name: "result-json", times: 10, baseline: "rpc", what: "the same result sent as JSON text and parsed by the caller (QueueShard's joinJson)" },
  { name: "rpc-batch", times: 10, baseline: "bare", what: "one of 10 concurrent RPCs answered from memory" },
  { name: "commit", times: 10, baseline: "rpc-batch", what: "a join written by the group commit (an INSERT in the batch's transactionSync) instead of answered from memory" },
  { name: "commit-rows", times: 10, baseline: "rpc-batch", what: "the same, the batch's rows written in multi-row INSERTs of up to 20" },
  { name: "shard-join", times: 10, baseline: "rpc-batch", what: "a join into the edge's QueueShard (10 concurrent, distinct citizens), its result an object, instead of an RPC answered from memory" },
  { name: "shard-join-json", times: 10, baseline: "rpc-batch", what: "the same joins, their results sent as JSON text (joinJson) and parsed" },
  { name: "identity", times: 10, baseline: "bare", what: "the edge's id_token check (verifyIdToken: the direct RS256 check, claims, schema)" },
  { name: "identity-jose", times: 10, baseline: "bare", what: "the same check through jose's jwtVerify, as verifyIdToken made it before issue 29" },
  { name: "rs256", times: 10, baseline: "bare", what: "the RS256 signature alone (WebCrypto, key imported once)" },
  { name: "claims", times: 100, baseline: "bare", what: "the id_token claims schema (zod) alone" },
  { name: "citizen-key", times: 20, baseline: "bare", what: "the citizen key (HMAC-SHA256, WebCrypto)" },
  { name: "join-limit", times: 10, baseline: "bare", what: "the join limit (JOIN_LIMIT.limit, workerd's local simulation of the rate-limiting binding)" },
  { name: "ticket", times: 20, baseline: "bare", what: "signing a queue ticket (JSON, base64url, HMAC-SHA256)" },
  // A status poll's pieces: the whole route, then its ticket check, its limit and its answer.
  { name: "poll-route", times: 10, baseline: "bare", what: "a poll through the edge's app in-process (GET /api/queue/status, Bearer ticket, waiting, 1 shard): the route without HTTP" },
  { name: "poll-handler", times: 10, baseline: "bare", what: "the same poll handed straight to the status route's function (queueStatus), without the app around it" },
  { name: "poll-shell", times: 10, baseline: "bare", what: "poll-handler's loop without the route: a poll Request built in-process, a status-shaped answer made and read (poll-handler less this is the route's own work)" },
  { name: "ticket-verify", times: 20, baseline: "bare", what: "a poll's ticket check (verifyTicket), of a ticket the isolate has verified before" },
  { name: "ticket-verify-full", times: 20, baseline: "bare", what: "the same check made in full, as of a ticket not seen before (HS256, claims, ticket schema)" },
  { name: "ticket-verify-jose", times: 20, baseline: "bare", what: "the same check through jose's jwtVerify, as verifyTicket made it before issue 29" },
  { name: "hs256", times: 20, baseline: "bare", what: "the ticket's HMAC-SHA256 alone (WebCrypto, the isolate's key)" },
  { name: "ticket-claims", times: 100, baseline: "bare", what: "the ticket claims schema (zod) alone" },
  { name: "poll-limit", times: 10, baseline: "bare", what: "the poll limit (POLL_LIMIT.limit, workerd's local simulation), a different ticket each time" },
  { name: "poll-status", times: 20, baseline: "bare", what: "a waiting ticket's status from the cached snapshot (ticketStatus, 1 shard)" },
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: "string", default: "5" }, seconds: { type: "string", default: "5" } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
if (!(rounds >= 1 && seconds >= 1)) throw new Error("--rounds and --seconds must be at least 1");
const unknown = positionals.filter((name) => !PIECES.some((p) => p.name === name));
if (unknown.length > 0) throw new Error(`no such piece: ${unknown.join(", ")}; pieces: ${PIECES.map((p) => p.name).join(", ")}`);

/** The pieces asked for and every baseline they are measured against, in the table's order. */
function withBaselines(names: string[]): PieceSpec[] {
  const wanted = new Set<string>();
  const want = (name: string): void => {
    if (wanted.has(name)) return;
    wanted.add(name);
    want(PIECES.find((p) => p.name === name)!.baseline);
  };
  (names.length > 0 ? names : PIECES.map((p) => p.name)).forEach(want);
  return PIECES.filter((p) => wanted.has(p.name));
}

const pieces = withBaselines(positionals);
console.log(`dissect: ${pieces.map((p) => p.name).join(", ")}; ${rounds} round(s) of ${seconds} s, 32 connections`);
console.log(`machine: ${machineLine(machine())}; load average ${loadavg()[0]!.toFixed(2)}`);
// Figure 1's line (`npm run bench -- joins`), a cohort of one shard, which keeps its line alone. The
// bundle's Durable Object bindings are its wrangler.pieces.toml's, the coordinator's included, as the edge has it.
const edge = await startEdge({ bundle: "pieces", vars: ONE_SHARD_NO_ADMISSIONS });
try {
  const pid = workerdPid();
  if (pid === undefined) throw new Error("no workerd process found under this process");
  // One pool of join bodies for every load: no piece keeps a citizen's state, so reusing them is fair,
  // and minting a fresh pool per load would take longer than the loads.
  const bodies = await new Citizens().joinBodiesFor(seconds);
  // CPU microseconds per request, by piece, one entry per round.
  const perRequest = new Map<string, number[]>(pieces.map((p) => [p.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? pieces : [...pieces].reverse();
    for (const piece of order) {
      const url = `${edge.url}/piece/${piece.name}?times=${piece.times}`;
      await joinLoad(url, bodies, { connections: 32, durationSeconds: 1 });
      const before = cpuSeconds(pid);
      const load = await joinLoad(url, bodies, { connections: 32, durationSeconds: seconds });
      const cpu = cpuSeconds(pid) - before;
      if (load.non2xx > 0 || load.errors > 0) throw new Error(`${piece.name}: ${load.non2xx} non-2xx and ${load.errors} errors in ${load.requests} requests`);
      const microseconds = (cpu * 1e6) / load.ok;
      perRequest.get(piece.name)!.push(microseconds);
      console.log(`  round ${round + 1} ${piece.name}: ${okPerSecond(load).toFixed(0)} req/s, ${microseconds.toFixed(0)} µs CPU/req`);
    }
  }
  console.log("\n| piece | what one time is | µs CPU per time, median (min–max) | against | times per request |");
  console.log("|---|---|---|---|---|");
  for (const piece of pieces) {
    const own = perRequest.get(piece.name)!;
    if (piece.name === piece.baseline) {
      console.log(`| ${piece.name} | ${piece.what} | ${median(own).toFixed(0)} per request (${Math.min(...own).toFixed(0)}–${Math.max(...own).toFixed(0)}) | (itself) | 1 |`);
      continue;
    }
    const base = perRequest.get(piece.baseline)!;
    const each = own.map((v, i) => (v - base[i]!) / piece.times);
    console.log(`| ${piece.name} | ${piece.what} | ${median(each).toFixed(1)} (${Math.min(...each).toFixed(1)}–${Math.max(...each).toFixed(1)}) | ${piece.baseline} | ${piece.times} |`);
  }
} finally {
  await edge.dispose();
  removeBundles();
  await cleanupAll();
}
