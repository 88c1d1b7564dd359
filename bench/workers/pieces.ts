/**
 * The pieces of a join and of a status poll, one at a time, for `npx tsx bench/dissect.ts`. Each route does what the bare
 * counter does (read the body, one RPC into a Durable Object, a small JSON answer) plus one piece of a
 * join repeated `times` times, so that a piece costing a few microseconds stands out of the noise of the
 * whole request. Where the edge has a function for the piece, the piece calls it (verifyIdToken,
 * citizenKey, signTicket, the claims schema, QueueShard's join; verifyTicket, the poll limit, ticketStatus
 * and the edge's whole status route for a poll); the commit and result pieces are
 * stand-ins with the shapes and SQL of QueueShard's join, to weigh one part of it at a time.
 *
 * Bundled only for benchmarks (bench/workers/wrangler.pieces.toml); never deployed.
 */
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";
import { decodeJwt, jwtVerify } from "jose";
import { matchedRoutes } from "hono/route";
import { ID_TOKEN_REQUIRED_CLAIMS, idTokenClaims } from "../../src/contract/identity.js";
import { joinRequest } from "../../src/contract/queue.js";
import { base64url, base64urlDecode } from "../../src/edge/base64url.js";
import { citizenKey } from "../../src/edge/identity/citizen-key.js";
import { edgeConfig } from "../../src/edge/config.js";
import { ID_TOKEN_ALGORITHMS, keySet, verifyIdToken } from "../../src/edge/identity/id-token.js";
import { checkTicketInFull, signTicket, TICKET_ALG, TICKET_AUDIENCE, ticketClaims, ticketSigningKey, verifyTicket, type TicketClaims } from "../../src/edge/tokens/ticket.js";
import { shardStub } from "../../src/edge/queue/shard-client.js";
import { ticketStatus } from "../../src/edge/queue/status.js";
import { createEdgeApp, edgeFetch } from "../../src/edge/app.js";
import { queueStatus } from "../../src/edge/routes/queue-status.js";

export { QueueShard } from "../../src/edge/shard/queue-shard.js";
export { CohortCoordinator } from "../../src/edge/cohort/coordinator.js";

interface PiecesEnv extends Env {
  COUNTER: DurableObjectNamespace<Counter>;
  JOURNAL: DurableObjectNamespace<Journal>;
  JOURNAL_ROWS: DurableObjectNamespace<JournalRows>;
  /** The identity provider's keys, inline (the bench is the provider: bench/lib/identity.ts). */
  IDP_JWKS: string;
}

/** What QueueShard's join answers (src/edge/shard/queue-shard.ts JoinResult), with a snapshot of its counters. */
function joinShaped(seq: number) {
  const now = Date.now();
  return {
    ticketId: "q0Xk3vTc9bLm2Jp7Wd4sYA",
    seq,
    joinedAt: now,
    replacedExpired: false,
    snapshot: { lastSeq: seq, serving: 0, active: 0, activeCap: 100, ratePerMinute: 60, configuredPerMinute: 60, observedPerMinute: null, paused: false, at: now },
  };
}

/** The bare counter's object, plus a method that answers with a join's shape instead of a number. */
export class Counter extends DurableObject<PiecesEnv> {
  count = 0;

  increment(): number {
    return ++this.count;
  }

  joinResult(): ReturnType<typeof joinShaped> {
    return joinShaped(++this.count);
  }

  /** The same result as JSON text, as QueueShard's joinJson sends it. */
  joinResultJson(): string {
    return JSON.stringify(joinShaped(++this.count));
  }
}

/**
 * QueueShard's write path without its rules: joins wait for the next turn of the event loop and are
 * written in one transactionSync, one INSERT of the ticket row each and one UPDATE of the counter.
 */
