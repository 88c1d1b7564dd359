/**
 * Scenario 7: a bounded fuzz. Requests are written byte by byte on raw sockets (so nothing in between
 * tidies them up): random methods, paths, headers and bodies, truncated and oversized bodies,
 * Content-Length lies, bad chunking, garbage request lines, huge headers, pipelining, and slowloris
 * connections held for a bounded time, mostly to the edge (the public entry) and some to the origin.
 * The RNG is seeded (the seed is printed; `--seed` replays a run's sequence of requests). Citizens wait
 * and book throughout; afterwards the harness checks that the stack still serves and every place and
 * booking is intact.
 */
import { connect } from "node:net";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { errorBody } from "../../src/contract/errors.js";
import { rng } from "../lib/stats.js";
import { Crowd } from "./crowd.js";
import type { ScenarioContext, ScenarioSpec } from "./harness.js";
import { parseJson, Tally } from "./http.js";
import { sleep } from "./stack.js";

type Random = ReturnType<typeof rng>;
const pick = <T>(r: Random, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const int = (r: Random, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** One fuzz request: the bytes to write (in pieces, with pauses), and whether to half-close after. */
interface Shot {
  kind: string;
  target: "edge" | "origin";
  pieces: Buffer[];
  pauseMs?: number;
  /** Half-close after writing, so a server waiting for a body it was promised sees the end. */
  end: boolean;
}

const PATHS = [
  "/", "/api/queue/join", "/api/queue/status", "/api/bookings", "/api/bookings/me", "/api/slots", "/api/cohorts",
  "/api/ops/queue", "/ops", "/auth/login", "/auth/callback", "/.well-known/jwks.json", "/index.html", "/favicon.ico",
];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "get", "P0ST", "X".repeat(40), "M-SEARCH"];
const CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/JSON", ""];

/** A UUID-shaped id from the RNG, so a replay asks for the same ids. */
function seededUuid(r: Random): string {
  const hex = Array.from({ length: 32 }, () => int(r, 0, 15).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
}

function weirdPath(r: Random): string {
  const base = pick(r, PATHS);
  switch (int(r, 0, 9)) {
    case 0: return `${base}/${"a".repeat(int(r, 100, 9000))}`;
    case 1: return `/api/bookings/${pick(r, ["00000000-0000-0000-0000-000000000000", "1", "'; drop table bookings; --", "%00", "..%2f..%2fetc%2fpasswd", seededUuid(r)])}`;
    case 2: return `${base}?region=${pick(r, ["11", "99", "' or 1=1", "%ff", ""])}&date=${pick(r, ["2026-02-30", "9999-99-99", "x", "2026-11-26"])}`;
    case 3: return `/${"../".repeat(int(r, 1, 8))}etc/passwd`;
    case 4: return `//api//queue//join`;
    case 5: return `${base}%`;
    case 6: return `/api/${encodeURIComponent("큐/대기")}`;
    case 7: return `http://127.0.0.1${base}`;
    case 8: return "*";
    default: return base;
  }
}

function weirdBody(r: Random, tokens: Pool): string {
  switch (int(r, 0, 11)) {
    case 0: return JSON.stringify({ idToken: pick(r, ["", "x", "a.b.c", tokens.forged(), "e".repeat(5000)]) });
    case 1: return JSON.stringify({ slotId: pick(r, [-1, 0, 1e308, 1.5, "1", null, [], {}, 2 ** 53]) });
    case 2: return JSON.stringify({ identity: "+821012345678", birthDate: "1964-05-17" });
    case 3: return '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}';
    case 4: return "[".repeat(int(r, 100, 5000)) + "]".repeat(int(r, 0, 100));
    case 5: return '{"slotId": 1';
    case 6: return Buffer.from(Array.from({ length: int(r, 1, 500) }, () => int(r, 0, 255))).toString("latin1");
    case 7: return "null";
    case 8: return JSON.stringify({ slotId: 1, extra: "x".repeat(int(r, 10, 7000)) });
    case 9: return "\uFEFF{}";
    case 10: return "";
    default: return JSON.stringify({ idToken: tokens.idToken(r) });
  }
}

/** Credentials worth presenting: real ones of the fuzz's own citizens (so requests reach past the gates), and forgeries. */
class Pool {
  constructor(private readonly fuzzers: Crowd) {}
  forged(): string {
    const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    return `${part({ alg: "none", typ: "JWT" })}.${part({ sub: "x", cohort: "55-59", shard: 0, seq: 1, exp: 9_999_999_999 })}.`;
  }
  idToken(r: Random): string {
    return pick(r, this.fuzzers.citizens).idToken;
  }
  authorization(r: Random): string | undefined {
    const holders = this.fuzzers.citizens;
    const c = pick(r, holders);
    switch (int(r, 0, 6)) {
      case 0: return c.pass ? `Bearer ${c.pass}` : undefined;
      case 1: return c.ticket ? `Bearer ${c.ticket}` : undefined;
      case 2: return `Bearer ${this.forged()}`;
      case 3: return `Bearer ${"A".repeat(int(r, 1, 6000))}`;
      case 4: return "Basic YWRtaW46YWRtaW4=";
      case 5: return c.pass ? `Bearer ${c.pass.slice(0, -4)}AAAA` : "Bearer";
      default: return undefined;
    }
  }
}

function request(method: string, path: string, headers: Array<[string, string]>, body: Buffer | undefined, declared?: string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined || declared !== undefined) lines.push(`Content-Length: ${declared ?? body!.length}`);
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body ?? Buffer.alloc(0)]);
}

