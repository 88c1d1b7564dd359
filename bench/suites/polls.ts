/**
 * 2. Status polls per second for waiting tickets, and the Durable Object calls each poll costs (design
 * invariant 7: polls are answered from the ticket and a per-shard snapshot cached 1 s, so an object sees
 * about one call per second, not one per poll), in a cohort of ONE_LINE_SHARDS shards that keep one line
 * (docs/one-line.md) beside a cohort of one shard, in the same run.
 *
 * Per run and cohort: a fresh edge (bench/workers/edge-bench.ts: the same app plus read-only probes of the
 * objects' own RPC counters), nobody admitted; a few thousand citizens join first with their id_tokens
 * (not measured); then autocannon polls GET /api/queue/status with `Authorization: Bearer <ticket>`, a
 * different waiting ticket each request (in turn, round-robin), with enough tickets that none is polled
 * more than half of POLL_LIMIT allows; the measured poll load is a count, not a duration (issue 10: at
 * least 100,000 polls, every answer 2xx), so a rare 5xx has room to show, bounded in time (a load that
 * crawls stops at its bound with fewer polls, and the figures say so). Then joins are measured on the
 * same edge, each with the id_token of a citizen who has not joined yet.
 *
 * Baseline (issue 29): bench/workers/plain-json.js, a Worker in the same workerd that answers a GET with JSON and
 * does nothing else (no Durable Object, no verification, no framework). Per cohort, the byte length of a real
 * status answer for a waiting ticket is measured first (the median of a few tickets' answers), and the plain
 * Worker answers exactly that many bytes with the same content-type and cache-control; it is sent the very
 * same load: GET, `Authorization: Bearer <ticket>` from the same list in turn, the same connections, warm-up
 * and count of requests, after the polls in the first run and before them in the next, alternating. Each side's workerd CPU per
 * answer (/proc/<pid>/stat, as the joins suite counts it) is kept in raw.
 *
 * With several shards a poll also counts the people ahead cohort-wide (src/edge/queue/cohort-ahead.ts):
 * from the shard's snapshot, and the ticket's rank, read from the shard once per chunk of places (the
 * `ranks` call). Every call the shards receive during the polls is counted; the coordinator's (only the
 * shards' reports from their alarms, never a poll's) are counted apart.
 */
import { Citizens, getJson, joinLoad, joinMany } from "../lib/edge-client.js";
import { okPerSecond, rateLimited, runLoad, shortfallNote, type LoadResult } from "../lib/load.js";
import { median } from "../lib/stats.js";
import { cpuSeconds, workerdPid } from "../lib/workerd-process.js";
import { rateLimit, startEdge } from "../lib/miniflare.js";
import { figure, fmt, series } from "../lib/report.js";
import type { Suite, SuiteContext } from "../lib/suite.js";
import type { CoordinatorProbe, ShardProbe } from "../workers/edge-bench.js";
import { loadFlags, NO_ADMISSIONS, tally } from "./joins.js";

/**
 * More polls per second than any load here reaches (twice the best seen so far). The tickets are
 * sized so that at this rate no ticket is polled more than half its POLL_LIMIT within one window.
 */
const POLL_RATE_CEILING = 8_000;

/*
 * Tickets are polled in turn, so within any one window of POLL_LIMIT's period a ticket is polled at most
 * rate × period / tickets times (plus once where the warm-up hands over to the measured load, both
 * starting from the first ticket); at POLL_RATE_CEILING that must stay under half the limit. The measured
 * load (a count of polls) lasts longer than one period, so the whole period counts.
 */

/** Polls in one run's measured load (issue 10: at least 100,000), fewer in a --quick smoke run. */
export const MEASURED_POLLS = 100_000;
const QUICK_POLLS = 10_000;
/** The slowest poll rate the measured load is allowed before it is cut short (bounds a run's time). */
const SLOWEST_POLLS_PER_SECOND = 500;