export class Journal extends DurableObject<PiecesEnv> {
  private readonly sql: SqlStorage;
  private lastSeq: number;
  private pending: Array<{ citizenKey: string; resolve: (seq: number) => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;
  /** Ticket rows a single INSERT writes: one here, more in JournalRows. */
  protected rowsPerInsert = 1;

  constructor(ctx: DurableObjectState, env: PiecesEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS tickets (seq INTEGER PRIMARY KEY, ticket_id TEXT NOT NULL, citizen_tag INTEGER NOT NULL,
      citizen_key TEXT NOT NULL, joined_at INTEGER NOT NULL, admitted_at INTEGER, claimed_at INTEGER, pass_exp INTEGER,
      completed_at INTEGER, active_until INTEGER);
      CREATE TABLE IF NOT EXISTS counters (id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
      INSERT OR IGNORE INTO counters VALUES (1, 0);`);
    this.lastSeq = this.sql.exec<{ last_seq: number }>("SELECT last_seq FROM counters WHERE id = 1").one().last_seq;
  }

  join(citizenKey: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ citizenKey, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setTimeout(() => this.flush(), 0);
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      const seqs = this.ctx.storage.transactionSync(() => {
        const rows = batch.map(({ citizenKey }): SqlStorageValue[] => {
          const seq = ++this.lastSeq;
          return [seq, base64url(crypto.getRandomValues(new Uint8Array(16))), seq & 0xffffff, citizenKey, Date.now()];
        });
        for (let at = 0; at < rows.length; at += this.rowsPerInsert) {
          const chunk = rows.slice(at, at + this.rowsPerInsert);
          this.sql.exec(`INSERT INTO tickets (seq, ticket_id, citizen_tag, citizen_key, joined_at) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?)").join(", ")}`, ...chunk.flat());
        }
        const written = rows.map((row) => row[0] as number);
        this.sql.exec("UPDATE counters SET last_seq = ? WHERE id = 1", this.lastSeq);
        return written;
      });
      batch.forEach((join, i) => join.resolve(seqs[i]!));
    } catch (err) {
      this.lastSeq = this.sql.exec<{ last_seq: number }>("SELECT last_seq FROM counters WHERE id = 1").one().last_seq;
      for (const join of batch) join.reject(err);
    }
  }
}

/**
 * The same, writing each batch's rows in multi-row INSERTs: a statement binds at most 100 values in a
 * Durable Object's SQLite, and a ticket row binds 5.
 */
export class JournalRows extends Journal {
  protected override rowsPerInsert = 20;
}

/** The QueueShard the shard-join pieces join: the configuration's first cohort, shard 0. */
function pieceShard(env: PiecesEnv) {
  return shardStub(env, { cohort: edgeConfig(env).cohorts[0]!.id, shard: 0 });
}