/** The kinds of shot, each built from the RNG; every kind is used in every run, even a quick one. */
const KINDS: Record<string, (r: Random, p: Pool) => Omit<Shot, "kind" | "target">> = {
  route(r, p) {
    const method = pick(r, ["GET", "POST", "DELETE", "PATCH"]);
    const headers: Array<[string, string]> = [["content-type", pick(r, CONTENT_TYPES)]];
    const auth = p.authorization(r);
    if (auth) headers.push(["authorization", auth]);
    return { pieces: [request(method, pick(r, PATHS), headers, method === "GET" ? undefined : Buffer.from(weirdBody(r, p)))], end: true };
  },
  method(r, p) {
    const headers: Array<[string, string]> = [];
    const auth = p.authorization(r);
    if (auth) headers.push(["authorization", auth]);
    return { pieces: [request(pick(r, METHODS), pick(r, PATHS), headers, r() < 0.5 ? Buffer.from("{}") : undefined)], end: true };
  },
  path(r) {
    return { pieces: [request(pick(r, ["GET", "POST", "DELETE"]), weirdPath(r), [], undefined)], end: true };
  },
  headers(r, p) {
    const headers: Array<[string, string]> = [];
    switch (int(r, 0, 6)) {
      case 0: headers.push(["x-big", "h".repeat(int(r, 8_000, 70_000))]); break;
      case 1: for (let i = 0; i < int(r, 100, 400); i++) headers.push([`x-h${i}`, String(i)]); break;
      case 2: headers.push(["cookie", `wr_ticket=${p.forged()}; wr_pass=${"x".repeat(int(r, 10, 5000))}`]); break;
      case 3: headers.push(["content-type", "application/json"], ["content-type", "text/plain"]); break;
      case 4: headers.push(["cf-connecting-ip", pick(r, ["127.0.0.1", "::1", "not-an-ip", "1.2.3.4, 5.6.7.8"])]); break;
      case 5: headers.push(["accept-encoding", "gzip, br, *;q=0"], ["range", "bytes=0-1,5-1000000"]); break;
      default: headers.push(["authorization", p.authorization(r) ?? "Bearer"]);
    }
    return { pieces: [request(pick(r, ["GET", "POST"]), pick(r, PATHS), headers, Buffer.from(weirdBody(r, p)))], end: true };
  },
  oversized(r, p) {
    const size = pick(r, [8 * 1024 + 1, 9_000, 100_000, 1_000_000]);
    const headers: Array<[string, string]> = [["content-type", "application/json"]];
    const auth = p.authorization(r);
    if (auth) headers.push(["authorization", auth]);
    const body = Buffer.from(`{"idToken":"${"x".repeat(size)}"}`);
    return { pieces: [request("POST", pick(r, ["/api/queue/join", "/api/bookings", "/api/bookings/me", "/"]), headers, body)], end: true };
  },
  truncated(r, p) {
    const body = Buffer.from(weirdBody(r, p).padEnd(40, " "));
    const declared = body.length + int(r, 1, 10_000);
    const headers: Array<[string, string]> = [["content-type", "application/json"]];
    const auth = p.authorization(r);
    if (auth) headers.push(["authorization", auth]);
    return { pieces: [request("POST", pick(r, ["/", "/api/queue/join", "/api/bookings", "/api/slots"]), headers, body, String(declared))], end: true };
  },
  "content-length-lie"(r, p) {
    const body = Buffer.from(weirdBody(r, p));
    const declared = pick(r, ["-1", "abc", "0", String(Math.max(0, body.length - 5)), "1e3", "99999999999999999999", " 12", "0x10", `${body.length}, ${body.length + 1}`]);
    return { pieces: [request("POST", pick(r, ["/api/queue/join", "/api/bookings", "/"]), [["content-type", "application/json"]], body, declared)], end: true };
  },
  chunked(r) {
    const head = `POST ${pick(r, ["/api/queue/join", "/api/bookings", "/"])} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n${r() < 0.3 ? "Content-Length: 5\r\n" : ""}\r\n`;
    const body = pick(r, ["5\r\n{\"a\":\r\n", "zz\r\n{}\r\n0\r\n\r\n", "ffffffffffff\r\n{}", "2;ext=1\r\n{}\r\n0\r\n\r\n", "3\r\n{}\r\n", `4000\r\n${"x".repeat(16384)}\r\n`.repeat(int(r, 1, 4))]);
    return { pieces: [Buffer.from(head + body, "latin1")], end: true };
  },
  "request-line"(r) {
    const line = pick(r, [
      "GET /\r\n\r\n", "GET / HTTP/0.9\r\n\r\n", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HELLO\r\n\r\n", "\r\n\r\n\r\n",
      "GET / HTTP/1.1\nHost: 127.0.0.1\n\n", "GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", "G\u00c9T / HTTP/1.1\r\n\r\n",
      `GET /${"x".repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789",
    ]);
    return { pieces: [Buffer.from(line, "latin1")], end: r() < 0.5 };
  },
  binary(r) {
    return { pieces: [Buffer.from(Array.from({ length: int(r, 1, 2000) }, () => int(r, 0, 255)))], end: true };
  },
  pipelined(r, p) {
    const one = request("GET", "/api/cohorts", [], undefined).toString("latin1").replace("Connection: close\r\n", "");
    const two = request(pick(r, ["POST", "GET"]), pick(r, PATHS), [["content-type", "application/json"]], Buffer.from(weirdBody(r, p))).toString("latin1");
    return { pieces: [Buffer.from(one + two, "latin1")], end: true };
  },
  "slow-body"(r) {
    const body = Buffer.from('{"idToken":"abc"}');
    const head = request("POST", "/api/queue/join", [["content-type", "application/json"]], undefined, String(body.length));
    return { pieces: [head, ...Array.from(body).map((b) => Buffer.from([b]))], pauseMs: int(r, 20, 80), end: true };
  },
};

/** Whether a shot asks HEAD, whose answer carries no body by HTTP's rules. */
function isHead(shot: Shot): boolean {
  return Buffer.concat(shot.pieces).subarray(0, 5).toString("latin1") === "HEAD ";
}

/** What a shot asked, for the examples: its request line and any Content-Length or Transfer-Encoding, cut short. */
function describe(shot: Shot): string {
  const head = Buffer.concat(shot.pieces).subarray(0, 2048).toString("latin1");
  const line = JSON.stringify(head.split(/\r?\n/)[0]!.slice(0, 80));
  const framing = [...head.matchAll(/\r?\n((?:content-length|transfer-encoding):[^\r\n]*)/gi)].map((m) => m[1]!.slice(0, 40));
  return [line, ...framing].join(", ");
}

/** Sends one shot; returns the answer's status, headers and body, or why there was none. */
function fire(port: number, shot: Shot, timeoutMs: number): Promise<{ status: number; retryAfter: string | null; body: string; headerText: string } | { none: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      if (!m) return resolve({ none: raw.length ? "not HTTP" : timedOut ? "timeout" : "closed without an answer" });
      const split = raw.indexOf("\r\n\r\n");
      const headerText = split < 0 ? raw : raw.slice(0, split);
      let body = split < 0 ? "" : raw.slice(split + 4);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(headerText)) body = dechunk(body);
      // A pipelined pair's second answer follows the first: keep only the first's body.
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(headerText)?.[1];
      if (length !== undefined) body = body.slice(0, Number(length));
      const retryAfter = /\r\nretry-after:\s*([^\r\n]*)/i.exec(headerText)?.[1] ?? null;
      resolve({ status: Number(m[1]), retryAfter, body: decoded(Buffer.from(body, "latin1"), headerText).toString("utf8"), headerText });
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", finish);
    socket.on("error", finish);
    socket.on("connect", async () => {
      for (const piece of shot.pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        if (shot.pauseMs) await sleep(shot.pauseMs);
      }
      if (shot.end && !socket.destroyed) socket.end();
    });
  });
}

/**
 * A body as the client meant to read it: workerd compresses an answer when the request accepts gzip or
 * br (the fuzz's random headers often do), and a compressed JSON error is still the error shape. A body
 * that does not decode (cut short, say) is judged as it came.
 */
function decoded(body: Buffer, headerText: string): Buffer {
  const encoding = /\r\ncontent-encoding:\s*([^\r\n]*)/i.exec(headerText)?.[1]?.trim().toLowerCase();
  try {
    if (encoding === "gzip") return gunzipSync(body);
    if (encoding === "br") return brotliDecompressSync(body);
    if (encoding === "deflate") return inflateSync(body);
  } catch {
    // Judged as it came.
  }
  return body;
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!Number.isFinite(size) || size <= 0) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/** Connections that send a header byte at a time and never finish, for `ms`; how many were answered or closed by the server. */
async function slowloris(port: number, connections: number, ms: number): Promise<{ opened: number; closedByServer: number }> {
  let closedByServer = 0;
  const sockets = await Promise.all(
    Array.from({ length: connections }, () =>
      new Promise<ReturnType<typeof connect> | undefined>((resolve) => {
        const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
        s.on("error", () => resolve(undefined));
        s.on("close", () => closedByServer++);
      }),
    ),
  );
  const open = sockets.filter((s): s is ReturnType<typeof connect> => s !== undefined);
  for (const s of open) s.write("GET /api/cohorts HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  const until = Date.now() + ms;
  let i = 0;
  while (Date.now() < until) {
    for (const s of open) if (!s.destroyed) s.write(`X-${i}: ${i}\r\n`);
    i++;
    await sleep(1_000);
  }
  const closed = closedByServer;
  for (const s of open) s.destroy();
  return { opened: open.length, closedByServer: closed };
}

export function fuzz(ctx: ScenarioContext): ScenarioSpec {
  const total = ctx.quick ? 1_500 : 10_000;
  const slow = ctx.quick ? { connections: 50, ms: 4_000 } : { connections: 300, ms: 15_000 };
  return {
    name: "fuzz",
    title: `Fuzz of ${total.toLocaleString("en-US")} requests`,
    item: 7,
    fault: `${total.toLocaleString("en-US")} raw-socket requests (seed ${ctx.seed}; ${Object.keys(KINDS).length} kinds: ${Object.keys(KINDS).join(", ")}), about 85% to the edge and 15% to the origin, plus ${slow.connections} slowloris connections for ${slow.ms / 1000} s`,
    database: "pglite",
    env: { ADMIT_PER_MINUTE: "300" },
    crowd: { citizens: ctx.quick ? 60 : 150, arrivalMs: 2_000 },
    async run(h) {
      await h.until(() => h.crowd.counts().joined >= h.crowd.citizens.length * 0.8, 60_000);
      // The fuzz's own citizens: their tickets and passes let requests reach past the gates. They are not
      // in the ledger (the fuzz may cancel their bookings), but the database checks cover their seats.
      const fuzzers = new Crowd({ edge: h.stack.edge, idp: h.stack.idp, mintSecret: h.stack.mintSecret }, new Tally(), { citizens: 6, arrivalMs: 0 });
      await fuzzers.mint();
      fuzzers.start();
      await h.until(() => fuzzers.counts().admitted >= 3, 30_000);
      const pool = new Pool(fuzzers);
      const r = rng(ctx.seed);
      const ports = { edge: Number(new URL(h.stack.edge).port), origin: Number(new URL(h.stack.origin).port) };
      const kinds = Object.keys(KINDS);
      const perKind: Record<string, { sent: number; status: Record<string, number>; notInShape: number }> = {};
      const notShapedExamples: string[] = [];
      h.event(`fuzz starts (seed ${ctx.seed}); ${fuzzers.counts().admitted} fuzz citizens hold passes`);
      const slowDone = slowloris(ports.edge, slow.connections, slow.ms);
      let next = 0;
      const worker = async () => {
        while (next < total) {
          const n = next++;
          // Every kind in turn for the first rounds, so even a short run has each; then at random.
          const kind = n < kinds.length * 3 ? kinds[n % kinds.length]! : pick(r, kinds);
          const target = r() < 0.85 ? "edge" : "origin";
          const shot: Shot = { kind, target, ...KINDS[kind]!(r, pool) };
          const answer = await fire(ports[target], shot, 5_000);
          const stats = (perKind[kind] ??= { sent: 0, status: {}, notInShape: 0 });
          stats.sent++;
          if ("none" in answer) {
            h.tally.failure(`fuzz: ${answer.none}`);
            stats.status[answer.none] = (stats.status[answer.none] ?? 0) + 1;
            continue;
          }
          h.tally.answer(`fuzz ${kind} to ${target} (${describe(shot)})`, answer.status, answer.retryAfter, answer.body);
          stats.status[answer.status] = (stats.status[answer.status] ?? 0) + 1;
          // Issue 11: every refusal in the one error shape. Counted here (a 2xx/3xx has its own shape).
          // An answer to HEAD has no body by HTTP's rules, so it cannot carry the shape; it is not counted.
          if (answer.status >= 400 && !isHead(shot) && !errorBody.safeParse(parseJson(answer.body)).success && !(answer.status === 404 && answer.body === "")) {
            stats.notInShape++;
            if (notShapedExamples.length < 8) notShapedExamples.push(`${kind} to ${target} (${describe(shot)}): ${answer.status} ${answer.body.slice(0, 100).replace(/\s+/g, " ")}`);
          }
        }
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: 16 }, worker));
      const loris = await slowDone;
      h.event(`${total} fuzz requests in ${((Date.now() - started) / 1000).toFixed(1)} s; ${loris.opened} slowloris connections held ${slow.ms / 1000} s, ${loris.closedByServer} closed by the server`);
      const missing = kinds.filter((k) => !perKind[k]);
      if (missing.length) h.fail(`fuzz kinds never sent: ${missing.join(", ")}`);
      const notInShape = Object.values(perKind).reduce((n, k) => n + k.notInShape, 0);
      h.note(`fuzz by kind: ${JSON.stringify(perKind)}`);
      h.note(`${notInShape} refusals (4xx/5xx) of the fuzz were not in the JSON error shape${notShapedExamples.length ? `, e.g. ${notShapedExamples.join(" | ")}` : ""}`);
      h.event(`${notInShape} fuzz refusals not in the JSON error shape`);
      await fuzzers.stop();
      await sleep(ctx.quick ? 2_000 : 5_000);
    },
  };
}

