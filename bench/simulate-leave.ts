/**
 * `npm run simulate -- --leave-scenarios`: the flash-crowd replay (bench/lib/replay.ts) three times with
 * the same seed (the same arrivals and shards): (a) nobody leaves; (b) a share of the crowd gives the place
 * up with the page's button (DELETE /api/queue/ticket); (c) the same citizens at the same moments close the
 * tab instead (silent abandonment: the line passes them over once unseen for PRESENCE_SECONDS). Nobody
 * comes back and no one else leaves, so the three differ only in how those citizens go. Each leaver goes an
 * exponential time after arriving (mean `--leave-after`, 600 s), unless their turn came first. For the
 * citizens who stayed it compares, citizen by citizen, when they were admitted in (b) against (c) and (a).
 * Writes bench/results/simulate-leave.{json,md}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { simulate, type SimulationReport } from "./lib/replay.js";
import type { SimulationOptions } from "./lib/replay-options.js";
import { quantile } from "./lib/stats.js";

export const LEAVE_SHARE = 0.1;

type Case = "nobody leaves" | "button" | "tab closed";

interface LeaveRun {
  case: Case;
  options: Pick<SimulationOptions, "abandonShare" | "leaveShare" | "returnShare" | "leaveMeanSeconds">;
  drainSeconds: number;
  queueClearedSeconds: number;
  measured: number;
  passedOver: number;
  waitSeconds: SimulationReport["waitSeconds"];
  countAhead: SimulationReport["oneLine"]["countAhead"];
  rises: SimulationReport["oneLine"]["rises"];
  leaving?: SimulationReport["leaving"];
  wallMs: number;
}

/** For the stayers admitted at their place in both runs: how many seconds sooner in `sooner` than in `later`. */
interface Sooner {
  citizens: number;
  mean: number;
  p50: number;
  p90: number;
  /** Share admitted strictly sooner, and strictly later. */
  soonerShare: number;
  laterShare: number;
}

