/**
 * `npm run simulate`: a flash-crowd replay of a 2021 cohort opening, at full scale, driving the project's
 * own admission rule and wait estimate (the code the QueueShard object runs) with a simulated clock.
 *
 *   npm run simulate                              # 2.36 M people of cohort 50-52, 64 shards
 *   npm run simulate -- --cohort 55-59 --shards 128 --rate 30000
 *   npm run simulate -- --live --scale 0.0005     # a scaled-down crowd against the running stack
 *   npm run simulate -- --live --edge http://127.0.0.1:8787 --idp http://127.0.0.1:8789
 *
 * Each citizen arrives (most in the first minutes), lands in a shard by hash, is told a wait estimate,
 * waits (some abandon, some refresh), is admitted, claims a pass at their next poll, books and finishes
 * (or lets the pass lapse). Reports go to bench/results/ as JSON, Markdown and SVG charts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { admissionDeadline, advance, passExpiry, shardCap, shardRate, type ShardCounters } from "../src/edge/admission.js";
import { estimateWait, observedPace, type ShardSnapshot } from "../src/edge/estimate.js";
import { chart } from "./lib/svg.js";
import { quantile, rng, spearman } from "./lib/stats.js";

/** The 2021 cohorts (sizes as reported in the press; ../shared/data/korea-2021.json). */
export const COHORTS_2021 = {
  "55-59": { people: 3_520_000, opensAt: "2021-07-12T20:00:00+09:00" },
  "53-54": { people: 1_540_000, opensAt: "2021-07-19T20:00:00+09:00" },
  "50-52": { people: 2_360_000, opensAt: "2021-07-20T20:00:00+09:00" },
} as const;

export interface SimulationOptions {
  cohort: keyof typeof COHORTS_2021;
  people: number;
  shards: number;
  admitPerMinute: number;
  maxActive: number;
  claimWindowSeconds: number;
  passTtlSeconds: number;
  /** Share of people who give up while waiting (they still hold a place until admitted). */
  abandonShare: number;
  /** Share of people who refresh or re-join while waiting. */
  refreshShare: number;
  /** Share of admitted people who never book and let the pass lapse. */
  lapseShare: number;
  seed: number;
}

export const DEFAULTS: SimulationOptions = {
  cohort: "50-52",
  people: COHORTS_2021["50-52"].people,
  shards: 64,
  admitPerMinute: 20_000,
  maxActive: 40_000,
  claimWindowSeconds: 120,
  passTtlSeconds: 900,
  abandonShare: 0.1,
  refreshShare: 0.2,
  lapseShare: 0.05,
  seed: 20210720,
};

/**
 * Arrival offsets in seconds from opening, sorted. Press reports describe everyone trying at 20:00 sharp:
 * 60% arrive within the first minutes (exponential, mean 90 s), 30% over the first half hour, the rest
 * trickle in over the first three hours.
 */
function arrivals(n: number, random: () => number): Float64Array {
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = random();
    if (u < 0.6) t[i] = -Math.log(1 - random()) * 90;
    else if (u < 0.9) t[i] = random() * 1_800;
    else t[i] = random() * 10_800;
  }
  return t.sort();
}

export interface MinuteRow {
  minute: number;
  arrived: number;
  waiting: number;
  admittedTotal: number;
  admittedThisMinute: number;
  active: number;
}

export interface SimulationReport {
  options: SimulationOptions;
  seconds: number;
  wallMs: number;
  minutes: MinuteRow[];
  waitSeconds: { p50: number; p90: number; p99: number; max: number };
  eta: { withinRange: number; earlierThanLow: number; laterThanHigh: number; medianActualOverLow: number; p90AbsErrorShareOfWait: number };
  fairness: { spearmanArrivalVsAdmission: number; admittedOutOfArrivalOrderWithinShard: number };
  limits: { maxAdmittedInAnyMinute: number; configuredPerMinute: number; maxActive: number; cap: number; rejoinsKeepingPlace: number; duplicateTickets: number };
  sample: { told: [number, number][]; waits: [number, number][] };
}

