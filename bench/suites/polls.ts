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
 * With several shards a poll also counts the people ahead cohort-wide (src/edge/queue/cohort-ahead.ts):
 * from the shard's snapshot, and the ticket's rank, read from the shard once per chunk of places (the
 * `ranks` call). Every call the shards receive during the polls is counted; the coordinator's (only the
 * shards' reports from their alarms, never a poll's) are counted apart.
 */
import { Citizens, getJson, joinLoad, joinMany } from "../lib/edge-client.js";
import { okPerSecond, rateLimited, runLoad, shortfallNote, type LoadResult } from "../lib/load.js";
import { rateLimit, startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
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

/** Shards of the cohort whose polls are the headline: enough to keep one line through the coordinator. */
export const ONE_LINE_SHARDS = 4;
/** Each run measures both cohorts, the one-shard one being the figure of runs before one line existed. */
const SHARD_COUNTS = [ONE_LINE_SHARDS, 1] as const;
const COHORT = "55-59";

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

/** One cohort's measurement in one run: the poll load, joins on the same edge, and what reached the objects. */
interface CohortRun {
  run: number;
  shards: number;
  polls: LoadResult;
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
  const edge = await startEdge({ bundle: "edge-bench", vars: { SHARDS: String(shards), ...NO_ADMISSIONS } });
  try {
    const citizens = new Citizens();
    const joined = await joinMany(edge.url, await citizens.idTokens(tickets));
    const waiting = joined.filter((t) => t.state === "waiting").map((t) => t.ticket);
    if (waiting.length < tickets * 0.99) throw new Error(`only ${waiting.length} of ${tickets} tickets are waiting`);
    const poll = (seconds: number, amount?: number) =>
      runLoad({
        url: `${edge.url}/api/queue/status`,
        method: "GET",
        headers: { authorization: "Bearer {{v}}" },
        values: waiting,
        connections: ctx.connections,
        durationSeconds: seconds,
        ...(amount ? { amount } : {}),
        timeoutSeconds: 10,
      });
    const callsAtStart = await shardCalls(edge.url, shards);
    await poll(ctx.warmupSeconds);
    const callsBefore = await shardCalls(edge.url, shards);
    const coordinatorBefore = shards > 1 ? await coordinator(edge.url) : undefined;
    // A count of polls, bounded in time: a load that has not had them all by the bound stops there and
    // says so (its rate is over the time it ran; the suite's notes name it).
    const amount = measuredPolls(ctx.quick);
    const p = await poll(pollLoadBoundSeconds(amount), amount);
    const callsAfter = await shardCalls(edge.url, shards);
    const coordinatorAfter = shards > 1 ? await coordinator(edge.url) : undefined;
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
      polls: p,
      joins: j,
      shardCallsDuringWarmup: callsBetween(callsAtStart, callsBefore),
      shardCallsDuringPolls: during,
      ...(line ? { coordinator: line } : {}),
    };
    ctx.log(
      `run ${run + 1}, ${shards} shard${shards > 1 ? "s" : ""}: ${p.requests} polls, ${p.non2xx} non-2xx ${JSON.stringify(p.statusCodes)}, ${okPerSecond(p).toFixed(0)} polls/s${loadFlags(p)}, ` +
        `${okPerSecond(j).toFixed(0)} joins/s${loadFlags(j)}, ${total(during)} shard calls in ${p.ok} polls ${JSON.stringify(nonZero(during))}` +
        (line ? `, coordinator: ${line.reportsDuringPolls} reports in ${p.durationSeconds.toFixed(1)} s, ${line.ranked} tickets ranked` : ""),
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
    const figures = [
      figure(
        "polls.one-line",
        series(`2. Status polls/s (waiting tickets), ${lineLabel}`, "/s", line.map((r) => okPerSecond(r.polls))),
        series("status polls/s, 1 shard, same run", "/s", one.map((r) => okPerSecond(r.polls))),
        `${ONE_LINE_SHARDS} shards / 1 shard`,
        undefined,
        eitherCut,
      ),
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
        "then joins are measured on the same edge, each with a new citizen's RS256 id_token (minted beforehand). Object calls = every RPC call the shards' own counters saw " +
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
      },
      figures,
      raw,
      notes: [
        "Object calls count RPC calls only; the shards' 1 s alarm (which moves the line while people wait, and sends the coordinator its report) runs whatever the polls do and is not a call to a shard.",
        `With ${ONE_LINE_SHARDS} shards a poll reads the ticket's cohort-wide rank from its shard once per chunk of places and isolate (the ranks call), usually during the warm-up: shard calls during the warm-up polls, by method, are in raw (shardCallsDuringWarmup).`,
        `Measured poll loads: ${all.reduce((a, r) => a + r.requests, 0)} requests, ${all.reduce((a, r) => a + r.non2xx, 0)} answered non-2xx ` +
          `(${all.reduce((a, r) => a + rateLimited(r), 0)} of them 429), ${all.reduce((a, r) => a + r.errors, 0)} connection errors (${all.reduce((a, r) => a + r.timeouts, 0)} timeouts).`,
        tally(raw.map((r) => r.joins)),
        ...pollsCutNotes(measuredPolls(ctx.quick), eitherCut),
      ],
    };
  },
};