/** A citizen key as citizenKey makes them (43 base64url characters of 32 random bytes), a new citizen each time. */
function randomCitizenKey(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The id_token of a request body (the bench sends join bodies), validated as the edge does. */
async function idTokenOf(request: Request): Promise<string> {
  return joinRequest.parse(JSON.parse(await request.text())).idToken;
}

/** The part of every piece that the bare counter also does: one RPC and a small JSON answer. */
async function bareAnswer(env: PiecesEnv): Promise<Response> {
  const n = await env.COUNTER.getByName("bare").increment();
  return Response.json({ n });
}

type Piece = (request: Request, env: PiecesEnv, times: number, ctx: ExecutionContext) => Promise<Response>;

/** The waiting ticket checked `times` over by `check`, then the bare counter's answer. */
async function ticketChecks(request: Request, env: PiecesEnv, times: number, check: typeof verifyTicket): Promise<Response> {
  await request.text();
  const config = edgeConfig(env);
  const { token } = await waitingTicket(env);
  for (let i = 0; i < times; i++) if (!(await check(config, token)).ok) return Response.json({ error: "ticket" }, { status: 400 });
  return bareAnswer(env);
}

/** A status answer's shape, as poll-handler's answers carry one. */
const STATUS_SHAPED = { state: "waiting", cohort: "55-59", seq: 1_000_123, ahead: 999_000, etaSeconds: { low: 1200, high: 1800 }, nextPollMs: 10_000 };

/** poll-handler's loop without the route: its poll Request built, an answer of a status's shape made and read. */
async function pollShell(request: Request, env: PiecesEnv, times: number): Promise<Response> {
  await request.text();
  for (let i = 0; i < times; i++) {
    const token = await routeTicket(env);
    const poll = new Request("https://edge.internal/api/queue/status", { headers: { authorization: `Bearer ${token}` } });
    if (!poll.headers.has("authorization")) return new Response("no ticket", { status: 400 });
    const answer = new Response(JSON.stringify(STATUS_SHAPED), { headers: { "content-type": "application/json", "cache-control": "no-store" } });
    await answer.text();
  }
  return bareAnswer(env);
}

/** Each piece with what `times` counts; `bare` is the baseline of most of them. */
const PIECES: Record<string, Piece> = {
  bare: async (request, env) => {
    await request.text();
    return bareAnswer(env);
  },
  // The bare request answered as a join is: its three Set-Cookie headers, no-store and a JSON body of a
  // join answer's size (a ticket, a status with a pass), written as routes/queue-join.ts writes them.
  "join-answer": async (request, env) => {
    await request.text();
    const n = await env.COUNTER.getByName("bare").increment();
    const jws = "x".repeat(120) + "." + "y".repeat(300) + "." + "z".repeat(86);
    const headers = new Headers();
    headers.append("set-cookie", `wr_ticket=${jws}; Max-Age=604800; Path=/api; HttpOnly; Secure; SameSite=Lax`);
    headers.append("set-cookie", "wr_ticket_held=1; Max-Age=604800; Path=/; Secure; SameSite=Lax");
    headers.append("set-cookie", `wr_pass=${jws}; Max-Age=900; Path=/api; HttpOnly; Secure; SameSite=Lax`);
    headers.set("cache-control", "no-store");
    headers.set("content-type", "application/json");
    return new Response(JSON.stringify({ n, ticket: jws, status: { state: "waiting", seq: n, ahead: n, pass: jws } }), { headers });
  },
  // One RPC more per time; its baseline is `bare`.
  rpc: async (request, env, times) => {
    await request.text();
    for (let i = 0; i < times; i++) await env.COUNTER.getByName("bare").increment();
    return bareAnswer(env);
  },
  // The same RPCs answered with a join's shape instead of a number; its baseline is `rpc`.
  result: async (request, env, times) => {
    await request.text();
    for (let i = 0; i < times; i++) await env.COUNTER.getByName("bare").joinResult();
    return bareAnswer(env);
  },
  // The same result sent as JSON text and parsed by the caller; its baseline is `rpc`.
  "result-json": async (request, env, times) => {
    await request.text();
    for (let i = 0; i < times; i++) JSON.parse(await env.COUNTER.getByName("bare").joinResultJson());
    return bareAnswer(env);
  },
  // Concurrent RPCs answered from memory; the baseline of `commit`.
  "rpc-batch": async (request, env, times) => {
    await request.text();
    const counter = env.COUNTER.getByName("bare");
    await Promise.all(Array.from({ length: times }, () => counter.increment()));
    return bareAnswer(env);
  },
  // Concurrent joins written by the group commit, each a distinct citizen key.
  commit: async (request, env, times) => {
    const body = await request.text();
    const journal = env.JOURNAL.getByName("journal");
    await Promise.all(Array.from({ length: times }, (_, i) => journal.join(body.slice(-43 - i, body.length - i))));
    return bareAnswer(env);
  },
  // The same joins written in multi-row INSERTs.
  "commit-rows": async (request, env, times) => {
    const body = await request.text();
    const journal = env.JOURNAL_ROWS.getByName("journal");
    await Promise.all(Array.from({ length: times }, (_, i) => journal.join(body.slice(-43 - i, body.length - i))));
    return bareAnswer(env);
  },
  // Concurrent joins into the edge's own QueueShard, each a distinct citizen key, answered as objects.
  "shard-join": async (request, env, times) => {
    await request.text();
    const shard = pieceShard(env);
    await Promise.all(Array.from({ length: times }, () => shard.join(randomCitizenKey())));
    return bareAnswer(env);
  },
  // The same joins answered as JSON text (joinJson), as the edge calls them.
  "shard-join-json": async (request, env, times) => {
    await request.text();
    const shard = pieceShard(env);
    await Promise.all(Array.from({ length: times }, async () => JSON.parse(await shard.joinJson(randomCitizenKey()))));
    return bareAnswer(env);
  },
  // The edge's whole id_token check: the direct check (RS256, claims; src/contract/direct-jwt.ts) and the claims schema.
  identity: async (request, env, times) => {
    const token = await idTokenOf(request);
    const config = edgeConfig(env);
    for (let i = 0; i < times; i++) {
      const check = await verifyIdToken(config.identity, token);
      if (!check.ok) return Response.json({ error: check.code }, { status: 400 });
    }
    return bareAnswer(env);
  },
  // The same check through jose's jwtVerify, as verifyIdToken made it before issue 29.
  "identity-jose": async (request, env, times) => {
    const token = await idTokenOf(request);
    const { identity } = edgeConfig(env);
    const options = {
      algorithms: ID_TOKEN_ALGORITHMS,
      issuer: identity.issuer,
      audience: identity.clientId,
      requiredClaims: [...ID_TOKEN_REQUIRED_CLAIMS],
      maxTokenAge: identity.maxAgeSeconds,
      clockTolerance: 10,
    };
    for (let i = 0; i < times; i++) {
      const { payload } = await jwtVerify(token, keySet(identity.keys), options);
      if (!idTokenClaims.safeParse(payload).success) return Response.json({ error: "claims" }, { status: 400 });
    }
    return bareAnswer(env);
  },
  // The RS256 signature alone, by WebCrypto, with the key imported once: the floor under `identity`.
  rs256: async (request, env, times) => {
    const token = await idTokenOf(request);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const key = await rs256Key(env);
    const data = new TextEncoder().encode(`${header}.${payload}`);
    const bytes = base64urlDecode(signature);
    for (let i = 0; i < times; i++) {
      if (!(await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, bytes, data))) return Response.json({ error: "bad signature" }, { status: 400 });
    }
    return bareAnswer(env);
  },
  // The claims schema alone, on the token's own claims.
  claims: async (request, env, times) => {
    const token = await idTokenOf(request);
    const claims = decodeJwt(token);
    for (let i = 0; i < times; i++) if (!idTokenClaims.safeParse(claims).success) return Response.json({ error: "claims" }, { status: 400 });
    return bareAnswer(env);
  },
  // The citizen key: an HMAC-SHA256 by WebCrypto under the isolate's imported key.
  "citizen-key": async (request, env, times) => {
    const token = await idTokenOf(request);
    const config = edgeConfig(env);
    for (let i = 0; i < times; i++) await citizenKey(config.citizenKeySecret, { issuer: config.identity.issuer, subject: token.slice(-43 - i, token.length - i) });
    return bareAnswer(env);
  },
  // The join limit (wrangler.toml's JOIN_LIMIT) as workerd simulates it locally, each time for another
  // citizen key, as a join asks it once for its citizen.
  "join-limit": async (request, env, times) => {
    const body = await request.text();
    for (let i = 0; i < times; i++) await env.JOIN_LIMIT.limit({ key: body.slice(-43 - i, body.length - i) });
    return bareAnswer(env);
  },
  // A poll's ticket check: verifyTicket, of the same ticket each time, so found remembered after the first.
  "ticket-verify": (request, env, times) => ticketChecks(request, env, times, verifyTicket),
  // The same check made in full, as for a ticket the isolate has not seen (`ticket-verify` finds it remembered).
  "ticket-verify-full": (request, env, times) => ticketChecks(request, env, times, checkTicketInFull),
  // The same check through jose's jwtVerify with the options verifyTicket keeps (its way before issue 29).
  "ticket-verify-jose": async (request, env, times) => {
    await request.text();
    const config = edgeConfig(env);
    const { token } = await waitingTicket(env);
    const options = { algorithms: [TICKET_ALG], issuer: config.issuer, audience: TICKET_AUDIENCE, requiredClaims: ["sub", "jti", "iat", "exp"] };
    for (let i = 0; i < times; i++) {
      const { payload } = await jwtVerify(token, await ticketSigningKey(config.citizenKeySecret), options);
      if (!ticketClaims.safeParse(payload).success) return Response.json({ error: "ticket" }, { status: 400 });
    }
    return bareAnswer(env);
  },
  // The HMAC-SHA256 of the ticket alone, by WebCrypto under the isolate's key: the floor under `ticket-verify`.
  hs256: async (request, env, times) => {
    await request.text();
    const config = edgeConfig(env);
    const { token } = await waitingTicket(env);
    const dot = token.lastIndexOf(".");
    const data = new TextEncoder().encode(token.slice(0, dot));
    const signature = base64urlDecode(token.slice(dot + 1));
    const key = await ticketSigningKey(config.citizenKeySecret);
    for (let i = 0; i < times; i++) if (!(await crypto.subtle.verify("HMAC", key, signature, data))) return Response.json({ error: "hmac" }, { status: 400 });
    return bareAnswer(env);
  },
  // The ticket claims schema (zod) alone, on the ticket's own claims.
  "ticket-claims": async (request, env, times) => {
    await request.text();
    const { token } = await waitingTicket(env);
    const claims = decodeJwt(token);
    for (let i = 0; i < times; i++) if (!ticketClaims.safeParse(claims).success) return Response.json({ error: "claims" }, { status: 400 });
    return bareAnswer(env);
  },
  // The poll limit (wrangler.toml's POLL_LIMIT, workerd's local simulation), each time for another ticket.
  "poll-limit": async (request, env, times) => {
    const body = await request.text();
    for (let i = 0; i < times; i++) await env.POLL_LIMIT.limit({ key: body.slice(-22 - i, body.length - i) });
    return bareAnswer(env);
  },
  // A waiting ticket's status from the isolate's cached snapshot (ticketStatus), as a poll works it out.
  "poll-status": async (request, env, times) => {
    await request.text();
    const config = edgeConfig(env);
    const { claims } = await waitingTicket(env);
    for (let i = 0; i < times; i++) {
      const { status } = await ticketStatus(env, config, claims, Date.now());
      if (status.state !== "waiting") return Response.json({ error: status.state }, { status: 400 });
    }
    return bareAnswer(env);
  },
  // The edge's whole status route for a waiting ticket (GET /api/queue/status, Bearer), in-process.
  "poll-route": async (request, env, times, ctx) => {
    await request.text();
    for (let i = 0; i < times; i++) {
      const token = await routeTicket(env);
      const answer = await edgeApp(new Request("https://edge.internal/api/queue/status", { headers: { authorization: `Bearer ${token}` } }), env, ctx);
      const text = await answer.text();
      if (answer.status !== 200) return new Response(text, { status: 400 });
    }
    return bareAnswer(env);
  },
  // The same poll handed straight to the status route's function (src/edge/routes/queue-status.ts), without the app around it.
  "poll-handler": async (request, env, times, ctx) => {
    await request.text();
    for (let i = 0; i < times; i++) {
      const token = await routeTicket(env);
      const poll = new Request("https://edge.internal/api/queue/status", { headers: { authorization: `Bearer ${token}` } });
      const answer = await queueStatus(poll, env, (work) => ctx.waitUntil(work));
      const text = await answer.text();
      if (answer.status !== 200) return new Response(text, { status: 400 });
    }
    return bareAnswer(env);
  },
  // poll-handler's loop without the route: what is left of poll-handler after this is the route's own work.
  "poll-shell": pollShell,
  // The queue ticket: claims to JSON, base64url, an HMAC-SHA256.
  ticket: async (request, env, times) => {
    await request.text();
    const config = edgeConfig(env);
    const now = Date.now();
    for (let i = 0; i < times; i++) await signTicket(config, { sub: "k".repeat(43), jti: "q0Xk3vTc9bLm2Jp7Wd4sYA", cohort: "55-59", shard: 0, seq: i + 1 }, now);
    return bareAnswer(env);
  },
};

