/**
 * `npm run simulate -- --notify-scenarios`: the flash-crowd replay (bench/lib/replay.ts) twice with the
 * same seed (the same arrivals, shards, and citizens away from the screen with the same looks): (a) nobody
 * subscribed to notifications; (b) every citizen away from the screen subscribed, so the admitted notice
 * reaches them and their admission is held from its delivery as the shard holds it (noticeHoldUntil,
 * src/edge/shard/push-notices.ts). A share of the crowd (`--away`, 30%) is away while waiting: the page
 * still counts them as present, but they look at it only an exponential time apart (mean `--look-after`,
 * 480 s), so the claim waits for their next look, or for the notice (NOTICE_MODEL). Everyone else watches
 * the page and claims at its next poll, as the replay has them. `--scale` shrinks the crowd with the rate,
 * the cap and the shards. Writes bench/results/simulate-notify.{json,md}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NOTICE_MODEL, simulate, type AwayReport } from "./lib/replay.js";
import type { SimulationOptions } from "./lib/replay-options.js";

export const AWAY_SHARE = 0.3;

type Case = "nobody subscribed" | "away group subscribed";

interface NotifyRun {
  case: Case;
  notifiedShare: number;
  away: AwayReport;
  /** Admitted at their place while there (the page was there: the away citizens too), whatever became of it. */
  admittedAtPlace: number;
  /** Of those, the share who claimed within the time held: everyone watching the page, and the away citizens in time. */
  claimedInTimeShare: number;
  drainSeconds: number;
  queueClearedSeconds: number;
  waitP50: number;
  waitP90: number;
  maxActive: number;
  secondsAtCap: number;
  wallMs: number;
}

