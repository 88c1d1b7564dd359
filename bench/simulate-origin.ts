/**
 * `npm run simulate -- --origin-scenarios`: the flash-crowd replay (bench/lib/replay.ts) booking through a
 * modelled origin whose capacity changes during the opening, with the autopilot (src/edge/origin-health/autopilot.ts,
 * the controller the shards run) off and on. Issue 14's proof: the share of booking requests that failed,
 * citizens who lost their admission window because the origin could not serve them, the time to drain the
 * line, and how often the wait told at join held.
 *
 * The origin model, stated:
 * - Capacity: the origin completes at most C(t) bookings a minute (C/60 a second, fractions carried over);
 *   the scenario says C(t). Healthy, C = 24,000: the 20,000 admissions a minute of the defaults become
 *   about 17,000 bookings a minute, so a healthy origin is busy (about 70%) but never full.
 * - Overload: in a second with more requests than it can complete, the excess is refused at once with the
 *   designed 503 `unavailable` (a full connection pool); which requests are served is random.
 * - Latency of a served request: an M/M/1 queue's, exponential with mean base / (1 - utilisation), base
 *   80 ms times the scenario's slowdown, utilisation held under 0.98; past the edge's 10 s timeout it is a
 *   failed request ("timeout"). So latency climbs before errors do, as a real origin's does.
 * - Citizens: the replay's own (arrivals, leavers passed over and returns, claims, the session before the
 *   booking, lapses).
 *   A failed booking is tried again, as the page offers, 3 s (its Retry-After) plus a reading delay
 *   (exponential, mean 7 s) later, with the same pass, until it succeeds or the pass expires. A pass
 *   being used holds capacity until its booking succeeds or it expires, as in the shard; one never used
 *   (a lapse) until PASS_IDLE_SECONDS after its claim.
 * - The autopilot: every shard runs the controller on the samples of the bookings of its own citizens,
 *   every second, and admits at the rate it says; off, the shard admits at its share of ADMIT_PER_MINUTE.
 * - The gate's breaker, with the autopilot on (src/edge/origin-health/breaker.ts, the very class): each request
 *   reaches one of the replay's isolates (locations x isolates per location) at random, and each isolate
 *   has its own breaker, as in workerd. A request its isolate's open breaker refuses never reaches the
 *   origin: the citizen is told the designed 503 with the breaker's Retry-After and comes back after it plus
 *   a reading delay. The breaker judges the outcomes of the seconds before (within a second, requests are
 *   all decided at its start), so it opens up to a second later than a real one would: failures are, if
 *   anything, over-counted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { shardRate } from "../src/edge/shard/admission.js";
import { autopilotStep, initialAutopilot, shardAutopilotConfig, type AutopilotConfig, type AutopilotState, type HealthSample } from "../src/edge/origin-health/autopilot.js";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../src/contract/errors.js";
import { OriginBreaker } from "../src/edge/origin-health/breaker.js";
import { ORIGIN_TIMEOUT_MS } from "../src/edge/origin-health/outcome.js";
import { simulate, type OriginHooks, type SimulationReport } from "./lib/replay.js";
import { COHORTS_2021, type SimulationOptions } from "./lib/replay-options.js";
import { quantile, rng } from "./lib/stats.js";
import { chart } from "./lib/svg.js";

/** Bookings a minute a healthy origin completes: above the defaults' ~17,000, with headroom for retries. */
export const HEALTHY_CAPACITY = 24_000;
const BASE_LATENCY_MS = 80;
const READING_MEAN_S = 7;

export interface OriginScenario {
  id: string;
  title: string;
  /** Bookings a minute the origin can complete, `minute` after opening (fractional). */
  capacityAt(minute: number): number;
  /** How much slower than healthy each request is. */
  slowdownAt(minute: number): number;
}