/** Issue 29: polls per second against the plain Worker answering the same bytes of JSON, same run. */
export const POLL_TARGETS = { ratioToPlain: 0.9 };

/** Waiting tickets whose status answers are measured for the plain Worker's answer size. */
const ANSWER_SAMPLES = 15;

/** Shards of the cohort whose polls are the headline: enough to keep one line through the coordinator. */
export const ONE_LINE_SHARDS = 4;
/** Each run measures both cohorts, the one-shard one being the figure of runs before one line existed. */
const SHARD_COUNTS = [ONE_LINE_SHARDS, 1] as const;
/** The cohort the suite's citizens join (by their birth date). */
export const COHORT = "55-59";

type ShardCalls = ShardProbe["calls"];

/** Every RPC call that reached the cohort's shards so far, by method, summed over the shards. */
async function shardCalls(edgeUrl: string, shards: number): Promise<ShardCalls> {
  const { shards: probes } = (await getJson(`${edgeUrl}/__bench/shards?cohort=${COHORT}&shards=${shards}`)) as { shards: ShardProbe[] };
  const sum = { ...probes[0]!.calls };
  for (const probe of probes.slice(1)) for (const method of Object.keys(sum) as Array<keyof ShardCalls>) sum[method] += probe.calls[method];
  return sum;
}

function callsBetween(before: ShardCalls, after: ShardCalls): ShardCalls {
  const out = { ...after };
  for (const method of Object.keys(out) as Array<keyof ShardCalls>) out[method] -= before[method];
  return out;
}

function total(calls: ShardCalls): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}

/** The cohort's coordinator, for a cohort of more than one shard (a cohort of one never calls it). */
async function coordinator(edgeUrl: string): Promise<CoordinatorProbe> {
  return (await getJson(`${edgeUrl}/__bench/coordinator?cohort=${COHORT}`)) as CoordinatorProbe;
}

/** A real status answer for a waiting ticket, as the plain Worker copies it. */
interface StatusAnswer {
  /** The median of the sampled answers' body lengths: what the plain Worker answers. */
  bytes: number;
  /** Body bytes of each sampled answer. */
  samples: number[];
  contentType: string | null;
  cacheControl: string | null;
}

/**
 * As the load generator asks: it sends no Accept-Encoding, so workerd answers uncompressed (Node's fetch
 * would ask for gzip, and then be handed the body inflated but the headers of the compressed answer).
 */
const AS_THE_LOAD_ASKS = { "accept-encoding": "identity" };

/** The status answers of a few waiting tickets spread over the list (not measured; each ticket polled once more). */
async function statusAnswer(edgeUrl: string, tickets: string[]): Promise<StatusAnswer> {
  const samples: number[] = [];
  let headers: Headers | undefined;
  for (let i = 0; i < ANSWER_SAMPLES; i++) {
    const ticket = tickets[Math.floor((i * (tickets.length - 1)) / (ANSWER_SAMPLES - 1))]!;
    const res = await fetch(`${edgeUrl}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}`, ...AS_THE_LOAD_ASKS }, signal: AbortSignal.timeout(30_000) });
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`status answered ${res.status}: ${new TextDecoder().decode(body)}`);
    samples.push(body.byteLength);
    headers = res.headers;
  }
  return { bytes: Math.round(median(samples)), samples, contentType: headers!.get("content-type"), cacheControl: headers!.get("cache-control") };
}

/** Checks that the plain Worker answers what it stands for: the same bytes of JSON under the same headers. */
async function checkPlainAnswer(plainUrl: string, answer: StatusAnswer, ticket: string): Promise<void> {
  const res = await fetch(plainUrl, { headers: { authorization: `Bearer ${ticket}`, ...AS_THE_LOAD_ASKS }, signal: AbortSignal.timeout(30_000) });
  const body = await res.arrayBuffer();
  const got = { status: res.status, bytes: body.byteLength, contentType: res.headers.get("content-type"), cacheControl: res.headers.get("cache-control") };
  const want = { status: 200, bytes: answer.bytes, contentType: answer.contentType, cacheControl: answer.cacheControl };
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`the plain Worker answers ${JSON.stringify(got)}, a status answer is ${JSON.stringify(want)}`);
}