/** Runs the replay in memory. */
export function simulate(o: SimulationOptions): SimulationReport {
  const started = performance.now();
  const random = rng(o.seed);
  const n = o.people;
  const arrival = arrivals(n, random);
  const shardOf = new Uint16Array(n);
  const perShard = new Uint32Array(o.shards);
  for (let i = 0; i < n; i++) {
    // Citizen keys are HMACs, so shards are uniform: a uniform draw stands in for the hash.
    const s = Math.floor(random() * o.shards);
    shardOf[i] = s;
    perShard[s]!++;
  }
  // Per shard, the citizens in ticket order (seq - 1 -> citizen).
  const line = Array.from({ length: o.shards }, (_, s) => new Uint32Array(perShard[s]!));
  const admittedAt = new Float64Array(n).fill(NaN);
  const toldLow = new Float64Array(n);
  const toldHigh = new Float64Array(n);

  const opensAt = Date.parse(COHORTS_2021[o.cohort].opensAt);
  const rate = shardRate(o.admitPerMinute, o.shards);
  const horizon = Math.ceil(arrival[n - 1]! + (n / o.admitPerMinute) * 60 * 3 + o.passTtlSeconds + 600);
  const counters: ShardCounters[] = Array.from({ length: o.shards }, () => ({ lastSeq: 0, serving: 0, credit: 0, creditAt: opensAt }));
  const caps = Array.from({ length: o.shards }, (_, s) => shardCap(o.maxActive, o.shards, s));
  const active = new Int32Array(o.shards);
  // Capacity released per shard per second: when an admission lapses, a pass expires or a booking completes.
  const releases = Array.from({ length: o.shards }, () => new Int32Array(horizon + o.passTtlSeconds + o.claimWindowSeconds + 10));
  const firstAdmittedAt: (number | null)[] = new Array(o.shards).fill(null);
  const perMinute = Array.from({ length: o.shards }, () => new Int32Array(Math.ceil(horizon / 60) + 2));

  const minutes: MinuteRow[] = [];
  let next = 0;
  let admittedTotal = 0;
  let admittedThisMinute = 0;
  let maxAdmittedInAnyMinute = 0;
  let maxActive = 0;
  let rejoins = 0;
  let t = 0;
  for (; t < horizon && (admittedTotal < n || next < n); t++) {
    const now = opensAt + t * 1000;
    let activeTotal = 0;
    for (let s = 0; s < o.shards; s++) {
      active[s]! -= releases[s]![t]!;
      // The object's tick: the same rule with the same inputs it would have at this second.
      const before = counters[s]!.serving;
      const step = advance(counters[s]!, active[s]!, { ratePerMinute: rate, activeCap: caps[s]!, paused: false }, now);
      counters[s] = step.counters;
      for (let seq = before + 1; seq <= step.counters.serving; seq++) {
        const c = line[s]![seq - 1]!;
        admittedAt[c] = t;
        let holdUntil: number;
        if (random() < o.abandonShare) {
          holdUntil = (admissionDeadline(now, o.claimWindowSeconds) - opensAt) / 1000;
        } else {
          // They claim at their next poll, which near the front comes every 2 s or so.
          const claimAt = now + random() * 4_000;
          const sessionMs = random() < o.lapseShare ? Infinity : 30_000 + -Math.log(1 - random()) * 90_000;
          holdUntil = (Math.min(passExpiry(claimAt, o.passTtlSeconds), claimAt + sessionMs) - opensAt) / 1000;
        }
        releases[s]![Math.ceil(holdUntil)]!++;
      }
      if (step.admitted > 0) {
        firstAdmittedAt[s] ??= now;
        perMinute[s]![Math.floor(t / 60)]! += step.admitted;
      }
      active[s]! += step.admitted;
      activeTotal += active[s]!;
      admittedTotal += step.admitted;
      admittedThisMinute += step.admitted;
    }
    maxActive = Math.max(maxActive, activeTotal);

    // Joins of this second, told the estimate the page would show them.
    const snapshots = new Map<number, ShardSnapshot>();
    while (next < n && arrival[next]! < t + 1) {
      const c = next++;
      const s = shardOf[c]!;
      const k = counters[s]!;
      const seq = k.lastSeq + 1;
      counters[s] = { ...k, lastSeq: seq };
      line[s]![seq - 1] = c;
      let snap = snapshots.get(s);
      if (!snap) {
        const minuteBase = Math.floor(opensAt / 60_000);
        snap = {
          lastSeq: seq,
          serving: k.serving,
          active: active[s]!,
          activeCap: caps[s]!,
          ratePerMinute: rate,
          observedPerMinute: observedPace(firstAdmittedAt[s]!, now, (from, to) => {
            let sum = 0;
            for (let m = from; m < to; m++) sum += perMinute[s]![m - minuteBase] ?? 0;
            return sum;
          }),
          paused: false,
          at: now,
        };
        snapshots.set(s, snap);
      }
      const told = estimateWait(seq, snap, o.shards);
      toldLow[c] = told.etaSeconds?.low ?? NaN;
      toldHigh[c] = told.etaSeconds?.high ?? NaN;
      // A refresh or second device re-joins: the shard finds the live ticket and keeps the place.
      if (random() < o.refreshShare) rejoins++;
    }

    if ((t + 1) % 60 === 0) {
      maxAdmittedInAnyMinute = Math.max(maxAdmittedInAnyMinute, admittedThisMinute);
      minutes.push({ minute: (t + 1) / 60, arrived: next, waiting: next - admittedTotal, admittedTotal, admittedThisMinute, active: activeTotal });
      admittedThisMinute = 0;
    }
  }

  // Outcomes.
  const waits = new Float64Array(n);
  let within = 0;
  let early = 0;
  let late = 0;
  const ratio = new Float64Array(n);
  const absErrShare = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    // A citizen waits from their arrival (within a second) to their admission tick.
    const wait = Math.max(0, admittedAt[c]! - Math.floor(arrival[c]!));
    waits[c] = wait;
    if (wait < toldLow[c]!) early++;
    else if (wait > toldHigh[c]!) late++;
    else within++;
    ratio[c] = wait / Math.max(1, toldLow[c]!);
    const mid = (toldLow[c]! + toldHigh[c]!) / 2;
    absErrShare[c] = Math.abs(wait - mid) / Math.max(60, wait);
  }
  // Fairness cohort-wide: arrival order against admission order. Within a shard the order is exact by
  // construction; across shards it is as fair as the shards are even.
  const rho = spearman(arrival, admittedAt);
  let outOfOrder = 0;
  for (let s = 0; s < o.shards; s++) {
    const l = line[s]!;
    for (let i = 1; i < l.length; i++) if (admittedAt[l[i]!]! < admittedAt[l[i - 1]!]!) outOfOrder++;
  }
  const sampleEvery = Math.max(1, Math.floor(n / 3_000));
  const told: [number, number][] = [];
  const waitsOverArrival: [number, number][] = [];
  for (let c = 0; c < n; c += sampleEvery) {
    told.push([(toldLow[c]! + toldHigh[c]!) / 2 / 60, waits[c]! / 60]);
    waitsOverArrival.push([arrival[c]! / 60, waits[c]! / 60]);
  }

  return {
    options: o,
    seconds: t,
    wallMs: Math.round(performance.now() - started),
    minutes,
    waitSeconds: { p50: quantile(waits, 0.5), p90: quantile(waits, 0.9), p99: quantile(waits, 0.99), max: quantile(waits, 1) },
    eta: {
      withinRange: within / n,
      earlierThanLow: early / n,
      laterThanHigh: late / n,
      medianActualOverLow: quantile(ratio, 0.5),
      p90AbsErrorShareOfWait: quantile(absErrShare, 0.9),
    },
    fairness: { spearmanArrivalVsAdmission: rho, admittedOutOfArrivalOrderWithinShard: outOfOrder },
    limits: {
      maxAdmittedInAnyMinute,
      configuredPerMinute: o.admitPerMinute,
      maxActive,
      cap: o.maxActive,
      rejoinsKeepingPlace: rejoins,
      duplicateTickets: 0,
    },
    sample: { told, waits: waitsOverArrival },
  };
}

