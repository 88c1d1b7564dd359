/**
 * `npm run bench -- peer --peer-url http://127.0.0.1:PORT`: our join and poll workloads and the same two
 * against a second waiting room, in the same run, interleaved, so the two can be compared side by side on
 * one machine. Without --peer-url it measures nothing and says so (it is not part of the figures of
 * `npm run bench` unless a URL is given). Nothing of the other project is fetched or kept here: it is
 * started by whoever runs the comparison, on a loopback port.
 *
 * Per run: a fresh edge of ours (SHARDS=1, nobody admitted, as suite 1). Joins: 32 connections for the
 * suite's duration after a warm-up, ours with a new citizen's id_token per request, the peer's as its
 * --peer-join options say: `{{n}}`, wherever it is (path, a header, a POST's body; a GET has none), becomes
 * an id unique per join (describePeerJoin says exactly what is sent). Polls: each side first joins
 * as many citizens as our polls suite uses (not measured), taking each ticket from the join's answer,
 * then the same count of polls as `npm run bench -- polls`, a different ticket per request, in turn.
 * Which side goes first alternates from run to run. The peer's state is not reset between runs.
 *
 * Options (run.ts parses them): --peer-url URL, --peer-join "POST /api/join", --peer-join-body TEMPLATE,
 * --peer-join-header "name: value" (repeatable), --peer-ticket json:<path>|header:<name>|cookie:<name>,
 * --peer-poll "GET /api/status?ticket={{v}}", --peer-poll-header "name: value" (repeatable),
 * --peer-tickets N, --peer-pid PID (repeatable). `{{v}}` in the poll's path or headers is a ticket.
 * With --peer-pid, CPU per answered join and poll is counted on both sides over each measured load: ours
 * is workerd's, the peer's that of the given processes and their descendants (its server and its store).
 */
import { randomUUID } from "node:crypto";
import { Citizens, joinLoad, joinMany } from "../lib/edge-client.js";
import { okPerSecond, runLoad, shortfallNote, type LoadResult } from "../lib/load.js";
import { startEdge } from "../lib/miniflare.js";
import { cpuSeconds, treeCpuSeconds, workerdPid } from "../lib/workerd-process.js";
import { figure, series } from "../lib/report.js";
import type { PeerTarget, Suite, SuiteContext } from "../lib/suite.js";
import { loadFlags, ONE_SHARD_NO_ADMISSIONS } from "./joins.js";
import { measuredPolls, pollLoadBoundSeconds, pollsCutNotes, pollTickets } from "./polls.js";

/** Reads the ticket out of one of the peer's join answers, as --peer-ticket says. */
function ticketFrom(spec: string, res: Response, body: string): string | undefined {
  const [kind, ...rest] = spec.split(":");
  const name = rest.join(":");
  if (kind === "header") return res.headers.get(name) ?? undefined;
  if (kind === "cookie") {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      if (pair!.slice(0, at).trim() === name) return pair!.slice(at + 1).trim();
    }
    return undefined;
  }
  if (kind === "json") {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
    for (const key of name.split(".").filter(Boolean)) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
  }
  throw new Error(`--peer-ticket is json:<path>, header:<name> or cookie:<name>, not ${spec}`);
}

/** A template as a description shows it: `{{x}}` as `<what>`. */
const shown = (template: string, x: string, what: string) => template.replaceAll(`{{${x}}}`, `<${what}>`);

/**
 * Exactly what one request of the peer's sends, for the printed and recorded description: method, path,
 * headers, body or none, and where `{{x}}` (shown as `<what>`) is filled in, or that it is nowhere.
 */
function describeRequest(request: { method: string; path: string; headers: Record<string, string>; body?: string }, x: string, what: string): string {
  const headers = Object.entries(request.headers);
  const filled = [
    request.path.includes(`{{${x}}}`) ? "the path" : "",
    ...headers.filter(([, v]) => v.includes(`{{${x}}}`)).map(([k]) => `the ${k} header`),
    request.body?.includes(`{{${x}}}`) ? "the body" : "",
  ].filter(Boolean);
  return (
    `${request.method} ${shown(request.path, x, what)}` +
    (headers.length ? ` with ${headers.map(([k, v]) => `${k}: ${shown(v, x, what)}`).join(", ")}` : " with no header of its own") +
    (request.body !== undefined ? ` and the body ${shown(request.body, x, what)}` : " and no body") +
    (filled.length ? ` (<${what}> in ${filled.join(" and ")})` : ` (no <${what}> anywhere: every such request is the same)`)
  );
}