function soonerThan(button: Float64Array, other: Float64Array, stayed: Uint8Array): Sooner {
  const diffs: number[] = [];
  for (let c = 0; c < stayed.length; c++) {
    if (!stayed[c] || Number.isNaN(button[c]!) || Number.isNaN(other[c]!)) continue;
    diffs.push(other[c]! - button[c]!);
  }
  const n = Math.max(1, diffs.length);
  return {
    citizens: diffs.length,
    mean: diffs.reduce((a, x) => a + x, 0) / n,
    p50: quantile(diffs, 0.5),
    p90: quantile(diffs, 0.9),
    soonerShare: diffs.filter((x) => x > 0).length / n,
    laterShare: diffs.filter((x) => x < 0).length / n,
  };
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
const count = (x: number) => Math.round(x).toLocaleString("en");
const mins = (s: number) => (!Number.isFinite(s) ? "not drained" : s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${(s / 60).toFixed(1)} min`);
const secs = (s: number) => `${s.toFixed(1)} s`;

/** Runs the three cases; returns the Markdown it writes. */
export function runLeaveScenarios(o: SimulationOptions, dir: string, share = o.leaveShare > 0 ? o.leaveShare : LEAVE_SHARE): string {
  mkdirSync(dir, { recursive: true });
  const cases: [Case, LeaveRun["options"]][] = [
    ["nobody leaves", { abandonShare: 0, leaveShare: 0, returnShare: 0, leaveMeanSeconds: o.leaveMeanSeconds }],
    ["button", { abandonShare: 0, leaveShare: share, returnShare: 0, leaveMeanSeconds: o.leaveMeanSeconds }],
    ["tab closed", { abandonShare: share, leaveShare: 0, returnShare: 0, leaveMeanSeconds: o.leaveMeanSeconds }],
  ];
  const runs: LeaveRun[] = [];
  const admitted = new Map<Case, Float64Array>();
  let stayed: Uint8Array | undefined;
  for (const [name, given] of cases) {
    console.log(`Leaving, ${name}: replaying ${o.people.toLocaleString("en")} people of cohort ${o.cohort}...`);
    const r = simulate({ ...o, ...given });
    admitted.set(name, r.sample.admittedAt);
    if (name === "button") stayed = r.sample.drawnToLeave.map((drawn) => (drawn ? 0 : 1));
    runs.push({
      case: name,
      options: given,
      drainSeconds: r.presence.drainSeconds,
      queueClearedSeconds: r.presence.queueClearedSeconds,
      measured: r.presence.measured,
      passedOver: r.presence.passedOver,
      waitSeconds: r.waitSeconds,
      countAhead: r.oneLine.countAhead,
      rises: r.oneLine.rises,
      ...(r.leaving ? { leaving: r.leaving } : {}),
      wallMs: r.wallMs,
    });
  }
  const button = admitted.get("button")!;
  const thanTabClosed = soonerThan(button, admitted.get("tab closed")!, stayed!);
  const thanNobody = soonerThan(button, admitted.get("nobody leaves")!, stayed!);
  writeFileSync(join(dir, "simulate-leave.json"), JSON.stringify({ options: { ...o, leaveShare: share }, runs, stayers: { thanTabClosed, thanNobody } }, null, 2));
  const b = runs.find((r) => r.case === "button")!.leaving!;
  const errors = (e: SimulationReport["oneLine"]["countAhead"]["atPolls"]) => `${e.mean.toFixed(1)} / ${e.meanAbs.toFixed(1)} / +${count(e.worstOver)} / −${count(e.worstUnder)}`;
  const soonerRow = (label: string, x: Sooner) =>
    `| ${label} | ${count(x.citizens)} | ${secs(x.p50)} | ${secs(x.p90)} | ${secs(x.mean)} | ${pct(x.soonerShare)} / ${pct(x.laterShare)} |`;
  const md = [
    `# Leaving the line: cohort ${o.cohort}, ${o.people.toLocaleString("en")} people`,
    "",
    `${o.shards} shards, ADMIT_PER_MINUTE ${o.admitPerMinute}, MAX_ACTIVE ${o.maxActive}, PRESENCE_SECONDS ${o.presenceSeconds}, seed ${o.seed}. ` +
      `${pct(share, 0)} of the crowd leave an exponential time after arriving (mean ${o.leaveMeanSeconds} s), unless their turn came first, and do not come back; ` +
      "nobody else leaves. The same citizens at the same moments in both leaving cases; the same arrivals and shards in all three.",
    "",
    "| case | drain: last admitted / last who waited over a minute | admitted at their place | passed over | wait p50 / p90 | count ahead at polls, told − true: mean / mean abs / worst over / under | the same by rank | wall |",
    "|---|---|---|---|---|---|---|---|",
    ...runs.map((r) =>
      `| ${r.case} | ${mins(r.drainSeconds)} / ${mins(r.queueClearedSeconds)} | ${count(r.measured)} | ${count(r.passedOver)} | ${mins(r.waitSeconds.p50)} / ${mins(r.waitSeconds.p90)} | ` +
        `${errors(r.countAhead.atPolls)} | ${errors(r.countAhead.atPollsByRank)} | ${(r.wallMs / 1000).toFixed(1)} s |`),
    "",
    "The citizens who stayed (not drawn to leave), admitted at their place in both runs: how much sooner they were admitted with the button, citizen by citizen.",
    "",
    "| against | citizens | median | p90 | mean | admitted sooner / later |",
    "|---|---|---|---|---|---|",
    soonerRow("the same share closing the tab", thanTabClosed),
    soonerRow("nobody leaving", thanNobody),
    "",
    "With the button:",
    "",
    "| figure | value |",
    "|---|---|",
    `| gave up before their turn / turn came first | ${count(b.gaveUp)} / ${count(b.admittedFirst)} |`,
    `| places stepped over (LineView.left) / reached as anything else | ${count(b.steppedOver)} / ${count(b.reachedAsOthers)} |`,
    `| sampled count ahead between consecutive answers: compared / rose / rose because of leaving | ${count(b.countRises.compared)} / ${count(b.countRises.rose)} / ${count(b.countRises.roseBecauseOfLeaving)} |`,
    `| count ahead at polls if places given up were not taken off: mean / mean abs / worst over / under | ${errors(b.countWithoutLeaving)} |`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "simulate-leave.md"), md);
  return md;
}