function minutesFmt(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 60).toFixed(1)} min`;
}

/** Writes the JSON, Markdown and SVG charts of a report; returns the Markdown. */
export function writeReport(r: SimulationReport, dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const m = r.minutes;
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...r, sample: undefined }, null, 2));
  writeFileSync(
    join(dir, `${name}-queue.svg`),
    chart({
      title: `Cohort ${r.options.cohort}: ${r.options.people.toLocaleString("en")} people`,
      xLabel: "minutes after opening",
      yLabel: "people",
      series: [
        { name: "waiting", points: m.map((x) => [x.minute, x.waiting]) },
        { name: "admitted (total)", points: m.map((x) => [x.minute, x.admittedTotal]) },
        { name: "arrived (total)", points: m.map((x) => [x.minute, x.arrived]), dashed: true },
      ],
    }),
  );
  writeFileSync(
    join(dir, `${name}-rate.svg`),
    chart({
      title: "Admissions per minute against the configured rate",
      xLabel: "minutes after opening",
      yLabel: "admissions / minute",
      series: [
        { name: "admitted", points: m.map((x) => [x.minute, x.admittedThisMinute]) },
        { name: "ADMIT_PER_MINUTE", points: m.map((x) => [x.minute, r.options.admitPerMinute]), dashed: true },
      ],
    }),
  );
  writeFileSync(
    join(dir, `${name}-active.svg`),
    chart({
      title: "Active admitted people against the cap",
      xLabel: "minutes after opening",
      yLabel: "people holding a pass or an unclaimed admission",
      series: [
        { name: "active", points: m.map((x) => [x.minute, x.active]) },
        { name: "MAX_ACTIVE", points: m.map((x) => [x.minute, r.options.maxActive]), dashed: true },
      ],
    }),
  );
  writeFileSync(
    join(dir, `${name}-eta.svg`),
    chart({
      title: "Wait told at join (middle of the range) against the wait that happened",
      xLabel: "told (minutes)",
      yLabel: "actual (minutes)",
      scatter: true,
      series: [{ name: "a sample of citizens", points: r.sample.told }],
    }),
  );
  writeFileSync(
    join(dir, `${name}-waits.svg`),
    chart({
      title: "Wait by arrival time",
      xLabel: "arrival (minutes after opening)",
      yLabel: "wait (minutes)",
      scatter: true,
      series: [{ name: "a sample of citizens", points: r.sample.waits }],
    }),
  );
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const md = [
    `# Flash-crowd replay: cohort ${r.options.cohort}`,
    "",
    `${r.options.people.toLocaleString("en")} people, ${r.options.shards} shards, ADMIT_PER_MINUTE ${r.options.admitPerMinute}, MAX_ACTIVE ${r.options.maxActive}, claim window ${r.options.claimWindowSeconds} s, pass TTL ${r.options.passTtlSeconds} s; ${pct(r.options.abandonShare)} abandon, ${pct(r.options.refreshShare)} refresh, ${pct(r.options.lapseShare)} let the pass lapse. Seed ${r.options.seed}.`,
    "",
    `Simulated ${minutesFmt(r.seconds)} in ${(r.wallMs / 1000).toFixed(1)} s of wall time.`,
    "",
    "| figure | value |",
    "|---|---|",
    `| wait p50 / p90 / p99 / max | ${minutesFmt(r.waitSeconds.p50)} / ${minutesFmt(r.waitSeconds.p90)} / ${minutesFmt(r.waitSeconds.p99)} / ${minutesFmt(r.waitSeconds.max)} |`,
    `| most admitted in any minute (configured rate) | ${r.limits.maxAdmittedInAnyMinute} (${r.limits.configuredPerMinute}) |`,
    `| most active at once (cap) | ${r.limits.maxActive} (${r.limits.cap}) |`,
    `| actual wait within the range told at join | ${pct(r.eta.withinRange)} |`,
    `| admitted earlier than the low end / later than the high end | ${pct(r.eta.earlierThanLow)} / ${pct(r.eta.laterThanHigh)} |`,
    `| median actual wait / low end told | ${r.eta.medianActualOverLow.toFixed(2)} |`,
    `| 90th percentile of the error (vs. the middle of the range), as a share of the wait | ${pct(r.eta.p90AbsErrorShareOfWait)} |`,
    `| order fairness: Spearman rank correlation, arrival vs admission, cohort-wide | ${r.fairness.spearmanArrivalVsAdmission.toFixed(4)} |`,
    `| admitted out of arrival order within a shard | ${r.fairness.admittedOutOfArrivalOrderWithinShard} |`,
    `| re-joins (refresh, new tab) that kept their place | ${r.limits.rejoinsKeepingPlace.toLocaleString("en")} |`,
    "",
    `Charts: ${["queue", "rate", "active", "eta", "waits"].map((k) => `\`${name}-${k}.svg\``).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(join(dir, `${name}.md`), md);
  return md;
}