export const ORIGIN_SCENARIOS: OriginScenario[] = [
  { id: "healthy", title: "Healthy throughout (control)", capacityAt: () => HEALTHY_CAPACITY, slowdownAt: () => 1 },
  {
    id: "halves",
    title: "Capacity halves at minute 10 (24,000 to 12,000 bookings/min)",
    capacityAt: (m) => (m < 10 ? HEALTHY_CAPACITY : HEALTHY_CAPACITY / 2),
    slowdownAt: () => 1,
  },
  {
    id: "fails",
    title: "Fails for two minutes (minutes 10-12: every request a 503)",
    capacityAt: (m) => (m >= 10 && m < 12 ? 0 : HEALTHY_CAPACITY),
    slowdownAt: () => 1,
  },
  {
    id: "degraded",
    title: "Degraded then recovers (minutes 5-20: 40% capacity, 3x slower; back to full by minute 30)",
    capacityAt: (m) => (m < 5 ? 1 : m < 20 ? 0.4 : m < 30 ? 0.4 + (0.6 * (m - 20)) / 10 : 1) * HEALTHY_CAPACITY,
    slowdownAt: (m) => (m < 5 ? 1 : m < 20 ? 3 : m < 30 ? 3 - (2 * (m - 20)) / 10 : 1),
  },
];

export interface AutopilotOptions {
  floorPerMinute: number;
  targetP95Ms: number;
  maxErrorShare: number;
}

export const AUTOPILOT_DEFAULTS: AutopilotOptions = { floorPerMinute: 2_000, targetP95Ms: 1_000, maxErrorShare: 0.01 };

export interface OriginRunReport {
  scenario: string;
  autopilot: boolean;
  bookingRequests: number;
  failedRequests: number;
  failedShare: number;
  failedByOutcome: Record<string, number>;
  /** Requests the gate's open breaker answered 503 without forwarding (autopilot on only); not in bookingRequests. */
  heldBack: number;
  booked: number;
  /** Citizens whose pass expired after at least one booking request the origin failed, never booked. */
  lostWindow: number;
  /** Seconds from opening until the last citizen who was there was admitted. */
  drainSeconds: number;
  /** Seconds from opening until the last booking went through. */
  lastBookingSeconds: number;
  etaWithinRange: number;
  etaEarlierThanLow: number;
  etaLaterThanHigh: number;
  waitP50Seconds: number;
  waitP90Seconds: number;
  latencyP95Ms: number;
  /** Per minute: admissions, the cohort's rate in force (sum of shards, at the minute's end), capacity, requests, failures. */
  minutes: { minute: number; admitted: number; ratePerMinute: number; capacity: number; requests: number; failed: number }[];
  wallMs: number;
}

/** The modelled origin, and the shards' autopilots fed by it. */
class ModelledOrigin implements OriginHooks {
  private readonly random: () => number;
  private readonly due: number[][] = [];
  private readonly shardOf = new Map<number, number>();
  private readonly expiresAt = new Map<number, number>();
  private readonly failedOnce = new Set<number>();
  private readonly pilots: AutopilotState[];
  private readonly config: AutopilotConfig;
  /** One breaker per isolate; none with the autopilot off (AUTOPILOT=false turns the breaker off too). */
  private readonly breakers: OriginBreaker[];
  private carry = 0;
  /** Requests and expiries scheduled but not yet reached. */
  private pending = 0;
  readonly counts = { requests: 0, failed: 0, heldBack: 0, booked: 0, lostWindow: 0, lastBookingSecond: 0, byOutcome: {} as Record<string, number> };
  readonly latencies: number[] = [];
  readonly minutes: OriginRunReport["minutes"] = [];

  constructor(
    private readonly o: SimulationOptions,
    private readonly scenario: OriginScenario,
    autopilot: boolean,
    a: AutopilotOptions,
    private readonly opensAt: number,
  ) {
    this.random = rng(o.seed ^ 0x5eed);
    this.config = shardAutopilotConfig({ enabled: autopilot, ...a }, shardRate(o.admitPerMinute, o.shards), o.shards);
    this.pilots = Array.from({ length: o.shards }, () => initialAutopilot(this.config, opensAt));
    this.breakers = autopilot ? Array.from({ length: o.locations * o.isolatesPerLocation }, () => new OriginBreaker(this.random)) : [];
  }

