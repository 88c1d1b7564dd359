/**
 * 2. Status polls per second for waiting tickets, against joins per second on the same edge, and the
 * Durable Object calls each poll costs (design invariant 7: polls are answered from the ticket and a
 * per-shard snapshot cached 1 s, so the object sees about one call per shard per second).
 *
 * Per run: a fresh edge (bench/workers/edge-bench.ts: the same app plus a read-only probe of the
 * object's own RPC counters), SHARDS=1, nobody admitted; a few thousand citizens join first with their
 * id_tokens (not measured); then autocannon polls GET /api/queue/status with `Authorization: Bearer
 * <ticket>`, a different waiting ticket each request (in turn, round-robin), with enough tickets that none
 * is polled more than half of POLL_LIMIT allows; the measured poll load is a count, not a duration
 * (issue 10: at least 100,000 polls, every answer 2xx), so a rare 5xx has room to show. Then joins are
 * measured on the same edge for the ratio, each with the id_token of a citizen who has not joined yet.
 */
import { Citizens, getJson, joinLoad, joinMany } from "../lib/edge-client.js";
import { okPerSecond, rateLimited, runLoad, type LoadResult } from "../lib/load.js";
import { rateLimit, startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import type { ShardProbe } from "../workers/edge-bench.js";
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

async function shardCalls(edgeUrl: string): Promise<number> {
  const { shards } = (await getJson(`${edgeUrl}/__bench/shards?cohort=55-59&shards=1`)) as { shards: ShardProbe[] };
  return shards.reduce((sum, s) => sum + s.calls.join + s.calls.snapshot + s.calls.claim + s.calls.complete, 0);
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

/** The duration that bounds a count-bounded poll load (a hard stop if polls crawl). */
export function pollLoadBoundSeconds(amount: number): number {
  return Math.ceil(amount / SLOWEST_POLLS_PER_SECOND);
}

export const polls: Suite = {
  name: "polls",
  title: "Status polls/s for waiting tickets",
  async run(ctx) {
    const pollLimit = rateLimit("POLL_LIMIT");
    const tickets = pollTickets(ctx.quick);
    const pollsPerSecond: number[] = [];
    const joinsPerSecond: number[] = [];
    const callsPerPoll: number[] = [];
    const raw: Array<{ run: number; polls: LoadResult; joins: LoadResult; objectCallsDuringPolls: number }> = [];
    for (let run = 0; run < ctx.runs; run++) {
      const edge = await startEdge({ bundle: "edge-bench", vars: { SHARDS: "1", ...NO_ADMISSIONS } });
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
        await poll(ctx.warmupSeconds);
        const callsBefore = await shardCalls(edge.url);
        // A count of polls: autocannon runs until it has them (the duration only bounds the hard kill).
        const amount = measuredPolls(ctx.quick);
        const p = await poll(pollLoadBoundSeconds(amount), amount);
        const callsDuring = (await shardCalls(edge.url)) - callsBefore;
        const warmBodies = await citizens.joinBodiesFor(ctx.warmupSeconds);
        const runBodies = await citizens.joinBodiesFor(ctx.seconds);
        const joins = (bodies: string[], seconds: number) =>
          joinLoad(`${edge.url}/api/queue/join`, bodies, { connections: ctx.connections, durationSeconds: seconds });
        await joins(warmBodies, ctx.warmupSeconds);
        const j = await joins(runBodies, ctx.seconds);
        pollsPerSecond.push(okPerSecond(p));
        joinsPerSecond.push(okPerSecond(j));
        callsPerPoll.push(p.ok > 0 ? callsDuring / p.ok : NaN);
        raw.push({ run, polls: p, joins: j, objectCallsDuringPolls: callsDuring });
        ctx.log(
          `run ${run + 1}: ${p.requests} polls, ${p.non2xx} non-2xx ${JSON.stringify(p.statusCodes)}, ${okPerSecond(p).toFixed(0)} polls/s${loadFlags(p)}, ${okPerSecond(j).toFixed(0)} joins/s${loadFlags(j)}, ${callsDuring} object calls in ${p.ok} polls`,
        );
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
    // Issue 10: no poll may be answered anything but 2xx (workerd answers 500 when a poll waits on another
    // request's promise). Connection errors and timeouts are not answers; they are counted in the notes.
    const non2xx = figure(
      "polls.non-2xx",
      series("2. Polls answered non-2xx", "polls", raw.map((r) => r.polls.non2xx)),
      series("polls sent in the measured load", "polls", raw.map((r) => r.polls.requests)),
      "non-2xx / polls",
      { text: "0 in every run", met: (f) => f.value.max === 0 },
    );
    return {
      method:
        `workerd via Miniflare (bench/workers/edge-bench.ts: src/edge's app and QueueShard plus a read-only probe), SHARDS=1, nobody admitted; ` +
        `${tickets} citizens join first with their id_tokens, then autocannon polls GET /api/queue/status with a different waiting ticket (Bearer) per request, ` +
        `${ctx.quick ? QUICK_POLLS : MEASURED_POLLS} polls in the measured load (after ${ctx.warmupSeconds} s of warm-up) ` +
        `(each ticket polled at most ${pollLimit.limit / 2} times in a window even at ${POLL_RATE_CEILING}/s; POLL_LIMIT is ${pollLimit.limit} per ${pollLimit.period} s), ` +
        "then joins are measured on the same edge, each with a new citizen's RS256 id_token (minted beforehand). Object calls = the QueueShard's own RPC counters (join+snapshot+claim+complete) " +
        "read before and after the poll load.",
      settings: { connections: ctx.connections, polls: ctx.quick ? QUICK_POLLS : MEASURED_POLLS, joinSeconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, shards: 1, tickets, pollLimit },
      figures: [pollsFigure, non2xx, calls],
      raw,
      notes: [
        "Object calls count RPC calls only; the shard's 1 s alarm (which moves the line while people wait) runs whatever the polls do and is not a call.",
        `Measured poll loads: ${raw.reduce((a, r) => a + r.polls.requests, 0)} requests, ${raw.reduce((a, r) => a + r.polls.non2xx, 0)} answered non-2xx ` +
          `(${raw.reduce((a, r) => a + rateLimited(r.polls), 0)} of them 429), ${raw.reduce((a, r) => a + r.polls.errors, 0)} connection errors (${raw.reduce((a, r) => a + r.polls.timeouts, 0)} timeouts).`,
        tally(raw.map((r) => r.joins)),
      ],
    };
  },
};