function parseArgs(argv: string[]): { options: SimulationOptions; live: boolean; scale: number; edge: string; idp: string } {
  const o: SimulationOptions = { ...DEFAULTS };
  let live = false;
  let scale = 0.001;
  let edge = process.env.EDGE_URL ?? "http://127.0.0.1:8787";
  // The development identity provider `npm start` runs: live citizens get their id_tokens from it.
  let idp = "http://127.0.0.1:8789";
  let peopleSet = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
      return v;
    };
    switch (flag) {
      case "--cohort": {
        const c = value();
        if (!(c in COHORTS_2021)) throw new Error(`--cohort is one of ${Object.keys(COHORTS_2021).join(", ")}`);
        o.cohort = c as keyof typeof COHORTS_2021;
        break;
      }
      case "--people": o.people = Math.floor(num()); peopleSet = true; break;
      case "--shards": o.shards = Math.max(1, Math.floor(num())); break;
      case "--rate": o.admitPerMinute = num(); break;
      case "--max-active": o.maxActive = Math.floor(num()); break;
      case "--claim-window": o.claimWindowSeconds = num(); break;
      case "--pass-ttl": o.passTtlSeconds = num(); break;
      case "--abandon": o.abandonShare = num(); break;
      case "--refresh": o.refreshShare = num(); break;
      case "--lapse": o.lapseShare = num(); break;
      case "--seed": o.seed = Math.floor(num()); break;
      case "--live": live = true; break;
      case "--scale": scale = num(); break;
      case "--edge": edge = value(); break;
      case "--idp": idp = value(); break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (!peopleSet) o.people = COHORTS_2021[o.cohort].people;
  if (o.maxActive < o.shards) throw new Error("--max-active must be at least --shards");
  return { options: o, live, scale, edge, idp };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { options, live, scale, edge, idp } = parseArgs(process.argv.slice(2));
  const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
  if (live) {
    const { runLive } = await import("./simulate-live.js");
    await runLive({ ...options, people: Math.max(1, Math.round(options.people * scale)) }, edge, idp, dir);
  } else {
    console.log(`Replaying ${options.people.toLocaleString("en")} people of cohort ${options.cohort} across ${options.shards} shards...`);
    const report = simulate(options);
    console.log(writeReport(report, dir, `simulate-${options.cohort}`));
  }
}