/**
 * A waiting ticket of the pieces' shard (the configuration's first cohort, shard 0), signed once per
 * isolate: far enough back that a poll of it is answered from the snapshot, as a waiting citizen's is.
 */
let pollTicket: Promise<{ token: string; claims: TicketClaims }> | undefined;

function waitingTicket(env: PiecesEnv): Promise<{ token: string; claims: TicketClaims }> {
  pollTicket ??= (async () => {
    const config = edgeConfig(env);
    const token = await signTicket(config, { sub: "k".repeat(43), jti: "q0Xk3vTc9bLm2Jp7Wd4sYA", cohort: config.cohorts[0]!.id, shard: 0, seq: 1_000_000 }, Date.now());
    const check = await verifyTicket(config, token);
    if (!check.ok) throw new Error(`the pieces' own ticket does not verify: ${check.problem}`);
    return { token, claims: check.ticket };
  })();
  return pollTicket;
}

/**
 * Waiting tickets of distinct ids for the whole route, which counts each poll against POLL_LIMIT per
 * ticket (30 per 10 s): going round 10,000 of them, none reaches the limit below 30,000 polls a second,
 * and signing them (about 0.1 s) is done within the first load's warm-up.
 */
const ROUTE_TICKETS = 10_000;
let routeTickets: Promise<string[]> | undefined;
let nextRouteTicket = 0;