/** One side's measured load and the workerd CPU it took. */
interface Measured {
  load: LoadResult;
  cpuSeconds: number;
  /** CPU milliseconds per 2xx answer. */
  msPerAnswer: number;
}

/** One cohort's measurement in one run: the poll load, joins on the same edge, and what reached the objects. */
interface CohortRun {
  run: number;
  shards: number;
  polls: LoadResult;
  /** The plain Worker's load, the same shape as the polls', in the same workerd. */
  plain: LoadResult;
  answer: StatusAnswer;
  cpu: { pollSeconds: number; plainSeconds: number; msPerPoll: number; msPerPlain: number };
  joins: LoadResult;
  /** RPC calls to the shards, by method, during the warm-up polls and during the measured ones. */
  shardCallsDuringWarmup: ShardCalls;
  shardCallsDuringPolls: ShardCalls;
  /** With more than one shard: the coordinator's reports during the measured polls, and tickets it had ranked after them. */
  coordinator?: { reportsDuringPolls: number; viewsDuringPolls: number; ranked: number };
}

/** Waiting tickets a poll load goes round (see the suite's first comment), from wrangler.toml's POLL_LIMIT. */
export function pollTickets(quick: boolean): number {
  const pollLimit = rateLimit("POLL_LIMIT");
  return Math.max(quick ? 500 : 2_000, Math.ceil((POLL_RATE_CEILING * pollLimit.period) / (pollLimit.limit / 2)));
}

/** Polls in one run's measured load. */
export function measuredPolls(quick: boolean): number {
  return quick ? QUICK_POLLS : MEASURED_POLLS;
}

/** The duration that bounds a count-bounded poll load: if polls crawl, it stops there with fewer. */
export function pollLoadBoundSeconds(amount: number): number {
  return Math.ceil(amount / SLOWEST_POLLS_PER_SECOND);
}

/** A suite's note on its poll loads of `amount` polls that were cut short (`cut`, from shortfallNote), if any were. */
export function pollsCutNotes(amount: number, cut: string | undefined): string[] {
  return cut ? [`Poll loads that stopped at their ${pollLoadBoundSeconds(amount)} s bound before ${amount.toLocaleString("en-US")} polls (every rate is over the time a load ran): ${cut}.`] : [];
}

