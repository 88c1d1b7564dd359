/**
 * The edge as `npm run bench` runs it when a figure needs to look inside: the very Worker of src/edge
 * (createEdgeApp, edgeFetch), QueueShard and CohortCoordinator, each object counting its RPC calls
 * (test/workers/counting-queue-shard.ts, and CohortCoordinator below), plus probes under /__bench/ that only
 * read. The app's routes are untouched and the objects' RPC methods only count before doing what they do,
 * so what is measured through /api/ is what is deployed.
 *
 * - GET /__bench/shards?cohort=&shards=  each shard's RPC call counts (CountingQueueShard.calls), SQLite
 *   size and ticket rows, through an extra read-only RPC method of a subclass;
 * - GET /__bench/coordinator?cohort=  the cohort coordinator's RPC call counts;
 * - POST /__bench/snapshots?n=&kind=cache|plain|clear  fills the Worker's snapshot cache (the real
 *   `remember`) or, as the baseline, a plain array with the same snapshot objects;
 * - POST /__bench/passes?op=&n=  runs a pass sign/verify loop (jose, src/edge/tokens/pass.ts) or the bare
 *   WebCrypto ECDSA P-256 loop; the caller times the request.
 *
 * Bundled only for benchmarks (bench/workers/wrangler.bench.toml); never deployed.
 */
import { CohortCoordinator as ProductionCohortCoordinator, coordinatorStub } from "../../src/edge/cohort/coordinator.js";
import { createEdgeApp, edgeFetch } from "../../src/edge/app.js";
import { edgeConfig } from "../../src/edge/config.js";
import type { ShardSnapshot } from "../../src/edge/shard/snapshot.js";
import { signPass, verifyPass, type PassFields } from "../../src/edge/tokens/pass.js";
import { forgetSnapshots, remember } from "../../src/edge/queue/snapshot-cache.js";
import { shardName } from "../../src/edge/queue/shard-name.js";
import { CountingQueueShard } from "../../test/workers/counting-queue-shard.js";

export interface ShardProbe {
  calls: CountingQueueShard["calls"];
  databaseSize: number;
  tickets: number;
  /** Bytes of the ticket rows' own values (two 8-byte integers plus the two text columns). */
  rawTicketBytes: number;
}

export class QueueShard extends CountingQueueShard {
  /** Read-only: the object's call counts, and the size of its SQLite database. */
  benchProbe(): ShardProbe {
    const sql = this.ctx.storage.sql;
    const rows = sql
      .exec<{ n: number; bytes: number | null }>(
        "SELECT COUNT(*) AS n, SUM(16 + LENGTH(ticket_id) + LENGTH(citizen_key)) AS bytes FROM tickets",
      )
      .one();
    return { calls: { ...this.calls }, databaseSize: sql.databaseSize, tickets: rows.n, rawTicketBytes: rows.bytes ?? 0 };
  }
}

export interface CoordinatorProbe {
  calls: { report: number; view: number };
  /** Tickets the coordinator has ranked cohort-wide: all of them once the shards keep one line. */
  ranked: number;
}

/**
 * The production CohortCoordinator, counting the RPC calls that reach it: each shard's report (about one a
 * second from its alarm while it has people) and the operators' view. Only counts, then hands on.
 */
export class CohortCoordinator extends ProductionCohortCoordinator {
  private readonly calls = { report: 0, view: 0 };

  override report(...args: Parameters<ProductionCohortCoordinator["report"]>): ReturnType<ProductionCohortCoordinator["report"]> {
    this.calls.report++;
    return super.report(...args);
  }

  override view(...args: Parameters<ProductionCohortCoordinator["view"]>): ReturnType<ProductionCohortCoordinator["view"]> {
    this.calls.view++;
    return super.view(...args);
  }

  /** Read-only: the object's call counts and how many tickets it has ranked (not counted as a view). */
  benchProbe(): CoordinatorProbe {
    return { calls: { ...this.calls }, ranked: super.view().ranked };
  }
}

type ProbeStub<P> = { benchProbe(): Promise<P> };

const edge = edgeFetch(createEdgeApp());

// The baseline of the snapshot-cache figure: the same snapshot objects, held in a plain array.
let plainSnapshots: ShardSnapshot[] = [];

function snapshotFor(i: number, now: number): ShardSnapshot {
  // Distinct numbers per shard, as real snapshots would be; nothing shared between entries.
  return { lastSeq: 100_000 + i, serving: 50_000 + i, active: i % 50, activeCap: 50, ratePerMinute: 15 + i / 1000, observedPerMinute: i % 2 ? null : 14.5 + i / 1000, paused: false, at: now - i };
}