function routeTicket(env: PiecesEnv): Promise<string> {
  routeTickets ??= (async () => {
    const config = edgeConfig(env);
    const now = Date.now();
    return Promise.all(
      Array.from({ length: ROUTE_TICKETS }, (_, i) =>
        signTicket(config, { sub: "k".repeat(43), jti: `route-${i.toString().padStart(16, "0")}`, cohort: config.cohorts[0]!.id, shard: 0, seq: 1_000_000 + i }, now),
      ),
    );
  })();
  return routeTickets.then((tickets) => tickets[nextRouteTicket++ % tickets.length]!);
}

/** The edge's own fetch, for the whole status route in-process (no HTTP, no workerd entry). */
const edgeApp = edgeFetch(createEdgeApp());

const rs256Keys = new Map<string, Promise<CryptoKey>>();

function rs256Key(env: PiecesEnv): Promise<CryptoKey> {
  let key = rs256Keys.get(env.IDP_JWKS);
  if (!key) {
    const { keys } = JSON.parse(env.IDP_JWKS) as { keys: JsonWebKey[] };
    key = crypto.subtle.importKey("jwk", keys[0]!, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
    rs256Keys.set(env.IDP_JWKS, key);
  }
  return key;
}

/**
 * The framework: the bare counter's request through a Hono app shaped as the edge's (two app-wide
 * middlewares, a sub-app mounted under a prefix, two response headers set on the context, c.json).
 */
const framework = new Hono<{ Bindings: PiecesEnv }>();
framework.use(async (c, next) => {
  if (!matchedRoutes(c).some((route) => route.method !== "ALL")) return c.json({ error: "method" }, 405);
  await next();
});
framework.use(async (c, next) => {
  if (!/^[0-9]+$/.test(c.req.header("content-length") ?? "0")) return c.json({ error: "length" }, 400);
  await next();
});
const mounted = new Hono<{ Bindings: PiecesEnv }>();
mounted.post("/hono", async (c) => {
  await c.req.raw.text();
  const n = await c.env.COUNTER.getByName("bare").increment();
  c.header("set-cookie", `wr_ticket=${"t".repeat(300)}; Max-Age=604800; Path=/api; HttpOnly; Secure; SameSite=Lax`, { append: true });
  c.header("cache-control", "no-store");
  return c.json({ n }, 200);
});
framework.route("/piece", mounted);

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    const name = url.pathname.slice("/piece/".length);
    if (name === "hono") return framework.fetch(request, env);
    const piece = PIECES[name];
    if (!piece) return Response.json({ error: `no piece ${name}` }, { status: 404 });
    return piece(request, env, Number(url.searchParams.get("times") ?? "1"), ctx);
  },
} satisfies ExportedHandler<PiecesEnv>;