  rateOf(shard: number): number {
    return this.pilots[shard]!.ratePerMinute;
  }

  admitted(citizen: number, shard: number, claimAt: number, sessionMs: number, passExpiresAt: number): void {
    const expiry = Math.ceil((passExpiresAt - this.opensAt) / 1000);
    if (!Number.isFinite(sessionMs)) {
      // Never books: the pass holds capacity until it stops (idle, or expired). Released through the first serve after.
      this.schedule(expiry, -1 - shard);
      return;
    }
    this.shardOf.set(citizen, shard);
    this.expiresAt.set(citizen, expiry);
    this.schedule(Math.ceil((claimAt + sessionMs - this.opensAt) / 1000), citizen);
  }

  private schedule(second: number, who: number) {
    (this.due[second] ??= []).push(who);
    this.pending++;
  }

  /** Serves what is still pending after the line has drained (bookings go on after the last admission). */
  finish(fromSecond: number): void {
    for (let t = fromSecond; this.pending > 0; t++) this.serve(t, this.opensAt + t * 1000, () => {});
  }

  serve(t: number, now: number, release: (shard: number, second: number) => void): void {
    const minute = t / 60;
    const capacity = this.scenario.capacityAt(minute);
    const batch = this.due[t] ?? [];
    delete this.due[t];
    this.pending -= batch.length;
    const requests: number[] = [];
    /** The isolate each forwarded request went through, by request index. */
    const via: number[] = [];
    const probes: boolean[] = [];
    for (const who of batch) {
      if (who < 0) release(-1 - who, t);
      else if (t >= this.expiresAt.get(who)!) this.expire(who, t, release);
      else {
        const isolate = Math.floor(this.random() * Math.max(1, this.breakers.length));
        const verdict = this.breakers.length > 0 ? this.breakers[isolate]!.verdict(now) : "forward";
        if (verdict === "refuse") {
          // Held at the gate: the origin never sees it; the citizen comes back after the breaker's Retry-After.
          this.counts.heldBack++;
          this.retry(who, t, this.breakers[isolate]!.retryAfterSeconds(now));
          continue;
        }
        requests.push(who);
        via.push(isolate);
        probes.push(verdict === "probe");
      }
    }
    // The origin completes capacity/60 a second; fractions carry, so a 0.5/s origin serves every other second.
    const budget = capacity / 60 + this.carry;
    const served = Math.min(requests.length, Math.floor(budget));
    this.carry = requests.length >= budget ? budget - served : 0;
    // Which requests the origin gets to first is chance: shuffle the first `served` into place.
    for (let i = 0; i < served; i++) {
      const j = i + Math.floor(this.random() * (requests.length - i));
      [requests[i], requests[j]] = [requests[j]!, requests[i]!];
      [via[i], via[j]] = [via[j]!, via[i]!];
      [probes[i], probes[j]] = [probes[j]!, probes[i]!];
    }
    const utilisation = capacity > 0 ? Math.min(0.98, (served * 60) / capacity) : 0;
    const meanMs = (BASE_LATENCY_MS * this.scenario.slowdownAt(minute)) / (1 - utilisation);
    const samples: HealthSample[][] = Array.from({ length: this.o.shards }, () => []);
    let failed = 0;
    for (let i = 0; i < requests.length; i++) {
      const who = requests[i]!;
      let sample: HealthSample;
      if (i < served) {
        const latencyMs = -Math.log(1 - this.random()) * meanMs;
        sample = latencyMs > ORIGIN_TIMEOUT_MS ? { latencyMs: ORIGIN_TIMEOUT_MS, outcome: "timeout" } : { latencyMs, outcome: "ok" };
      } else {
        sample = { latencyMs: BASE_LATENCY_MS, outcome: "unavailable" };
      }
      samples[this.shardOf.get(who)!]!.push(sample);
      this.breakers[via[i]!]?.record(now, sample.outcome, this.config.maxErrorShare, probes[i]);
      this.latencies.push(sample.latencyMs);
      this.counts.requests++;
      if (sample.outcome === "ok") {
        this.counts.booked++;
        this.counts.lastBookingSecond = t;
        release(this.shardOf.get(who)!, t + 1);
        this.forget(who);
      } else {
        failed++;
        this.counts.failed++;
        this.counts.byOutcome[sample.outcome] = (this.counts.byOutcome[sample.outcome] ?? 0) + 1;
        this.failedOnce.add(who);
        this.retry(who, t, UNAVAILABLE_RETRY_AFTER_SECONDS);
      }
    }
    for (let s = 0; s < this.o.shards; s++) this.pilots[s] = autopilotStep(this.pilots[s]!, samples[s]!, this.config, now);
    this.tally(t, capacity, requests.length, failed);
  }