async function measureCohort(ctx: SuiteContext, run: number, shards: number, tickets: number): Promise<CohortRun> {
  const edge = await startEdge({ bundle: "edge-bench", vars: { SHARDS: String(shards), ...NO_ADMISSIONS }, plainJson: true });
  try {
    const pid = workerdPid();
    if (pid === undefined) throw new Error("no workerd process found under this bench process");
    const citizens = new Citizens();
    const joined = await joinMany(edge.url, await citizens.idTokens(tickets));
    const waiting = joined.filter((t) => t.state === "waiting").map((t) => t.ticket);
    if (waiting.length < tickets * 0.99) throw new Error(`only ${waiting.length} of ${tickets} tickets are waiting`);
    const answer = await statusAnswer(edge.url, waiting);
    const plainUrl = `${edge.plainUrl!}/${answer.bytes}`;
    await checkPlainAnswer(plainUrl, answer, waiting[0]!);
    // Polls and the plain Worker get the very same load: only the URL differs.
    const load = (url: string) => (seconds: number, amount?: number) =>
      runLoad({
        url,
        method: "GET",
        headers: { authorization: "Bearer {{v}}" },
        values: waiting,
        connections: ctx.connections,
        durationSeconds: seconds,
        ...(amount ? { amount } : {}),
        timeoutSeconds: 10,
      });
    const poll = load(`${edge.url}/api/queue/status`);
    // A count of requests, bounded in time: a load that has not had them all by the bound stops there and
    // says so (its rate is over the time it ran; the suite's notes name it).
    const amount = measuredPolls(ctx.quick);
    const measured = async (side: typeof poll): Promise<Measured> => {
      const before = cpuSeconds(pid);
      const l = await side(pollLoadBoundSeconds(amount), amount);
      const cpu = cpuSeconds(pid) - before;
      return { load: l, cpuSeconds: cpu, msPerAnswer: l.ok > 0 ? (cpu * 1000) / l.ok : NaN };
    };
    const plainSide = async (): Promise<Measured> => {
      const plainLoad = load(plainUrl);
      await plainLoad(ctx.warmupSeconds);
      return measured(plainLoad);
    };
    // Alternate the order, so neither side always runs on a warmer machine.
    const plainFirst = run % 2 === 1;
    const plainBefore = plainFirst ? await plainSide() : undefined;
    const callsAtStart = await shardCalls(edge.url, shards);
    await poll(ctx.warmupSeconds);
    const callsBefore = await shardCalls(edge.url, shards);
    const coordinatorBefore = shards > 1 ? await coordinator(edge.url) : undefined;
    const p = await measured(poll);
    const callsAfter = await shardCalls(edge.url, shards);
    const coordinatorAfter = shards > 1 ? await coordinator(edge.url) : undefined;
    const plain = plainBefore ?? (await plainSide());
    let line: CohortRun["coordinator"];
    if (coordinatorBefore && coordinatorAfter) {
      line = {
        reportsDuringPolls: coordinatorAfter.calls.report - coordinatorBefore.calls.report,
        viewsDuringPolls: coordinatorAfter.calls.view - coordinatorBefore.calls.view,
        ranked: coordinatorAfter.ranked,
      };
      // Every ticket polled was ranked cohort-wide, or the polls did not measure one line.
      if (line.ranked < joined.length) throw new Error(`the coordinator ranked ${line.ranked} of ${joined.length} tickets: the ${shards} shards did not keep one line`);
    }
    const warmBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
    const runBodies = await citizens.joinBodiesFor(ctx.seconds);
    const joins = (bodies: string[], seconds: number) =>
      joinLoad(`${edge.url}/api/queue/join`, bodies, { connections: ctx.connections, durationSeconds: seconds });
    await joins(warmBodies, ctx.warmupSeconds);
    const j = await joins(runBodies, ctx.seconds);
    const during = callsBetween(callsBefore, callsAfter);
    const result: CohortRun = {
      run,
      shards,
      polls: p.load,
      plain: plain.load,
      answer,
      cpu: { pollSeconds: p.cpuSeconds, plainSeconds: plain.cpuSeconds, msPerPoll: p.msPerAnswer, msPerPlain: plain.msPerAnswer },
      joins: j,
      shardCallsDuringWarmup: callsBetween(callsAtStart, callsBefore),
      shardCallsDuringPolls: during,
      ...(line ? { coordinator: line } : {}),
    };
    const q = p.load;
    ctx.log(
      `run ${run + 1}, ${shards} shard${shards > 1 ? "s" : ""}: ${q.requests} polls, ${q.non2xx} non-2xx ${JSON.stringify(q.statusCodes)}, ${okPerSecond(q).toFixed(0)} polls/s${loadFlags(q)}, ` +
        `p50/p99 ${q.latencyMs.p50}/${q.latencyMs.p99} ms, CPU ${p.msPerAnswer.toFixed(3)} ms/poll; ` +
        `plain Worker (${answer.bytes} B of JSON${plainFirst ? ", first" : ""}) ${okPerSecond(plain.load).toFixed(0)} req/s${loadFlags(plain.load)}, ` +
        `p50/p99 ${plain.load.latencyMs.p50}/${plain.load.latencyMs.p99} ms, CPU ${plain.msPerAnswer.toFixed(3)} ms/req; ` +
        `${okPerSecond(j).toFixed(0)} joins/s${loadFlags(j)}, ${total(during)} shard calls in ${q.ok} polls ${JSON.stringify(nonZero(during))}` +
        (line ? `, coordinator: ${line.reportsDuringPolls} reports in ${q.durationSeconds.toFixed(1)} s, ${line.ranked} tickets ranked` : ""),
    );
    return result;
  } finally {
    await edge.dispose();
  }
}