/** What each of the peer's joins sends; `<id>` is this process's random prefix, a dash and a counter, unique per join. */
export function describePeerJoin(peer: PeerTarget): string {
  return describeRequest(peer.join, "n", "id");
}

/** What each of the peer's polls sends; `<ticket>` is one of the tickets its joins answered, in turn. */
export function describePeerPoll(peer: PeerTarget): string {
  return describeRequest(peer.poll, "v", "ticket");
}

/** The peer's join request with `{{n}}` filled in. */
function peerJoinRequest(peer: PeerTarget, n: string): { url: string; init: RequestInit } {
  const fill = (t: string) => t.replaceAll("{{n}}", n);
  return {
    url: `${peer.url}${fill(peer.join.path)}`,
    init: {
      method: peer.join.method,
      headers: Object.fromEntries(Object.entries(peer.join.headers).map(([k, v]) => [k, fill(v)])),
      ...(peer.join.body !== undefined && peer.join.method !== "GET" ? { body: fill(peer.join.body) } : {}),
      redirect: "manual",
      signal: AbortSignal.timeout(30_000),
    },
  };
}

interface Side {
  joins: LoadResult;
  polls: LoadResult;
  /** CPU seconds over each measured load (workerd's for ours, the --peer-pid trees' for the peer); absent when not counted. */
  cpu?: { joins: number; polls: number };
}

/** Milliseconds of CPU per request answered 2xx over a measured load (not its warm-up); NaN when not counted. */
function msPerAnswer(cpuSeconds: number | undefined, load: LoadResult): number {
  return cpuSeconds !== undefined && load.ok > 0 ? (cpuSeconds * 1000) / load.ok : NaN;
}

/** CPU seconds `f`'s load took of the processes `count` reads, with what it returned; `count` undefined: not counted. */
async function counted<T>(count: (() => number) | undefined, f: () => Promise<T>): Promise<{ result: T; cpuSeconds?: number }> {
  const before = count?.();
  const result = await f();
  return count && before !== undefined ? { result, cpuSeconds: count() - before } : { result };
}