  /** The citizen tries again after `retryAfterS` (the answer's Retry-After) and a reading delay, or when the pass expires. */
  private retry(who: number, t: number, retryAfterS: number) {
    const retryAt = t + Math.ceil(retryAfterS + -Math.log(1 - this.random()) * READING_MEAN_S);
    this.schedule(Math.min(retryAt, this.expiresAt.get(who)!), who);
  }

  /** The pass expired before a booking went through: its capacity is freed; a citizen the origin failed lost their window. */
  private expire(who: number, t: number, release: (shard: number, second: number) => void) {
    release(this.shardOf.get(who)!, t);
    if (this.failedOnce.has(who)) this.counts.lostWindow++;
    this.forget(who);
  }

  private forget(who: number) {
    this.shardOf.delete(who);
    this.expiresAt.delete(who);
    this.failedOnce.delete(who);
  }

  private current: OriginRunReport["minutes"][number] | null = null;
  private tally(t: number, capacity: number, requests: number, failed: number) {
    const minute = Math.floor(t / 60) + 1;
    if (this.current?.minute !== minute) {
      this.current = { minute, admitted: 0, ratePerMinute: 0, capacity, requests: 0, failed: 0 };
      this.minutes.push(this.current);
    }
    this.current.requests += requests;
    this.current.failed += failed;
    this.current.capacity = Math.min(this.current.capacity, capacity);
    this.current.ratePerMinute = this.pilots.reduce((sum, p) => sum + p.ratePerMinute, 0);
  }
}