function count(url: URL, name: string, max: number): number {
  const n = Number(url.searchParams.get(name) ?? "0");
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`${name} must be a whole number up to ${max}`);
  return n;
}

async function probeShards(env: Env, url: URL): Promise<Response> {
  const cohort = url.searchParams.get("cohort") ?? "55-59";
  const shards = count(url, "shards", 1024);
  const probes = await Promise.all(
    Array.from({ length: shards }, (_, shard) =>
      (env.QUEUE_SHARD.getByName(shardName({ cohort, shard })) as unknown as ProbeStub<ShardProbe>).benchProbe(),
    ),
  );
  return Response.json({ shards: probes });
}

async function probeCoordinator(env: Env, url: URL): Promise<Response> {
  const cohort = url.searchParams.get("cohort") ?? "55-59";
  const probe = await (coordinatorStub(env, cohort) as unknown as ProbeStub<CoordinatorProbe>).benchProbe();
  return Response.json(probe);
}

function fillSnapshots(url: URL): Response {
  const n = count(url, "n", 100_000);
  const kind = url.searchParams.get("kind");
  const now = Date.now();
  forgetSnapshots();
  plainSnapshots = [];
  if (kind === "cache") for (let i = 0; i < n; i++) remember(shardName({ cohort: "bench", shard: i }), snapshotFor(i, now), now);
  else if (kind === "plain") for (let i = 0; i < n; i++) plainSnapshots.push(snapshotFor(i, now));
  else if (kind !== "clear") throw new Error("kind must be cache, plain or clear");
  return Response.json({ kind, n });
}

const encoder = new TextEncoder();

function base64urlBytes(s: string): Uint8Array<ArrayBuffer> {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

async function passLoop(env: Env, url: URL): Promise<Response> {
  const config = edgeConfig(env);
  const op = url.searchParams.get("op");
  const n = count(url, "n", 1_000_000);
  const now = Math.floor(Date.now() / 1000);
  const fields = (i: number): PassFields => ({
    sub: "bench-citizen-key-0000000000000000000000000",
    jti: `bench-pass-${i.toString().padStart(8, "0")}`,
    cohort: "55-59",
    shard: 0,
    seq: i + 1,
    iat: now,
    exp: now + 900,
  });
  // The same bytes the real pass signs, so the bare loop signs exactly what jose signs.
  const token = await signPass(config, fields(0));
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const signingInput = encoder.encode(`${header}.${payload}`);
  const rawSignature = base64urlBytes(signature);
  const jwk = config.signingKeys[0]!;
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const ecdsa = { name: "ECDSA", hash: "SHA-256" };

  let ok = 0;
  switch (op) {
    case "sign":
      for (let i = 0; i < n; i++) if ((await signPass(config, fields(i))).length > 0) ok++;
      break;
    case "verify":
      for (let i = 0; i < n; i++) if ((await verifyPass(config, token)).ok) ok++;
      break;
    case "bare-sign": {
      const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d }, algorithm, false, ["sign"]);
      for (let i = 0; i < n; i++) if ((await crypto.subtle.sign(ecdsa, key, signingInput)).byteLength === 64) ok++;
      break;
    }
    case "bare-verify": {
      const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, algorithm, false, ["verify"]);
      for (let i = 0; i < n; i++) if (await crypto.subtle.verify(ecdsa, key, rawSignature, signingInput)) ok++;
      break;
    }
    default:
      throw new Error("op must be sign, verify, bare-sign or bare-verify");
  }
  return Response.json({ op, n, ok });
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    // Everything but the probes goes to the edge as deployed, without parsing its URL here first: a poll
    // load's requests pay only what the deployed Worker pays.
    if (!request.url.includes("/__bench/")) return edge(request, env, ctx);
    const url = new URL(request.url);
    if (!url.pathname.startsWith("/__bench/")) return edge(request, env, ctx);
    try {
      if (url.pathname === "/__bench/shards") return await probeShards(env, url);
      if (url.pathname === "/__bench/coordinator") return await probeCoordinator(env, url);
      if (url.pathname === "/__bench/snapshots" && request.method === "POST") return fillSnapshots(url);
      if (url.pathname === "/__bench/passes" && request.method === "POST") return await passLoop(env, url);
      return new Response("no such probe", { status: 404 });
    } catch (err) {
      return new Response(err instanceof Error ? err.message : String(err), { status: 400 });
    }
  },
} satisfies ExportedHandler<Env>;