export const peer: Suite = {
  name: "peer",
  title: "Side by side with a second waiting room (joins, polls)",
  async run(ctx: SuiteContext) {
    const target = ctx.peer;
    if (!target) {
      return {
        method: "",
        settings: {},
        figures: [],
        raw: [],
        notes: [],
        skipped: "no --peer-url given, so there is nothing to compare with; nothing measured (see bench/README.md, \"Side by side\")",
      };
    }
    // Unique across this process (and, through the random prefix, across processes) so no peer join repeats.
    const prefix = randomUUID().slice(0, 8);
    let nextPeerIndex = 0;
    const tickets = target.tickets ?? pollTickets(ctx.quick);
    const amount = measuredPolls(ctx.quick);

    const peerJoinLoad = (seconds: number) => {
      const first = nextPeerIndex;
      // Room for any rate reached here: the index only has to be unique, not dense.
      nextPeerIndex += 100_000;
      const path = target.join.path.replaceAll("{{n}}", `${prefix}-{{n}}`);
      return runLoad({
        url: `${target.url}/`,
        pathTemplate: path,
        method: target.join.method,
        headers: Object.fromEntries(Object.entries(target.join.headers).map(([k, v]) => [k, v.replaceAll("{{n}}", `${prefix}-{{n}}`)])),
        ...(target.join.body !== undefined ? { body: target.join.body.replaceAll("{{n}}", `${prefix}-{{n}}`) } : {}),
        firstIndex: first,
        connections: ctx.connections,
        durationSeconds: seconds,
        timeoutSeconds: 10,
      });
    };
    const peerTickets = async (count: number): Promise<string[]> => {
      const out: string[] = [];
      let failed = 0;
      let lastFailure = "";
      const worker = async () => {
        while (out.length + failed < count) {
          const { url, init } = peerJoinRequest(target, `${prefix}-${nextPeerIndex++}`);
          const res = await fetch(url, init);
          const body = await res.text();
          const ticket = res.status < 400 ? ticketFrom(target.ticket, res, body) : undefined;
          if (ticket) out.push(ticket);
          else {
            failed++;
            lastFailure = `${res.status} ${body.slice(0, 200)}`;
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      if (out.length < count * 0.99) throw new Error(`the peer gave ${out.length} tickets for ${count} joins (${target.ticket}); last failure: ${lastFailure}`);
      return out;
    };
    const pollLoad = (url: string, pathTemplate: string | undefined, method: "GET" | "POST", headers: Record<string, string>, values: string[], seconds: number, count?: number) =>
      runLoad({
        url,
        ...(pathTemplate !== undefined ? { pathTemplate } : {}),
        method,
        headers,
        values,
        connections: ctx.connections,
        durationSeconds: seconds,
        ...(count ? { amount: count } : {}),
        timeoutSeconds: 10,
      });

    ctx.log(`peer joins: ${describePeerJoin(target)}; peer polls: ${describePeerPoll(target)}`);
    const raw = await ctx.eachRun(async (run) => {
      const edge = await startEdge({ bundle: "edge", vars: ONE_SHARD_NO_ADMISSIONS });
      try {
        // CPU is counted on both sides or neither: workerd's for ours, the --peer-pid trees' for the peer.
        const ourPid = target.pids ? workerdPid() : undefined;
        if (target.pids && ourPid === undefined) throw new Error("the workerd process of our edge was not found, so its CPU cannot be counted beside the peer's");
        const cpuOf: Record<"ours" | "peer", (() => number) | undefined> = {
          ours: ourPid !== undefined ? () => cpuSeconds(ourPid) : undefined,
          peer: target.pids ? () => treeCpuSeconds(target.pids!) : undefined,
        };
        const citizens = new Citizens();
        const warmBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
        const runBodies = await citizens.joinBodiesFor(ctx.seconds);
        const pollTokens = await citizens.idTokens(tickets);
        const ourJoins = async () => {
          await joinLoad(`${edge.url}/api/queue/join`, warmBodies, { connections: ctx.connections, durationSeconds: ctx.warmupSeconds });
          return counted(cpuOf.ours, () => joinLoad(`${edge.url}/api/queue/join`, runBodies, { connections: ctx.connections, durationSeconds: ctx.seconds }));
        };
        const theirJoins = async () => {
          await peerJoinLoad(ctx.warmupSeconds);
          return counted(cpuOf.peer, () => peerJoinLoad(ctx.seconds));
        };
        const ourPolls = async () => {
          const waiting = (await joinMany(edge.url, pollTokens)).map((t) => t.ticket);
          const go = (seconds: number, count?: number) =>
            pollLoad(`${edge.url}/api/queue/status`, undefined, "GET", { authorization: "Bearer {{v}}" }, waiting, seconds, count);
          await go(ctx.warmupSeconds);
          return counted(cpuOf.ours, () => go(pollLoadBoundSeconds(amount), amount));
        };
        const theirPolls = async () => {
          const held = await peerTickets(tickets);
          const go = (seconds: number, count?: number) => pollLoad(`${target.url}/`, target.poll.path, target.poll.method, target.poll.headers, held, seconds, count);
          await go(ctx.warmupSeconds);
          return counted(cpuOf.peer, () => go(pollLoadBoundSeconds(amount), amount));
        };
        const first = run % 2 === 0 ? "ours" : "peer";
        const sides: Record<"ours" | "peer", Partial<Record<"joins" | "polls", { result: LoadResult; cpuSeconds?: number }>>> = { ours: {}, peer: {} };
        for (const [workload, mine, theirs] of [["joins", ourJoins, theirJoins], ["polls", ourPolls, theirPolls]] as const) {
          for (const who of first === "ours" ? (["ours", "peer"] as const) : (["peer", "ours"] as const)) {
            sides[who][workload] = await (who === "ours" ? mine() : theirs());
          }
        }
        const side = (who: "ours" | "peer"): Side => {
          const { joins, polls } = sides[who] as Record<"joins" | "polls", { result: LoadResult; cpuSeconds?: number }>;
          return {
            joins: joins.result,
            polls: polls.result,
            ...(joins.cpuSeconds !== undefined && polls.cpuSeconds !== undefined ? { cpu: { joins: joins.cpuSeconds, polls: polls.cpuSeconds } } : {}),
          };
        };
        const ours = side("ours");
        const theirs = side("peer");
        const cpu = (seconds: number, load: LoadResult) => (load.ok > 0 ? `, ${msPerAnswer(seconds, load).toFixed(2)} ms CPU each` : "");
        const line = (s: Side) =>
          `${okPerSecond(s.joins).toFixed(0)} joins/s (p50/p99 ${s.joins.latencyMs.p50}/${s.joins.latencyMs.p99} ms${s.cpu ? cpu(s.cpu.joins, s.joins) : ""})${loadFlags(s.joins)}, ` +
          `${okPerSecond(s.polls).toFixed(0)} polls/s (p99 ${s.polls.latencyMs.p99} ms, ${s.polls.non2xx} non-2xx of ${s.polls.requests}${s.cpu ? cpu(s.cpu.polls, s.polls) : ""})`;
        ctx.log(`run ${run + 1}: ours ${line(ours)}; peer ${line(theirs)}`);
        return { run, first, ours, peer: theirs };
      } finally {
        await edge.dispose();
      }
    });
    const of = (who: "ours" | "peer", f: (s: Side) => number) => raw.map((r) => f(r[who]));
    const cpuNote = "workerd for ours; the --peer-pid processes and their descendants for the peer";
    const pair = (id: string, label: string, unit: string, f: (s: Side) => number, note?: string) =>
      figure(id, series(`P. ${label}, ours`, unit, of("ours", f)), series(`${label}, peer`, unit, of("peer", f)), "ours / peer", undefined, note);
    // Poll loads are counts bounded in time: a side cut short is a figure over fewer polls, which it says.
    const pollsCut =
      (["ours", "peer"] as const)
        .map((who) => {
          const note = shortfallNote(raw.map((r) => ({ run: r.run, load: r[who].polls })));
          return note ? `${who === "ours" ? "our" : "the peer's"} polls: ${note}` : "";
        })
        .filter(Boolean)
        .join("; ") || undefined;
    return {
      method:
        `Our edge in workerd via Miniflare (SHARDS=1, nobody admitted, a fresh shard per run) and the peer at ${target.url} (as started by whoever runs this; ` +
        "its state is not reset), the same loads from autocannon in a separate process, interleaved, the side that goes first alternating per run. " +
        `Joins: ${ctx.connections} connections, ${ctx.seconds} s after ${ctx.warmupSeconds} s of warm-up; ours with a new citizen's RS256 id_token per request, ` +
        `the peer's ${describePeerJoin(target)}, where <id> is a random 8-hex prefix per bench process, a dash and a counter, unique per join. ` +
        `Polls: ${tickets} tickets per side from joins made beforehand (not measured, the peer's sent as its measured joins are), ` +
        `then ${amount} polls (cut short at ${pollLoadBoundSeconds(amount)} s if they take longer, which the notes say), a different ticket per request in turn; ` +
        `ours GET /api/queue/status with authorization: Bearer <ticket> and no body, the peer's ${describePeerPoll(target)}.`,
      settings: { peer: target, connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, tickets, polls: amount },
      figures: [
        pair("peer.joins", "Joins/s", "/s", (s) => okPerSecond(s.joins)),
        pair("peer.join-p99", `Join latency p99, ${ctx.connections} connections`, "ms", (s) => s.joins.latencyMs.p99),
        pair("peer.polls", "Polls/s", "/s", (s) => okPerSecond(s.polls), pollsCut),
        pair("peer.poll-p99", `Poll latency p99, ${ctx.connections} connections`, "ms", (s) => s.polls.latencyMs.p99, pollsCut),
        pair("peer.poll-non-2xx", "Polls answered non-2xx", "polls", (s) => s.polls.non2xx, pollsCut),
        ...(target.pids
          ? [
              pair("peer.cpu-per-join", "CPU per join", "ms", (s) => msPerAnswer(s.cpu?.joins, s.joins), cpuNote),
              pair("peer.cpu-per-poll", "CPU per poll", "ms", (s) => msPerAnswer(s.cpu?.polls, s.polls), cpuNote),
            ]
          : []),
      ],
      raw,
      notes: [
        `Non-2xx answers, ours: joins ${raw.reduce((a, r) => a + r.ours.joins.non2xx, 0)}, polls ${raw.reduce((a, r) => a + r.ours.polls.non2xx, 0)}; ` +
          `peer: joins ${raw.reduce((a, r) => a + r.peer.joins.non2xx, 0)}, polls ${raw.reduce((a, r) => a + r.peer.polls.non2xx, 0)} (status codes per load in raw).`,
        "The peer's rate limits, if any, are its own: a 429 from it counts as non-2xx and is not a success.",
        target.pids
          ? `CPU per request: user + system time from /proc over each measured load, per answer 2xx: ours is workerd's (the Worker and the shard's Durable Object with its SQLite), the peer's that of processes ${target.pids.join(", ")} (--peer-pid) and their descendants.`
          : "CPU per request not measured: no --peer-pid named the peer's processes.",
        ...pollsCutNotes(amount, pollsCut),
      ],
    };
  },
};