/** One scenario, autopilot off or on, through the replay. */
export function runOriginScenario(o: SimulationOptions, scenario: OriginScenario, autopilot: boolean, a: AutopilotOptions = AUTOPILOT_DEFAULTS): OriginRunReport {
  const started = performance.now();
  const origin = new ModelledOrigin(o, scenario, autopilot, a, Date.parse(COHORTS_2021[o.cohort].opensAt));
  const r: SimulationReport = simulate(o, origin);
  origin.finish(r.seconds);
  const c = origin.counts;
  for (const row of origin.minutes) row.admitted = r.minutes[row.minute - 1]?.admittedThisMinute ?? 0;
  return {
    scenario: scenario.id,
    autopilot,
    bookingRequests: c.requests,
    failedRequests: c.failed,
    failedShare: c.requests ? c.failed / c.requests : 0,
    failedByOutcome: c.byOutcome,
    heldBack: c.heldBack,
    booked: c.booked,
    lostWindow: c.lostWindow,
    // The replay stops at its horizon; a line that had not drained by then says so (NaN) rather than report a time.
    drainSeconds: r.presence.drainSeconds,
    lastBookingSeconds: c.lastBookingSecond,
    etaWithinRange: r.eta.withinRange,
    etaEarlierThanLow: r.eta.earlierThanLow,
    etaLaterThanHigh: r.eta.laterThanHigh,
    waitP50Seconds: r.waitSeconds.p50,
    waitP90Seconds: r.waitSeconds.p90,
    latencyP95Ms: quantile(origin.latencies, 0.95),
    minutes: origin.minutes,
    wallMs: Math.round(performance.now() - started),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`;
const mins = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${(s / 60).toFixed(1)} min`);

/** Runs every scenario off and on; writes bench/results/simulate-origin.{json,md} and a rate chart per scenario. */
export function runOriginScenarios(o: SimulationOptions, dir: string, only: string[] = [], a: AutopilotOptions = AUTOPILOT_DEFAULTS): string {
  mkdirSync(dir, { recursive: true });
  const scenarios = ORIGIN_SCENARIOS.filter((s) => only.length === 0 || only.includes(s.id));
  const runs: OriginRunReport[] = [];
  for (const scenario of scenarios) {
    for (const autopilot of [false, true]) {
      console.log(`Origin scenario ${scenario.id}, autopilot ${autopilot ? "on" : "off"}...`);
      runs.push(runOriginScenario(o, scenario, autopilot, a));
    }
    const [off, on] = runs.slice(-2) as [OriginRunReport, OriginRunReport];
    const first = (r: OriginRunReport) => r.minutes.filter((m) => m.minute <= 90);
    writeFileSync(
      join(dir, `simulate-origin-${scenario.id}.svg`),
      chart({
        title: `${scenario.title}: admissions and failed bookings per minute`,
        xLabel: "minutes after opening",
        yLabel: "per minute",
        series: [
          { name: "origin capacity (bookings)", points: first(on).map((m) => [m.minute, m.capacity]), dashed: true },
          { name: "rate in force, autopilot on", points: first(on).map((m) => [m.minute, m.ratePerMinute]) },
          { name: "failed bookings, autopilot off", points: first(off).map((m) => [m.minute, m.failed]) },
          { name: "failed bookings, autopilot on", points: first(on).map((m) => [m.minute, m.failed]) },
        ],
      }),
    );
  }
  writeFileSync(join(dir, "simulate-origin.json"), JSON.stringify({ options: o, autopilot: a, healthyCapacity: HEALTHY_CAPACITY, runs }, null, 2));
  const title = new Map(ORIGIN_SCENARIOS.map((s) => [s.id, s.title]));
  const md = [
    `# Origin scenarios: cohort ${o.cohort}, ${o.people.toLocaleString("en")} people`,
    "",
    `${o.shards} shards, ADMIT_PER_MINUTE ${o.admitPerMinute}, MAX_ACTIVE ${o.maxActive}, pass TTL ${o.passTtlSeconds} s, seed ${o.seed}; ` +
      `autopilot: ADMIT_FLOOR_PER_MINUTE ${a.floorPerMinute}, ORIGIN_TARGET_P95_MS ${a.targetP95Ms}, ORIGIN_MAX_ERROR_SHARE ${a.maxErrorShare}. ` +
      `A healthy origin completes ${HEALTHY_CAPACITY.toLocaleString("en")} bookings a minute (the model: bench/simulate-origin.ts).`,
    "",
    "| scenario | autopilot | booking requests | failed (share) | held at the gate | lost their window | line drained after | last booking | wait within the range told (early / late) | wait p50 / p90 | origin p95 latency | wall |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) =>
      `| ${title.get(r.scenario)} | ${r.autopilot ? "on" : "off"} | ${r.bookingRequests.toLocaleString("en")} | ${r.failedRequests.toLocaleString("en")} (${pct(r.failedShare)}) | ${r.heldBack.toLocaleString("en")} | ${r.lostWindow.toLocaleString("en")} | ${mins(r.drainSeconds)} | ${mins(r.lastBookingSeconds)} | ${pct(r.etaWithinRange)} (${pct(r.etaEarlierThanLow)} / ${pct(r.etaLaterThanHigh)}) | ${mins(r.waitP50Seconds)} / ${mins(r.waitP90Seconds)} | ${Math.round(r.latencyP95Ms).toLocaleString("en")} ms | ${(r.wallMs / 1000).toFixed(1)} s |`),
    "",
    `Charts: ${scenarios.map((s) => `\`simulate-origin-${s.id}.svg\``).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "simulate-origin.md"), md);
  return md;
}