/** The crowd, the rate, the cap and the shards of `o` times `scale`: the same line, smaller. */
export function scaled(o: SimulationOptions, scale: number): SimulationOptions {
  if (scale === 1) return o;
  const shards = Math.max(1, Math.round(o.shards * scale));
  return {
    ...o,
    people: Math.max(1, Math.round(o.people * scale)),
    shards,
    admitPerMinute: o.admitPerMinute * scale,
    maxActive: Math.max(shards, Math.round(o.maxActive * scale)),
  };
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
const count = (x: number) => Math.round(x).toLocaleString("en");
const mins = (s: number) => (!Number.isFinite(s) ? "not drained" : s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${(s / 60).toFixed(1)} min`);
const signed = (s: number) => `${s >= 0 ? "+" : "−"}${Math.abs(s).toFixed(0)} s`;

/** Runs the two cases; returns the Markdown it writes. */
export function runNotifyScenarios(given: SimulationOptions, dir: string, scale = 1, awayShare = given.awayShare > 0 ? given.awayShare : AWAY_SHARE): string {
  mkdirSync(dir, { recursive: true });
  const o = { ...scaled(given, scale), awayShare };
  const cases: [Case, number][] = [
    ["nobody subscribed", 0],
    ["away group subscribed", 1],
  ];
  const runs: NotifyRun[] = [];
  for (const [name, notifiedShare] of cases) {
    console.log(`Notifications, ${name}: replaying ${o.people.toLocaleString("en")} people of cohort ${o.cohort} (${pct(awayShare, 0)} away)...`);
    const r = simulate({ ...o, notifiedShare });
    const away = r.away!;
    // Those whose admission lapsed are no longer counted as admitted at their place (PresenceReport.measured).
    const admittedAtPlace = r.presence.measured + away.cameBack + away.lost;
    runs.push({
      case: name,
      notifiedShare,
      away,
      admittedAtPlace,
      claimedInTimeShare: (admittedAtPlace - away.admitted + away.claimedInTime) / Math.max(1, admittedAtPlace),
      drainSeconds: r.presence.drainSeconds,
      queueClearedSeconds: r.presence.queueClearedSeconds,
      waitP50: r.waitSeconds.p50,
      waitP90: r.waitSeconds.p90,
      maxActive: r.limits.maxActive,
      secondsAtCap: r.oneLine.cap.secondsAtCap,
      wallMs: r.wallMs,
    });
  }
  writeFileSync(join(dir, "simulate-notify.json"), JSON.stringify({ options: o, scale, noticeModel: NOTICE_MODEL, runs }, null, 2));
  const [none, notified] = runs as [NotifyRun, NotifyRun];
  const share = (x: number, r: NotifyRun) => pct(x / Math.max(1, r.away.admitted));
  const m = NOTICE_MODEL;
  const md = [
    `# Notifications: cohort ${o.cohort}, ${o.people.toLocaleString("en")} people (scale ${scale})`,
    "",
    `${o.shards} shards, ADMIT_PER_MINUTE ${o.admitPerMinute}, MAX_ACTIVE ${o.maxActive}, CLAIM_WINDOW_SECONDS ${o.claimWindowSeconds}, RETURN_WINDOW_SECONDS ${o.returnWindowSeconds}, seed ${o.seed}; ` +
      `the replay's own leavers (${pct(o.abandonShare, 0)}) as in every replay. ${pct(awayShare, 0)} of the crowd are away from the screen while they wait: the page counts them as present, ` +
      `they look at it an exponential time apart (mean ${o.lookMeanSeconds} s), so the next look after an admission is exponential with that mean. ` +
      `With notifications the admitted notice is taken by the push service ${m.ACCEPT_S} s after the admission and shown ${m.ACCEPT_S} s + log-normal (median ${m.DELIVERY_MEDIAN_S} s, σ ${m.DELIVERY_SIGMA}) after it, ` +
      `${pct(m.DELIVERY_TAIL_SHARE, 0)} of devices an exponential ${m.DELIVERY_TAIL_MEAN_S} s later still; the citizen opens it a log-normal time after it shows (median ${m.REACTION_MEDIAN_S} s, σ ${m.REACTION_SIGMA}), or at their next look if sooner. ` +
      "The admission is held as the shard holds it: the claim window from the acceptance, and from the showing while still held, never past the return window from the admission. " +
      "Same arrivals, shards, away citizens and looks in both cases.",
    "",
    "| case | away and admitted at their place (notified) | claimed in time | came back (admitted again) | lost the place | all admitted at their place: claimed in time | drain: last admitted / last who waited over a minute | wait p50 / p90 | wall |",
    "|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) =>
      `| ${r.case} | ${count(r.away.admitted)} (${count(r.away.notified)}) | ${share(r.away.claimedInTime, r)} | ${share(r.away.cameBack, r)} (${count(r.away.admittedAfterComingBack)}) | ${share(r.away.lost, r)} | ` +
        `${pct(r.claimedInTimeShare)} of ${count(r.admittedAtPlace)} | ${mins(r.drainSeconds)} / ${mins(r.queueClearedSeconds)} | ${mins(r.waitP50)} / ${mins(r.waitP90)} | ${(r.wallMs / 1000).toFixed(1)} s |`),
    "",
    "What the holds cost the line: away citizens' unclaimed admissions holding room in the cap (over the seconds anyone waited), and those held past their own claim window by a notice.",
    "",
    "| case | unclaimed admissions held: most at once / mean | held past the claim window: most at once / mean / citizen-seconds in all | most active at once (cap) | seconds anyone waited at the cap | claimed in time on the notice / of them after the admission's own window / notice shown after the lapse |",
    "|---|---|---|---|---|---|",
    ...runs.map((r) =>
      `| ${r.case} | ${count(r.away.unclaimed.peak)} / ${r.away.unclaimed.meanWhileWaiting.toFixed(1)} | ${count(r.away.heldBeyondWindow.peak)} / ${r.away.heldBeyondWindow.meanWhileWaiting.toFixed(1)} / ${count(r.away.heldBeyondWindow.citizenSeconds)} | ` +
        `${count(r.maxActive)} (${count(o.maxActive)}) | ${pct(r.secondsAtCap)} | ${count(r.away.claimedOnNotice)} / ${count(r.away.keptByNoticeHold)} / ${count(r.away.shownAfterLapse)} |`),
    "",
    `With the away group subscribed against nobody: drain ${signed(notified.drainSeconds - none.drainSeconds)}, the line through ${signed(notified.queueClearedSeconds - none.queueClearedSeconds)}, ` +
      `wait p90 ${signed(notified.waitP90 - none.waitP90)}.`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "simulate-notify.md"), md);
  return md;
}
