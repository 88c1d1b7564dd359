/**
 * `npm run simulate -- --abandonment-scenarios`: the flash-crowd replay (bench/lib/replay.ts) with 0%, 30%
 * and 60% of the crowd leaving before their turn, the same seed (so the same arrivals and shards; the
 * leavers at 30% are among those at 60%), to show what presence promises: a place whose holder is away
 * costs the line nothing, so present citizens are admitted at the same pace however many ghosts sit
 * among them, and the line drains sooner. For comparison the shares above 0% run again with presence off
 * (PRESENCE_SECONDS beyond reach: every ticket the line reaches is admitted, as before presence). Every
 * other option is the replay's (`--people`, `--leave-after`, `--return`, …). Writes
 * bench/results/simulate-abandonment.{json,md} and a chart of present admissions per minute.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { simulate, type PresenceReport, type SimulationReport } from "./lib/replay.js";
import type { SimulationOptions } from "./lib/replay-options.js";
import { chart } from "./lib/svg.js";

export const ABANDONMENT_SHARES = [0, 0.3, 0.6] as const;

export interface AbandonmentRun {
  abandonShare: number;
  /** False: PRESENCE_SECONDS beyond reach, so the line passes nobody over. */
  presence: boolean;
  people: number;
  figures: PresenceReport;
  waitSeconds: SimulationReport["waitSeconds"];
  eta: SimulationReport["eta"];
  /** Present admissions per minute, every minute of the replay. */
  presentPerMinute: number[];
  seconds: number;
  wallMs: number;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const count = (x: number) => Math.round(x).toLocaleString("en");
const mins = (s: number) => (!Number.isFinite(s) ? "not drained" : s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${(s / 60).toFixed(1)} min`);

/** Runs the replay once per share; returns the Markdown table it writes. */
export function runAbandonmentScenarios(o: SimulationOptions, dir: string, shares: readonly number[] = ABANDONMENT_SHARES): string {
  mkdirSync(dir, { recursive: true });
  const runs: AbandonmentRun[] = [];
  const cases = [...shares.map((share) => [share, true] as const), ...shares.filter((share) => share > 0).map((share) => [share, false] as const)];
  for (const [abandonShare, presence] of cases) {
    console.log(`Abandonment ${pct(abandonShare)}, presence ${presence ? "on" : "off"}: replaying ${o.people.toLocaleString("en")} people of cohort ${o.cohort}...`);
    const r = simulate({ ...o, abandonShare, presenceSeconds: presence ? o.presenceSeconds : Infinity });
    runs.push({
      abandonShare,
      presence,
      people: o.people,
      figures: r.presence,
      waitSeconds: r.waitSeconds,
      eta: r.eta,
      presentPerMinute: r.minutes.map((m) => m.presentAdmittedThisMinute),
      seconds: r.seconds,
      wallMs: r.wallMs,
    });
  }
  writeFileSync(join(dir, "simulate-abandonment.json"), JSON.stringify({ options: o, runs }, null, 2));
  writeFileSync(
    join(dir, "simulate-abandonment-rate.svg"),
    chart({
      title: "Admissions of present citizens per minute, by the share of the crowd that left",
      xLabel: "minutes after opening",
      yLabel: "present admissions / minute",
      series: [
        ...runs.map((r) => ({ name: `${pct(r.abandonShare)} leave${r.presence ? "" : ", presence off"}`, dashed: !r.presence, points: r.presentPerMinute.map((x, i): [number, number] => [i + 1, x]) })),
        { name: "ADMIT_PER_MINUTE", points: runs[0]!.presentPerMinute.map((_, i): [number, number] => [i + 1, o.admitPerMinute]), dashed: true },
      ],
    }),
  );
  const md = [
    `# Abandonment and presence: cohort ${o.cohort}, ${o.people.toLocaleString("en")} people`,
    "",
    `${o.shards} shards, ADMIT_PER_MINUTE ${o.admitPerMinute}, MAX_ACTIVE ${o.maxActive}, claim window ${o.claimWindowSeconds} s, pass TTL ${o.passTtlSeconds} s (idle ${o.passIdleSeconds} s), ` +
      `PRESENCE_SECONDS ${o.presenceSeconds}, RETURN_WINDOW_SECONDS ${o.returnWindowSeconds}; leavers leave an exponential time after arriving (mean ${o.leaveMeanSeconds} s), ` +
      `${pct(o.returnShare)} of them come back an exponential time after leaving (mean ${o.returnMeanSeconds} s); ${pct(o.lapseShare)} of those admitted let the pass lapse. Seed ${o.seed}. ` +
      "Waits and ETA coverage are over the citizens admitted at their place while there.",
    "",
    "| leave | presence | left before their turn | passed over | back in the window (admitted) | back too late | present admissions per minute: mean / least (configured) | shard-seconds at the cap | drain: last present admitted / queue through | wait p50 / p90 | ETA within the range (earlier than low / later than high) | wall |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) => {
      const p = r.figures;
      const pace = p.presentPerMinute;
      return `| ${pct(r.abandonShare)} | ${r.presence ? "on" : "off"} | ${count(p.leftBeforeTurn)} | ${count(p.passedOver)} | ${count(p.cameBackWithinWindow)} (${count(p.admittedAfterComingBack)}) | ${count(p.cameBackTooLate)} | ` +
        `${count(pace.mean)} / ${count(pace.min)} (${count(pace.configured)}) | ${pct(pace.capBoundShare)} | ${mins(p.drainSeconds)} / ${mins(p.queueClearedSeconds)} | ` +
        `${mins(r.waitSeconds.p50)} / ${mins(r.waitSeconds.p90)} | ${pct(r.eta.withinRange)} (${pct(r.eta.earlierThanLow)} / ${pct(r.eta.laterThanHigh)}) | ${(r.wallMs / 1000).toFixed(1)} s |`;
    }),
    "",
    "Presence off: PRESENCE_SECONDS beyond reach, so every ticket the line reaches is admitted; one who had left holds capacity for the claim window. " +
      "Present admissions per minute are counted over the whole minutes in which every shard had at least a minute's worth of its rate in present citizens waiting, at the minute's start and end. Chart: `simulate-abandonment-rate.svg`.",
    "",
  ].join("\n");
  writeFileSync(join(dir, "simulate-abandonment.md"), md);
  return md;
}