function nonZero(calls: ShardCalls): Partial<ShardCalls> {
  return Object.fromEntries(Object.entries(calls).filter(([, n]) => n !== 0));
}

export const polls: Suite = {
  name: "polls",
  title: "Status polls/s for waiting tickets",
  async run(ctx) {
    const pollLimit = rateLimit("POLL_LIMIT");
    const tickets = pollTickets(ctx.quick);
    const runs = await ctx.eachRun(async (run) => {
      // Alternate the order, so neither cohort always runs on a warmer machine.
      const order = run % 2 === 0 ? SHARD_COUNTS : [...SHARD_COUNTS].reverse();
      const cohorts: CohortRun[] = [];
      for (const shards of order) cohorts.push(await measureCohort(ctx, run, shards, tickets));
      return cohorts;
    });
    const raw = runs.flat();
    const of = (shards: number) => raw.filter((r) => r.shards === shards);
    const line = of(ONE_LINE_SHARDS);
    const one = of(1);
    const callsPerPoll = (r: CohortRun) => (r.polls.ok > 0 ? total(r.shardCallsDuringPolls) / r.polls.ok : NaN);
    const lineLabel = `${ONE_LINE_SHARDS} shards keeping one line`;
    // A poll load is a count bounded in time: one cut short is a figure over fewer polls, which it says.
    const cutShort = (label: string, runs: CohortRun[]) => {
      const note = shortfallNote(runs.map((r) => ({ run: r.run, load: r.polls })));
      return note ? `polls, ${label}: ${note}` : undefined;
    };
    const lineCut = cutShort(lineLabel, line);
    const oneCut = cutShort("1 shard", one);
    const eitherCut = [lineCut, oneCut].filter(Boolean).join("; ") || undefined;
    // Issue 10: no poll may be answered anything but 2xx (workerd answers 500 when a poll waits on another
    // request's promise). Connection errors and timeouts are not answers; they are counted in the notes.
    const non2xx = (id: string, runs: CohortRun[], label: string, note: string | undefined) =>
      figure(
        id,
        series(`2. Polls answered non-2xx, ${label}`, "polls", runs.map((r) => r.polls.non2xx)),
        series("polls answered in the measured load", "polls", runs.map((r) => r.polls.requests)),
        "non-2xx / polls",
        { text: "0 in every run", met: (f) => f.value.max === 0 },
        note,
      );
    // The baseline of "calls per poll" is the naive design: every poll asks its object (1 call per poll).
    const calls = (id: string, runs: CohortRun[], label: string, note: string | undefined) =>
      figure(
        id,
        series(`2. Durable Object calls per poll, ${label}`, "calls", runs.map(callsPerPoll)),
        series("one call per poll (no snapshot cache)", "calls", runs.map(() => 1)),
        "calls / naive",
        { text: "< 0.01", met: (f) => f.value.median < 0.01 },
        note,
      );
    // Issue 29: a poll against the floor of answering a GET with JSON here, the same bytes, in the same workerd.
    const plainBytes = (runs: CohortRun[]) => {
      const sizes = [...new Set(runs.map((r) => r.answer.bytes))];
      return `${sizes.length === 1 ? sizes[0] : `${Math.min(...sizes)}–${Math.max(...sizes)}`} B`;
    };
    // Either side's load cut short at its bound makes the figure one over fewer requests, which it says.
    const againstPlain = (id: string, runs: CohortRun[], label: string) => {
      const plainCut = shortfallNote(runs.map((r) => ({ run: r.run, load: r.plain })));
      const cut = [cutShort(label, runs), plainCut && `plain Worker, ${label}: ${plainCut}`].filter(Boolean).join("; ") || undefined;
      return [
        figure(
          `${id}plain-worker`,
          series(`2. Status polls/s (waiting tickets), ${label}`, "/s", runs.map((r) => okPerSecond(r.polls))),
          series(`plain Worker answering the same JSON (${plainBytes(runs)}), same edge, req/s`, "/s", runs.map((r) => okPerSecond(r.plain))),
          "polls / plain Worker",
          { text: `≥ ${POLL_TARGETS.ratioToPlain}× plain`, met: (f) => f.ratio.median >= POLL_TARGETS.ratioToPlain },
          cut,
        ),
        ...(["p50", "p99"] as const).map((q) =>
          figure(
            `${id}${q}-plain`,
            series(`2. Poll latency ${q}, ${label}, ${ctx.connections} connections`, "ms", runs.map((r) => r.polls.latencyMs[q])),
            series(`plain Worker ${q}, same load`, "ms", runs.map((r) => r.plain.latencyMs[q])),
            "poll / plain",
            undefined,
            cut,
          ),
        ),
      ];
    };
    const figures = [
      figure(
        "polls.one-line",
        series(`2. Status polls/s (waiting tickets), ${lineLabel}`, "/s", line.map((r) => okPerSecond(r.polls))),
        series("status polls/s, 1 shard, same run", "/s", one.map((r) => okPerSecond(r.polls))),
        `${ONE_LINE_SHARDS} shards / 1 shard`,
        undefined,
        eitherCut,
      ),
      ...againstPlain("polls.one-line-", line, lineLabel),
      figure(
        "polls.one-line-joins",
        series(`2. Joins/s after the polls, ${lineLabel}`, "/s", line.map((r) => okPerSecond(r.joins))),
        series("joins/s after the polls, 1 shard, same run", "/s", one.map((r) => okPerSecond(r.joins))),
        `${ONE_LINE_SHARDS} shards / 1 shard`,
      ),
      non2xx("polls.one-line-non-2xx", line, lineLabel, lineCut),
      calls("polls.one-line-object-calls-per-poll", line, lineLabel, lineCut),
      // The coordinator hears each shard about once a second, whatever the polls: never per poll.
      figure(
        "polls.one-line-coordinator-calls",
        series(
          `2. Coordinator calls per shard per second during the polls, ${lineLabel}`,
          "calls",
          line.map((r) => (r.coordinator!.reportsDuringPolls + r.coordinator!.viewsDuringPolls) / r.polls.durationSeconds / r.shards),
        ),
        series("one report a second per shard", "calls", line.map(() => 1)),
        "calls / one a second",
        undefined,
        lineCut,
      ),
      // The figures of runs before one line existed, under their ids: one shard.
      figure(
        "polls.waiting",
        series("2. Status polls/s (waiting tickets), 1 shard", "/s", one.map((r) => okPerSecond(r.polls))),
        series("joins/s, same edge", "/s", one.map((r) => okPerSecond(r.joins))),
        "polls / joins",
        undefined,
        oneCut,
      ),
      ...againstPlain("polls.", one, "1 shard"),
      non2xx("polls.non-2xx", one, "1 shard", oneCut),
      calls("polls.object-calls-per-poll", one, "1 shard", oneCut),
    ];
    const all = raw.map((r) => r.polls);
    return {
      method:
        `workerd via Miniflare (bench/workers/edge-bench.ts: src/edge's app, QueueShard and CohortCoordinator, each object counting its RPC calls, plus read-only probes), nobody admitted; ` +
        `each run measures two cohorts on fresh edges, SHARDS=${ONE_LINE_SHARDS} (the shards keep one line: each reports to the cohort's coordinator about once a second from its alarm) and SHARDS=1 (no coordinator), the order alternating from run to run. ` +
        `Per cohort: ${tickets} citizens join first with their id_tokens, then autocannon polls GET /api/queue/status with a different waiting ticket (Bearer) per request, ` +
        `${measuredPolls(ctx.quick)} polls in the measured load (after ${ctx.warmupSeconds} s of warm-up; cut short at ${pollLoadBoundSeconds(measuredPolls(ctx.quick))} s if they take longer, which the notes say) ` +
        `(each ticket polled at most ${pollLimit.limit / 2} times in a window even at ${POLL_RATE_CEILING}/s; POLL_LIMIT is ${pollLimit.limit} per ${pollLimit.period} s), ` +
        `Baseline: a plain Worker in the same workerd (bench/workers/plain-json.js: no Durable Object, no verification, no framework) answering the same bytes of JSON as a real status answer ` +
        `(the median of ${ANSWER_SAMPLES} waiting tickets' answers, measured per cohort) with the same content-type and cache-control, sent the same load (the same tickets as Bearer, connections, warm-up and count), ` +
        "after the polls in the first run, before them in the next, alternating; each side's workerd CPU per answer (utime+stime, /proc/<pid>/stat) is in raw (cpu). " +
        "Then joins are measured on the same edge, each with a new citizen's RS256 id_token (minted beforehand). Object calls = every RPC call the shards' own counters saw " +
        "(snapshot, claim, ranks, seen, …) read before and after the measured polls; the coordinator's calls (report, view) are its own counters, read likewise, and with " +
        `${ONE_LINE_SHARDS} shards every ticket polled must be ranked cohort-wide by the end of the load (or the run fails).`,
      settings: {
        connections: ctx.connections,
        polls: measuredPolls(ctx.quick),
        joinSeconds: ctx.seconds,
        warmupSeconds: ctx.warmupSeconds,
        shards: SHARD_COUNTS,
        tickets,
        pollLimit,
        answerSamples: ANSWER_SAMPLES,
        targets: POLL_TARGETS,
      },
      figures,
      raw,
      notes: [
        "Object calls count RPC calls only; the shards' 1 s alarm (which moves the line while people wait, and sends the coordinator its report) runs whatever the polls do and is not a call to a shard.",
        `With ${ONE_LINE_SHARDS} shards a poll reads the ticket's cohort-wide rank from its shard once per chunk of places and isolate (the ranks call), usually during the warm-up: shard calls during the warm-up polls, by method, are in raw (shardCallsDuringWarmup).`,
        `Measured poll loads: ${all.reduce((a, r) => a + r.requests, 0)} requests, ${all.reduce((a, r) => a + r.non2xx, 0)} answered non-2xx ` +
          `(${all.reduce((a, r) => a + rateLimited(r), 0)} of them 429), ${all.reduce((a, r) => a + r.errors, 0)} connection errors (${all.reduce((a, r) => a + r.timeouts, 0)} timeouts).`,
        `Plain Worker loads: ${raw.reduce((a, r) => a + r.plain.requests, 0)} requests, ${raw.reduce((a, r) => a + r.plain.non2xx, 0)} answered non-2xx, ${raw.reduce((a, r) => a + r.plain.errors, 0)} connection errors. ` +
          `workerd CPU per poll, median: ${fmt(median(one.map((r) => r.cpu.msPerPoll)))} ms with 1 shard, ${fmt(median(line.map((r) => r.cpu.msPerPoll)))} ms with ${ONE_LINE_SHARDS}; ` +
          `per plain Worker answer ${fmt(median(raw.map((r) => r.cpu.msPerPlain)))} ms.`,
        tally(raw.map((r) => r.joins)),
        ...pollsCutNotes(measuredPolls(ctx.quick), eitherCut),
      ],
    };
  },
};
