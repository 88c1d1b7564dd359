/**
 * The flash-crowd replay of a 2021 cohort opening, at full scale, in memory: it drives the project's own
 * admission rule, the cohort's one line (the coordinator's `takeReport` and the shards' modes), the count
 * ahead and the wait estimate (the code the QueueShard and CohortCoordinator objects and the Worker run)
 * with a simulated clock. The command is bench/simulate.ts (`npm run simulate`); the origin and abandonment
 * scenarios (bench/simulate-origin.ts, bench/simulate-abandonment.ts) run this replay too.
 *
 * Each citizen arrives (most in the first minutes), lands in a shard by hash, is told a wait estimate,
 * waits (some leave, and the line passes over their place; some of those come back: see `simulate`), is
 * admitted, claims a pass at their next poll, books and finishes (or lets the pass lapse, which then holds
 * capacity PASS_IDLE_SECONDS after the claim). Re-joins (a refresh, a second device) are measured only by
 * `npm run simulate -- --live`, against the real shard. `writeReport` writes a replay's JSON, Markdown and
 * SVG charts.
 *
 * One line (issue 27): every second each shard that has something to tell reports to one in-memory
 * coordinator what a QueueShard reports (its new places as runs of one join second, its counters, its
 * rate), keeps the answer (ranks, granted place, cap, the cohort's view) and admits by it. Citizens are
 * told the count ahead by countAhead (src/edge/queue/count-ahead.ts) from the snapshot the shard would
 * hand out, with its `line`, and the estimate by estimateWait; a sample of them poll as the page does, so
 * the count is checked against the truth and every rise of an estimate is counted with its reason.
 * `--independent-shards` replays the shards as lines of their own, for comparison.
 *
 * The poll model (issue 10): every second, each waiting citizen polls at the `nextPollMs` the real
 * estimate gives their place in the line (estimateWait with the shard's snapshot of that second and, with
 * one line, the cohort's count ahead), through
 * N locations × M isolates per location; it reports the Durable Object calls per shard per second that
 * a 1 s snapshot cache per isolate, and one per location, let through, against the object's soft limit.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { admissionDeadline, advance, passExpiry, shardCap, shardRate, type ShardCounters, type ShardPolicy } from "../../src/edge/shard/admission.js";
import { observedPace, shardSnapshot, type ShardSnapshot } from "../../src/edge/shard/snapshot.js";
import { emptyLine, joinKey, takeReport, type CohortPolicy, type CoordinatorReply, type JoinRun, type RankRun, type ShardReport } from "../../src/edge/cohort/cohort-line.js";
import { capWhileAsking, cohortLineOf, leftRanked, mergeReply, modeAt, NO_COORDINATION, policyIn, rankedLeftPlaces, reportDue, stepOwed, type Coordination, type Mode } from "../../src/edge/shard/coordination.js";
import { countAhead, isPlacing } from "../../src/edge/queue/count-ahead.js";
import { shardLeftPlaces, type LeftPlaces } from "../../src/edge/queue/left-places.js";
import { presenceOf as presenceOfLine } from "../../src/edge/shard/line.js";
import { noticeHoldUntil } from "../../src/edge/shard/push-notices.js";
import { estimateWait, likelyPresent, presentFound, MAX_POLL_MS, type Estimate } from "../../src/edge/queue/wait-estimate.js";
import { COHORTS_2021, type SimulationOptions } from "./replay-options.js";
import { chart } from "./svg.js";
import { quantile, rng, spearman } from "./stats.js";

/**
 * Snapshot calls per second that caches with a TTL let through, from `callers` caches sharing `pollsPerSecond`
 * evenly, each poll arriving at random (many citizens with independent phases). One cache: a miss fetches
 * and serves the snapshot for `ttl`; the next miss is the first poll after that, so a cache refreshes once
 * per ttl + 1/λ seconds, λ = its polls per second: λ / (1 + λ·ttl). It never exceeds one per ttl per cache.
 */
export function cacheMissesPerSecond(pollsPerSecond: number, callers: number, ttlSeconds: number): number {
  if (pollsPerSecond <= 0) return 0;
  const lambda = pollsPerSecond / callers;
  return (callers * lambda) / (1 + lambda * ttlSeconds);
}

/** Points at which the poll rate of a line is sampled: every place up to 64, then 32 per doubling. */
function samplePlaces(waiting: number): number[] {
  const places: number[] = [];
  for (let k = 0; k < Math.min(waiting, 64); k++) places.push(k);
  for (let k = 64; k < waiting; k = Math.max(k + 1, Math.floor(k * 2 ** (1 / 32)))) places.push(k);
  if (waiting > 0 && places.at(-1) !== waiting - 1) places.push(waiting - 1);
  return places;
}

/**
 * Polls per second of one shard's waiting line: the sum over places 0 … waiting-1 (people ahead in the
 * shard) of 1000 / nextPollMs, nextPollMs from the real estimate for that place and the shard's snapshot
 * (with the count ahead cohort-wide, `aheadOf`, while the shards keep one line). Every place is evaluated
 * up to 64; beyond, the sum between sampled places is the trapezoid of the rates at its ends (the rate
 * falls with the place, so the error is below half the step times the drop).
 */
export function linePollsPerSecond(snap: ShardSnapshot, aheadOf: (seq: number) => number | undefined = () => undefined): number {
  const waiting = snap.lastSeq - snap.serving;
  if (waiting <= 0) return 0;
  const rateAt = (place: number) => {
    const seq = snap.serving + 1 + place;
    return 1000 / estimateWait(seq, snap, aheadOf(seq)).nextPollMs;
  };
  const slowest = 1000 / MAX_POLL_MS;
  const places = samplePlaces(waiting);
  let fa = rateAt(places[0]!);
  let sum = fa;
  for (let i = 1; i < places.length; i++) {
    const [a, b] = [places[i - 1]!, places[i]!];
    if (fa === slowest) {
      // The rate falls with the place and never below one poll per MAX_POLL_MS: every place from here on polls so.
      return sum + (waiting - 1 - a) * slowest;
    }
    const fb = rateAt(b);
    // Places a+1 … b: b-a of them; the trapezoid counts b once and a not at all.
    sum += ((fa + fb) / 2) * (b - a) + (fb - fa) / 2;
    fa = fb;
  }
  return sum;
}

export interface PollModelReport {
  locations: number;
  isolatesPerLocation: number;
  cacheTtlSeconds: number;
  objectSoftLimit: number;
  /** Seconds (of the simulated clock) the model was evaluated at: every second while anyone waits. */
  secondsModelled: number;
  peak: {
    /** Polls per second, all shards, at the busiest second. */
    pollsPerSecond: number;
    /** The busiest shard's polls per second at its busiest second (what it would take with no cache). */
    pollsPerShardPerSecond: number;
    /** DO snapshot calls per shard per second, busiest shard and second. */
    perIsolateCache: number;
    perLocationCache: number;
    /** Joins per shard per second, busiest shard and second (they reach the object whatever the caches do). */
    joinsPerShardPerSecond: number;
    atSecond: number;
  };
  /** Means over the first hour after opening (the surge), of the mean shard. */
  firstHour: { pollsPerShardPerSecond: number; perIsolateCache: number; perLocationCache: number };
  /** Citizen polls in total over the replay (the crowd's own count, all answered from caches or objects). */
  totalPolls: number;
  /**
   * Calls to the cohort's coordinator object (shards' reports; joins and polls never reach it), per second
   * over the replay: the busiest second, and the mean over all its seconds. Zero with independent shards.
   */
  coordinator: { peakPerSecond: number; meanPerSecond: number; total: number };
}

/** The count ahead a citizen was told against the true count, over some moments (people; told − true). */
export interface CountError {
  counted: number;
  meanAbs: number;
  /** Mean of told − true: above 0, the count told was too high on average. */
  mean: number;
  /** The largest overcount and undercount (people), and the largest either way in seconds of the configured rate. */
  worstOver: number;
  worstUnder: number;
  worstSecondsOfRate: number;
}

/** How the shards kept one line (or did not, with `--independent-shards`), as issue 27 measures it. */
export interface OneLineReport {
  coordinated: boolean;
  /**
   * Share of the measured citizens admitted more than 5 s after someone who joined more than 5 s after
   * them (anyone measured, any shard).
   */
  passedByLaterJoiner: number;
  /**
   * Admissions per minute (every admission the shards made) over the minutes in which the cohort had a
   * minute's rate of present people waiting at the minute's start and end, against the configured rate;
   * and over those of them in which the cap never bound (less than two seconds of the rate of room left).
   */
  rate: {
    configured: number;
    minutes: number;
    mean: number;
    least: number;
    most: number;
    worstDeviation: number;
    capFreeMinutes: number;
    capFreeWorstDeviation: number;
    /** The last counted minute (minutes after opening). */
    lastMinute: number;
  };
  /**
   * The count ahead told (the page's: cohort-wide with one line, the shard's own place with independent
   * shards) against the true count: people who joined before the citizen and are not reached yet, plus
   * those who came back and wait. At every join, and at every poll of a sample of citizens while they wait
   * at their place and are there.
   */
  countAhead: {
    atJoin: CountError;
    atPolls: CountError;
    /**
     * At the same polls of ranked tickets, against the cohort's own order instead of arrival time: people
     * ranked before the citizen not reached yet, plus those back and waiting. What is left is the age of the
     * figures; the rest of the error above is the order within a join second (the shard's index breaks ties).
     */
    atPollsByRank: CountError;
    /** Answers that showed the place as being found (status `placing`, not ranked yet) instead of a count: not in the errors. */
    placing: { joins: number; polls: number };
    sampledEvery: number;
    sampledCitizens: number;
  };
  /**
   * Between consecutive estimates a sampled citizen was shown (at join, then at each poll, while there and
   * waiting at their place): how often the low or the high end rose, and why (the first input, in the
   * order of `RISE_REASONS`, that moved the estimate up).
   */
  rises: { compared: number; rose: number; citizens: number; byReason: Record<string, number> };
  /**
   * The cap as the estimate sees it against the line: the share of the sampled estimates that took the
   * active cap as binding (the shard's, or the cohort's with one line), and the share of the seconds
   * anyone waited in which the cohort was at its cap (less than two seconds of the rate of room left).
   */
  cap: { estimatesTakingItAsBinding: number; secondsAtCap: number };
}

interface PollMinute {
  minute: number;
  pollsPerShard: number;
  perIsolateCache: number;
  perLocationCache: number;
  joinsPerShard: number;
}

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
  /** Tickets not yet reached plus citizens back and waiting for capacity (absent holders included). */
  waiting: number;
  admittedTotal: number;
  /** Every admission the shards made (what they count): at a place or of one who came back. */
  admittedThisMinute: number;
  /** Of those, admissions of citizens who were there (not of those let in within the presence grace). */
  presentAdmittedThisMinute: number;
  passedOverThisMinute: number;
  active: number;
}

/** What presence did in a replay: who left, who the line passed over, who came back, and the pace kept. */
export interface PresenceReport {
  presenceSeconds: number;
  returnWindowSeconds: number;
  /** Citizens the waits and the ETA coverage are computed over: admitted at their place while there. */
  measured: number;
  /** Citizens who stopped polling before the line reached their place. */
  leftBeforeTurn: number;
  /** Of those, who came back before the line reached them (admitted at their place, and measured). */
  backBeforeTurn: number;
  /** Tickets the line reached while their holder was away (each citizen once; returners again each time). */
  passedOver: number;
  /** Admitted at their place less than PRESENCE_SECONDS after they left: the shard cannot tell them from the present. */
  admittedWhileAway: number;
  /** Of those, who came back and claimed before the claim window ran out. */
  claimedOnReturn: number;
  /** Passed over (or their admission lapsed) and back within RETURN_WINDOW_SECONDS: next at the first free capacity. */
  cameBackWithinWindow: number;
  admittedAfterComingBack: number;
  /** Back after the return window: their place is gone; counted here, not replayed as new joins at the back. */
  cameBackTooLate: number;
  /**
   * Admissions per minute of citizens who were there, over the whole minutes during which every shard had
   * at least a minute's worth of its rate in present citizens waiting (at the minute's start and end).
   */
  presentPerMinute: { mean: number; min: number; minutes: number; configured: number; capBoundShare: number };
  /** Seconds from opening until the last citizen who was there was admitted; NaN if someone was never reached. */
  drainSeconds: number;
  /**
   * Seconds from opening until the last measured citizen who waited more than a minute was admitted: when
   * the surge's line was through. The drain time is set by the last arrivals (they trickle in for three
   * hours), this by the line.
   */
  queueClearedSeconds: number;
}

/**
 * What giving places up with the button did (`leaveShare` above 0): who gave up, how the line stepped over
 * their places, and whether the count ahead the sampled citizens were told ever rose because of it.
 */
export interface LeavingReport {
  share: number;
  /** Citizens drawn to give up whose turn came first: admitted at their place. */
  admittedFirst: number;
  /** Citizens who gave their place up before the line reached it. */
  gaveUp: number;
  /** Places given up that the shards' steps stepped over (LineView.left: no turn, not a pass-over). */
  steppedOver: number;
  /** Places given up that a shard's step admitted or passed over: none, if the rule holds. */
  reachedAsOthers: number;
  /**
   * Between consecutive polls of a sampled citizen (ranked, at their place, there): how often the count
   * told rose, and how often by more than the same count without places given up (`left` taken out of the
   * snapshot and the cohort's view) rose: a rise that leaving caused.
   */
  countRises: { compared: number; rose: number; roseBecauseOfLeaving: number };
  /** The count ahead at polls, told − true, against the count with the places given up not taken off. */
  countWithoutLeaving: CountError;
}

/** What became of an away citizen's admission at their place (`sample.away.outcome`). */
export const AwayOutcome = {
  NotAdmitted: 0,
  /** Claimed within the time their admission was held. */
  InTime: 1,
  /** Looked after it lapsed but within the return window: back, and admitted again at the next free capacity. */
  CameBack: 2,
  /** Looked after the return window: the place is lost. */
  Lost: 3,
} as const;

/**
 * The citizens away from the screen (`awayShare` above 0) admitted at their place: how many claimed in
 * time, came back, or lost the place, and what the unclaimed admissions held of the cap.
 */
export interface AwayReport {
  share: number;
  lookMeanSeconds: number;
  notifiedShare: number;
  /** Away citizens admitted at their place, and of them those subscribed (sent the admitted notice). */
  admitted: number;
  notified: number;
  claimedInTime: number;
  cameBack: number;
  /** Of those who came back, admitted again before the replay ended. */
  admittedAfterComingBack: number;
  lost: number;
  /** Notified citizens who claimed in time on the notice (before their next look), and of them after the admission's own claim window: only the notice's hold kept it. */
  claimedOnNotice: number;
  keptByNoticeHold: number;
  /** Notices the device showed after the admission had lapsed: no longer a hold, only a call to come back. */
  shownAfterLapse: number;
  /**
   * Away citizens' unclaimed admissions holding room in the cap, counted each second over the seconds
   * anyone waited: the most at once and the mean; and of them those held past their own claim window
   * from the admission (by a notice), with the citizen-seconds so held in all.
   */
  unclaimed: { peak: number; meanWhileWaiting: number };
  heldBeyondWindow: { peak: number; meanWhileWaiting: number; citizenSeconds: number };
}

/**
 * The notice as the replay models it, seconds. Delivery (the admitted notice shown on the device, after
 * the tick that made it due): ACCEPT_S for the queue and the push service to take it, then log-normal
 * with median DELIVERY_MEDIAN_S (σ DELIVERY_SIGMA); a share DELIVERY_TAIL_SHARE of devices asleep take an
 * exponential DELIVERY_TAIL_MEAN_S more. Reaction (from the notice shown to the page opened): log-normal
 * with median REACTION_MEDIAN_S (σ REACTION_SIGMA: a p90 of about three times the median, a tail of minutes).
 */
export const NOTICE_MODEL = {
  ACCEPT_S: 1,
  DELIVERY_MEDIAN_S: 2,
  DELIVERY_SIGMA: 0.8,
  DELIVERY_TAIL_SHARE: 0.03,
  DELIVERY_TAIL_MEAN_S: 120,
  REACTION_MEDIAN_S: 25,
  REACTION_SIGMA: 1,
} as const;

/** Who is away from the screen, when they next look after an admission, and how a notice would reach them (seconds). */
interface AwayDraws {
  away: Uint8Array;
  subscribed: Uint8Array;
  lookAfter: Float64Array;
  deliveryAfter: Float64Array;
  reaction: Float64Array;
}

/**
 * Draws the away citizens from a stream of their own, nine draws a citizen whatever the shares, so the
 * same citizens look after the same times in runs that differ only in who is notified, and those
 * subscribed at a smaller share are among those at a larger one. Looks form a Poisson process, so the
 * next look after an admission is exponential with the mean interval whenever the admission comes.
 */
function drawAway(o: SimulationOptions, n: number): AwayDraws {
  const draw = rng(o.seed ^ 0x0a3a7f00);
  const normal = (u: number, v: number) => Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
  const m = NOTICE_MODEL;
  const d: AwayDraws = { away: new Uint8Array(n), subscribed: new Uint8Array(n), lookAfter: new Float64Array(n).fill(NaN), deliveryAfter: new Float64Array(n), reaction: new Float64Array(n) };
  for (let c = 0; c < n; c++) {
    const [isAway, sub, look, d1, d2, tail, tailDraw, r1, r2] = [draw(), draw(), draw(), draw(), draw(), draw(), draw(), draw(), draw()];
    if (isAway >= o.awayShare) continue;
    d.away[c] = 1;
    if (sub < o.notifiedShare) d.subscribed[c] = 1;
    d.lookAfter[c] = -Math.log(1 - look) * o.lookMeanSeconds;
    d.deliveryAfter[c] = m.ACCEPT_S + m.DELIVERY_MEDIAN_S * Math.exp(m.DELIVERY_SIGMA * normal(d1, d2)) + (tail < m.DELIVERY_TAIL_SHARE ? -Math.log(1 - tailDraw) * m.DELIVERY_TAIL_MEAN_S : 0);
    d.reaction[c] = m.REACTION_MEDIAN_S * Math.exp(m.REACTION_SIGMA * normal(r1, r2));
  }
  return d;
}

export interface SimulationReport {
  options: SimulationOptions;
  seconds: number;
  wallMs: number;
  minutes: MinuteRow[];
  /** Waits of the measured citizens (PresenceReport.measured): admitted at their place while there. */
  waitSeconds: { p50: number; p90: number; p99: number; max: number };
  /** The estimate told at join against the wait, over the measured citizens. */
  eta: {
    withinRange: number;
    earlierThanLow: number;
    laterThanHigh: number;
    medianActualOverLow: number;
    p90AbsErrorShareOfWait: number;
    /** The same three shares over those who waited more than a minute (a line, not a turn that came at once). */
    waitedOverAMinute: { citizens: number; withinRange: number; earlierThanLow: number; laterThanHigh: number };
  };
  fairness: { spearmanArrivalVsAdmission: number; admittedOutOfArrivalOrderWithinShard: number };
  oneLine: OneLineReport;
  limits: { maxAdmittedInAnyMinute: number; configuredPerMinute: number; maxActive: number; cap: number };
  presence: PresenceReport;
  /** Only when a share gives places up with the button. */
  leaving?: LeavingReport;
  /** Only when a share is away from the screen. */
  away?: AwayReport;
  polls: PollModelReport;
  /** Per minute, the busiest second of the busiest shard. */
  pollMinutes: PollMinute[];
  /**
   * Not written to the JSON: points for the charts, and per citizen (arrival order) the second each was
   * admitted at their place while there (NaN: not so admitted) and whether they were drawn to leave
   * (silently or with the button), so runs of one seed can be compared citizen by citizen.
   */
  sample: {
    told: [number, number][];
    waits: [number, number][];
    admittedAt: Float64Array;
    drawnToLeave: Uint8Array;
    /** With a share away: per citizen, their next look after an admission (s; NaN: not away) and their AwayOutcome. */
    away?: { lookAfter: Float64Array; outcome: Uint8Array };
  };
}

/**
 * A modelled booking origin the replay can book through (bench/simulate-origin.ts). Without one, an
 * admitted citizen's booking always succeeds after their session; with one, each booking is a request the
 * origin may fail, and the rate each shard admits at is the origin's to say (the autopilot, or fixed).
 */
export interface OriginHooks {
  /**
   * A citizen admitted at `now` who claims at `claimAt` and sends the booking `sessionMs` later. Infinity:
   * never books, and `passExpiresAt` is then when the unused pass stops holding capacity (PASS_IDLE_SECONDS
   * after the claim, or its expiry if sooner).
   */
  admitted(citizen: number, shard: number, claimAt: number, sessionMs: number, passExpiresAt: number): void;
  /** Serves the booking requests due in second `t` of the replay; `release(shard, second)` frees the capacity a pass held. */
  serve(t: number, now: number, release: (shard: number, second: number) => void): void;
  /** The admission rate in force in a shard (per minute). */
  rateOf(shard: number): number;
}

/** What became of a citizen's place. */
const enum Fate {
  Waiting,
  /** Admitted at their place while there: the measured citizens. */
  AtPlace,
  /** Admitted at their place within the presence grace, gone. */
  WhileAway,
  PassedOver,
  /** Back within the return window, waiting for the next free capacity. */
  Returning,
  AdmittedAfterComingBack,
  TooLate,
  /** Gave the place up with the button before the line reached it: stepped over, never admitted. */
  GaveUp,
}

/** The returning citizens of one shard, in the order they came back: `items` from `head` on still wait. */
interface ReturningQueue {
  items: number[];
  head: number;
}

const NOBODY_RETURNING: readonly number[] = [];

/** Counts over citizen indexes (arrival order) with prefix sums: who has been reached. */
class ReachedIndex {
  private readonly tree: Int32Array;
  constructor(size: number) {
    this.tree = new Int32Array(size + 1);
  }
  add(i: number): void {
    for (let k = i + 1; k < this.tree.length; k += k & -k) this.tree[k]!++;
  }
  /** How many of indexes 0 … i-1 were added. */
  before(i: number): number {
    let sum = 0;
    for (let k = i; k > 0; k -= k & -k) sum += this.tree[k]!;
    return sum;
  }
}

/** Accumulates told − true counts. */
class CountErrors {
  private n = 0;
  private abs = 0;
  private sum = 0;
  private over = 0;
  private under = 0;
  add(told: number, truth: number): void {
    const e = told - truth;
    this.n++;
    this.abs += Math.abs(e);
    this.sum += e;
    this.over = Math.max(this.over, e);
    this.under = Math.max(this.under, -e);
  }
  report(perSecond: number): CountError {
    const n = Math.max(1, this.n);
    return { counted: this.n, meanAbs: this.abs / n, mean: this.sum / n, worstOver: this.over, worstUnder: this.under, worstSecondsOfRate: Math.max(this.over, this.under) / perSecond };
  }
}

/** What one estimate shown to a citizen rested on: enough to say why the next one rose. */
interface ShownEstimate {
  low: number;
  high: number;
  ahead: number;
  /** The range rested on the cohort's figures (else the shard's own), and the ticket was not ranked yet. */
  coordinated: boolean;
  unranked: boolean;
  rate: number;
  paused: boolean;
  present: number;
  capBinds: boolean;
  observed: number | null;
  returning: number;
}

/** Why an estimate rose, in the order they are tested: the first that fits is the one counted. */
export const RISE_REASONS = [
  "paused",
  "rate cut (autopilot or operator)",
  "the shard's own count before, the cohort's now (the shard was not coordinated)",
  "count ahead rose: the ticket was not ranked yet at the earlier estimate",
  "count ahead rose: citizens came back",
  "count ahead rose: other",
  "share likely present rose",
  "active cap began binding",
  "observed pace fell (cap binding)",
  "other",
] as const;

function shown(est: Estimate, snap: ShardSnapshot, cohortCount: boolean, unranked: boolean): ShownEstimate | null {
  if (!est.etaSeconds) return null;
  // A place not ranked yet is shown as being found (status `placing`): no number and no range.
  if (unranked && cohortCount && snap.line && !snap.line.alone) return null;
  // The range rests on the cohort's figures only while the shard keeps one line (estimateWait).
  const cohort = cohortCount && !snap.line?.alone ? snap.line?.cohort : undefined;
  return {
    low: est.etaSeconds.low,
    high: est.etaSeconds.high,
    ahead: est.ahead,
    coordinated: cohort !== undefined,
    unranked,
    rate: cohort ? cohort.ratePerMinute : snap.ratePerMinute,
    paused: snap.paused || Boolean(cohort?.paused),
    present: likelyPresent(snap),
    capBinds: cohort ? cohort.held >= cohort.activeCap : snap.active >= snap.activeCap,
    observed: cohort ? cohort.observedPerMinute : snap.observedPerMinute,
    returning: cohort ? cohort.returning : (snap.returning ?? 0),
  };
}

/** Why `now` is later than `before` at either end: the first input that moved the estimate up. */
function whyRose(before: ShownEstimate, now: ShownEstimate): (typeof RISE_REASONS)[number] {
  if (before.paused || now.paused) return "paused";
  if (now.rate < before.rate) return "rate cut (autopilot or operator)";
  if (now.coordinated !== before.coordinated) return "the shard's own count before, the cohort's now (the shard was not coordinated)";
  if (now.ahead > before.ahead) {
    if (before.unranked) return "count ahead rose: the ticket was not ranked yet at the earlier estimate";
    if (now.returning > before.returning) return "count ahead rose: citizens came back";
    return "count ahead rose: other";
  }
  if (now.present > before.present) return "share likely present rose";
  if (now.capBinds && !before.capBinds) return "active cap began binding";
  if (now.capBinds && (before.observed === null || (now.observed !== null && now.observed < before.observed))) return "observed pace fell (cap binding)";
  return "other";
}

/**
 * Runs the replay in memory.
 *
 * Presence, modelled: a share `abandonShare` of the crowd leave (stop polling) an exponential time after
 * arrival (mean `leaveMeanSeconds`); a share `returnShare` of them come back an exponential time after
 * leaving (mean `returnMeanSeconds`) and stay. Who leaves and when is drawn from its own stream of the seed,
 * so runs with different shares share arrivals and shards, and the leavers at 30% are among those at 60%.
 * Each second every shard steps the admission rule with the line as the object sees it: a holder is present
 * if they never left, have not left yet, left at most PRESENCE_SECONDS ago (the object has no way to know
 * sooner: it last saw them then) or came back. Every present citizen counts as heard: whether the Worker
 * passes their polls on in time (src/edge/queue/presence.ts) is not modelled. Present at their turn: admitted.
 * Away: passed over, no capacity, none of the rate. One passed over who comes back within
 * RETURN_WINDOW_SECONDS joins the shard's returning list in the order they came back and is admitted at the
 * next free capacity, ahead of the line, as the shard does; one admitted within the presence grace holds
 * capacity for the claim window and, if back after it but within the return window, returns the same way.
 * One back after the window is counted (`cameBackTooLate`), not replayed as a new join at the back.
 *
 * Leaving with the button, modelled: a share `leaveShare` of the crowd (drawn from the same draws, after
 * the silent leavers) give their place up an exponential time after arrival (mean `leaveMeanSeconds`),
 * unless their turn came first, and do not come back. Their shard hears it before its next tick, as the
 * object does (DELETE /api/queue/ticket): the place is marked given up, the admission rule steps over it
 * (LineView.left), a granted one is refunded to the coordinator (stepOwed), the shard's snapshot lists its
 * places given up (`left`, shardLeftPlaces) and its reports list the ranked ones by rank (rankedLeftPlaces),
 * so the count ahead of those behind (countAhead) falls. The true count ahead leaves them out too.
 */
export function simulate(o: SimulationOptions, origin?: OriginHooks): SimulationReport {
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
  // Who leaves, when, and who comes back (seconds from opening; Infinity: never). Four draws per citizen
  // whatever the shares, so changing a share changes only who is drawn, not the stream.
  const absence = rng(o.seed ^ 0x0ab5e7ce);
  const leaveAt = new Float64Array(n).fill(Infinity);
  const backAt = new Float64Array(n).fill(Infinity);
  // Who gives the place up with the button, and when (Infinity: never); by the second their shard hears it.
  const giveUpAt = new Float64Array(n).fill(Infinity);
  const drawnToLeave = new Uint8Array(n);
  const givingUpDue = new Map<number, number[]>();
  for (let c = 0; c < n; c++) {
    const [leaves, leaveDraw, returns, returnDraw] = [absence(), absence(), absence(), absence()];
    if (leaves >= o.abandonShare) {
      if (leaves >= o.abandonShare + o.leaveShare) continue;
      drawnToLeave[c] = 1;
      giveUpAt[c] = arrival[c]! + -Math.log(1 - leaveDraw) * o.leaveMeanSeconds;
      // Heard before the shard's tick of that second; never before the second after the join was written.
      const second = Math.max(Math.ceil(giveUpAt[c]!), Math.floor(arrival[c]!) + 1);
      const due = givingUpDue.get(second);
      if (due) due.push(c);
      else givingUpDue.set(second, [c]);
      continue;
    }
    drawnToLeave[c] = 1;
    leaveAt[c] = arrival[c]! + -Math.log(1 - leaveDraw) * o.leaveMeanSeconds;
    if (returns < o.returnShare) backAt[c] = leaveAt[c]! + -Math.log(1 - returnDraw) * o.returnMeanSeconds;
  }
  const awayDraws = o.awayShare > 0 ? drawAway(o, n) : undefined;
  const awayOutcome = new Uint8Array(awayDraws ? n : 0);
  const away = { admitted: 0, notified: 0, claimedInTime: 0, cameBack: 0, admittedAfterComingBack: 0, lost: 0, claimedOnNotice: 0, keptByNoticeHold: 0, shownAfterLapse: 0 };
  const held = { unclaimedNow: 0, beyondNow: 0, unclaimedPeak: 0, beyondPeak: 0, unclaimedSum: 0, beyondSum: 0, seconds: 0, beyondCitizenSeconds: 0 };
  /** Whether the object would count the holder as here at second t: seen within PRESENCE_SECONDS. */
  const seenAt = (c: number, t: number) => t <= leaveAt[c]! + o.presenceSeconds || t >= backAt[c]!;
  /** Whether the citizen is in fact there (and holds a place) at second t. */
  const thereAt = (c: number, t: number) => (t < leaveAt[c]! || t >= backAt[c]!) && t < giveUpAt[c]!;

  // Per shard, the citizens in ticket order (seq - 1 -> citizen).
  const line = Array.from({ length: o.shards }, (_, s) => new Uint32Array(perShard[s]!));
  const seqOf = new Uint32Array(n);
  const fate = new Uint8Array(n);
  const admittedAt = new Float64Array(n).fill(NaN);
  const toldLow = new Float64Array(n);
  const toldHigh = new Float64Array(n);

  const opensAt = Date.parse(COHORTS_2021[o.cohort].opensAt);
  const rate = shardRate(o.admitPerMinute, o.shards);
  const horizon = Math.ceil(arrival[n - 1]! + (n / o.admitPerMinute) * 60 * 3 + o.passTtlSeconds + o.claimWindowSeconds + o.returnWindowSeconds + 600);
  const counters: ShardCounters[] = Array.from({ length: o.shards }, () => ({ lastSeq: 0, serving: 0, credit: 0, creditAt: opensAt }));
  const caps = Array.from({ length: o.shards }, (_, s) => shardCap(o.maxActive, o.shards, s));
  const active = new Int32Array(o.shards);
  // Capacity released per shard per second: when an admission lapses, a pass expires or a booking completes.
  // An admission held by a notice may be claimed up to the return window after it.
  const releaseSeconds = horizon + o.passTtlSeconds + Math.max(o.claimWindowSeconds, o.returnWindowSeconds) + 10;
  const releases = Array.from({ length: o.shards }, () => new Int32Array(releaseSeconds));
  // Cohort-wide, by the second: away citizens' unclaimed admissions starting and ending to hold, and the part of those held past their claim window.
  const unclaimedDelta = new Int32Array(awayDraws ? releaseSeconds : 0);
  const beyondDelta = new Int32Array(awayDraws ? releaseSeconds : 0);
  const firstAdmittedAt: (number | null)[] = new Array(o.shards).fill(null);
  const perMinute = Array.from({ length: o.shards }, () => new Int32Array(Math.ceil(horizon / 60) + 2));
  // The shard's own counts for presentShare: every admission (returns again) and every pass-over.
  const admittedCount = new Float64Array(o.shards);
  const passedCount = new Float64Array(o.shards);
  // And the least share present each has found, as line.ts keeps it at each tick that reached someone.
  const leastPresent = new Float64Array(o.shards).fill(presentFound(null, 0));
  const returning: ReturningQueue[] = Array.from({ length: o.shards }, () => ({ items: [], head: 0 }));
  /** Citizens back within the window, by the second their return is heard. */
  const returnsDue = new Map<number, number[]>();
  let pendingReturns = 0;
  let returningWaiting = 0;
  // Per shard, its places given up that its line has not reached (in place order, as store.leftUnreached
  // reads them), and those as its snapshot carries them (null: to be built again).
  const leftSeqs: number[][] = Array.from({ length: o.shards }, () => []);
  const leftSnapshot: (LeftPlaces | undefined | null)[] = new Array(o.shards).fill(null);
  /** Places given up and not reached yet, all shards. */
  let leftWaiting = 0;
  const leaving = { admittedFirst: 0, gaveUp: 0, steppedOver: 0, reachedAsOthers: 0 };
  const presence = {
    leftBeforeTurn: 0,
    backBeforeTurn: 0,
    passedOver: 0,
    admittedWhileAway: 0,
    claimedOnReturn: 0,
    cameBackWithinWindow: 0,
    admittedAfterComingBack: 0,
    cameBackTooLate: 0,
  };

  const minutes: MinuteRow[] = [];
  const minuteBase = Math.floor(opensAt / 60_000);
  /** The shard's configured policy, at the autopilot's rate when an origin sets it. */
  const policyOf = (s: number): ShardPolicy => ({ ratePerMinute: origin ? origin.rateOf(s) : rate, activeCap: caps[s]!, paused: false });
  const release = (s: number, second: number) => void releases[s]![second]!++;
  const paceOf = (s: number, now: number) =>
    observedPace(firstAdmittedAt[s]!, now, (from, to) => {
      let sum = 0;
      for (let m = from; m < to; m++) sum += perMinute[s]![m - minuteBase] ?? 0;
      return sum;
    });
  const returnersOf = (s: number) => returning[s]!.items.length - returning[s]!.head;

  // The cohort's one line: one coordinator (src/edge/cohort/cohort-line.ts, in memory) that every shard
  // reports to, and each shard's side of it as coordination.ts keeps it.
  const coordinated = !o.independentShards && o.shards > 1;
  const cohortLine = emptyLine();
  const cohortPolicy: CohortPolicy = { admitPerMinute: o.admitPerMinute, maxActive: o.maxActive, paused: false, shards: o.shards };
  const coordination: Coordination[] = Array.from({ length: o.shards }, () => ({ ...NO_COORDINATION }));
  /** The rule each shard admitted by at its last step, and the policy it applied (what its snapshot carries). */
  const modes: Mode[] = new Array<Mode>(o.shards).fill("alone");
  const inForce: ShardPolicy[] = Array.from({ length: o.shards }, (_, s) => policyOf(s));
  /** Each citizen's cohort-wide rank, once their shard holds it (-1: not yet). */
  const rankOf = new Int32Array(n).fill(-1);
  /** Per shard, its rank runs in place order, as its store's ranks table holds them (store.addRanks). */
  const rankRuns: RankRun[][] = Array.from({ length: o.shards }, () => []);
  /** A shard's rank runs with a place from `first` to `last`, as store.ranksBetween reads them. */
  const ranksBetween = (s: number, first: number, last: number): RankRun[] => {
    const runs = rankRuns[s]!;
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]![0] + runs[mid]![1] <= first) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < runs.length && runs[end]![0] <= last) end++;
    return runs.slice(lo, end);
  };
  /** A ticket's order key: the second its join was written in (joins of second t are written at its end). */
  const keyOf = (c: number) => joinKey(opensAt + Math.floor(arrival[c]!) * 1000);
  let coordinatorCalls = 0;
  let coordinatorPeak = 0;

  /** The shard's report, as buildReport (coordination.ts) makes it; null when it has nothing to tell (reportDue). */
  const reportOf = (s: number, now: number): ShardReport | null => {
    const c = coordination[s]!;
    const k = counters[s]!;
    const returners = returnersOf(s);
    const left = leftSeqs[s]!;
    const ranked = leftRanked(left, c.rankedSeq);
    if (!reportDue(c, { lastSeq: k.lastSeq, serving: k.serving, returnersWaiting: returners, active: active[s]!, leftRanked: ranked })) return null;
    const runs: JoinRun[] = [];
    for (let seq = c.receivedSeq + 1; seq <= k.lastSeq; seq++) {
      const key = keyOf(line[s]![seq - 1]!);
      const last = runs.at(-1);
      if (last && last.key === key) last.count++;
      else runs.push({ key, firstSeq: seq, count: 1 });
    }
    // As the object keeps it while the report is on the way.
    c.cap = capWhileAsking(c, active[s]!, k.serving, returners);
    // Its ranked places given up and not reached, by rank, as leftByRank (coordination.ts) lists them.
    const leftByRank = ranked > 0 ? rankedLeftPlaces(left.slice(0, ranked), ranksBetween(s, left[0]!, left[ranked - 1]!), s) : undefined;
    return {
      shard: s,
      // Every join of an earlier second is written: this second's come at its end.
      completeThrough: joinKey(now),
      runs,
      rankedSeq: c.rankedSeq,
      lastSeq: k.lastSeq,
      serving: k.serving,
      active: active[s]!,
      returning: returners,
      ratePerMinute: policyOf(s).ratePerMinute,
      // The configured share, the autopilot's ceiling.
      configuredPerMinute: rate,
      observedPerMinute: paceOf(s, now),
      passedGranted: c.passedGranted,
      returnsAdmitted: c.returnsAdmitted,
      cap: c.cap,
      ...(leftByRank ? { left: leftByRank } : {}),
    };
  };
  /** Keeps the coordinator's answer as takeReply (coordination.ts) does: the ranks (here each citizen's), then mergeReply. */
  const takeReplyOf = (s: number, reply: CoordinatorReply, report: ShardReport, now: number) => {
    const shardLine = line[s]!;
    const runs = rankRuns[s]!;
    for (const run of reply.ranks) {
      const [firstSeq, count, rankBase] = run;
      const last = runs.at(-1);
      // The coordinator sends a run again until the shard acknowledges it.
      if (!last || firstSeq >= last[0] + last[1]) runs.push(run);
      for (let i = 0; i < count; i++) {
        const c = shardLine[firstSeq - 1 + i]!;
        // A place given up before it was ranked leaves the count by rank as it is ranked.
        if (rankOf[c]! < 0 && fate[c] === Fate.GaveUp) reachedRanks.add(rankBase + i);
        rankOf[c] = rankBase + i;
      }
    }
    // In place: the step that reported holds this object and counts on it after the answer. The places
    // given up the coordinator now knows of are the report's (as queue-shard.ts keeps them).
    Object.assign(coordination[s]!, mergeReply(coordination[s]!, reply, report.active, now), { leftReported: report.left?.total ?? 0 });
  };

  /** Shard s's share of those reached who were there, and how many it reached, as line.ts counts them. */
  const presenceOf = (s: number) => presenceOfLine(admittedCount[s]!, passedCount[s]!);
  /** The snapshot the object would hand out for shard s at `now` (as the Worker caches it), as line.ts builds it. */
  const snapshotOf = (s: number, now: number): ShardSnapshot => {
    const snap = shardSnapshot(
      counters[s]!,
      active[s]!,
      inForce[s]!,
      paceOf(s, now),
      now,
      // The configured rate rides along, as the object's snapshot carries it: the estimate's low end.
      { configuredPerMinute: rate },
      // And the presence figures, as the object's: who came back and waits, and the share found there.
      {
        returning: returnersOf(s),
        ...presenceOf(s),
        leastPresent: leastPresent[s]!,
      },
    );
    // Its places given up and not reached, as line.ts's snapshot lists them (built again when they change).
    const left = leftSnapshot[s] === null ? (leftSnapshot[s] = shardLeftPlaces(leftSeqs[s]!, s)) : leftSnapshot[s];
    const withLeft = left ? { ...snap, left } : snap;
    // A shard not coordinated now still carries the cohort as it last heard it, marked alone.
    const cohortLine = coordinated ? cohortLineOf(coordination[s]!, modes[s]!, s) : undefined;
    return cohortLine ? { ...withLeft, line: cohortLine } : withLeft;
  };
  /** The count ahead the page shows for place `seq` of shard s (cohort-ahead.ts), or undefined: the shard's own. */
  const aheadOf = (s: number, seq: number, snap: ShardSnapshot): number | undefined => {
    if (!snap.line) return undefined;
    const rank = seq <= snap.line.rankedSeq ? rankOf[line[s]![seq - 1]!]! : -1;
    return countAhead(seq, snap, snap.line, rank >= 0 ? rank : undefined);
  };

  // The count ahead against the truth: who joined before and is not reached yet, plus those back and waiting.
  const reachedIndex = new ReachedIndex(n);
  const trueAhead = (c: number) => c - reachedIndex.before(c) + returningWaiting;
  // And by the cohort's order: who is ranked before and not reached yet.
  const reachedRanks = new ReachedIndex(n);
  const joinErrors = new CountErrors();
  /** Answers that showed the place as being found rather than a count. */
  const placingAnswers = { joins: 0, polls: 0 };
  const pollErrors = new CountErrors();
  const pollRankErrors = new CountErrors();
  // With places given up: the count at polls as it would be without them taken off, and its rises.
  const pollErrorsWithoutLeaving = new CountErrors();
  const lastCounts = new Map<number, { told: number; without: number }>();
  const countRises = { compared: 0, rose: 0, roseBecauseOfLeaving: 0 };
  /** The snapshot as it would be with no place given up: no `left`, in the shard's or the cohort's. */
  const withoutLeft = (snap: ShardSnapshot): ShardSnapshot => {
    const { left: _, line: cohortLine, ...rest } = snap;
    if (!cohortLine) return rest;
    const { left: __, ...cohort } = cohortLine.cohort;
    return { ...rest, line: { ...cohortLine, cohort } };
  };
  // A sample of citizens poll as the page does (at the nextPollMs it is told), while waiting at their place and there.
  const pollEvery = Math.max(1, Math.floor(n / 10_000));
  const pollsDue = new Map<number, number[]>();
  const lastShown = new Map<number, ShownEstimate>();
  const rises = { compared: 0, rose: 0, citizens: new Set<number>(), byReason: {} as Record<string, number> };
  const capSeen = { estimates: 0, binding: 0, seconds: 0, atCap: 0 };
  const pollAt = (c: number, second: number) => {
    const due = pollsDue.get(second);
    if (due) due.push(c);
    else pollsDue.set(second, [c]);
  };
  /** Tells citizen c (of shard s, place seq) the count and the estimate the page would show, at its join or a poll. */
  const tell = (c: number, s: number, seq: number, snap: ShardSnapshot, at: "join" | "poll"): Estimate => {
    const ahead = aheadOf(s, seq, snap);
    const est = estimateWait(seq, snap, ahead);
    // While the place is being found the page shows no count (status `placing`): nothing told, nothing wrong.
    const placing = isPlacing(seq, snap.line);
    if (placing) placingAnswers[at === "join" ? "joins" : "polls"]++;
    else (at === "join" ? joinErrors : pollErrors).add(est.ahead, trueAhead(c));
    const rank = rankOf[c]!;
    if (at === "poll" && ahead !== undefined && rank >= 0) pollRankErrors.add(est.ahead, rank - reachedRanks.before(rank) + returningWaiting);
    if (c % pollEvery !== 0) return est;
    if (o.leaveShare > 0) {
      if (placing) lastCounts.delete(c);
      else {
        const bare = withoutLeft(snap);
        const without = estimateWait(seq, bare, aheadOf(s, seq, bare)).ahead;
        if (at === "poll") pollErrorsWithoutLeaving.add(without, trueAhead(c));
        const before = lastCounts.get(c);
        if (before) {
          countRises.compared++;
          const rise = est.ahead - before.told;
          if (rise > 0) {
            countRises.rose++;
            if (rise > without - before.without) countRises.roseBecauseOfLeaving++;
          }
        }
        lastCounts.set(c, { told: est.ahead, without });
      }
    }
    const now = shown(est, snap, ahead !== undefined, ahead !== undefined && rankOf[c]! < 0);
    const before = lastShown.get(c);
    if (before && now) {
      rises.compared++;
      if (now.low > before.low || now.high > before.high) {
        rises.rose++;
        rises.citizens.add(c);
        const why = whyRose(before, now);
        rises.byReason[why] = (rises.byReason[why] ?? 0) + 1;
      }
    }
    if (now) {
      lastShown.set(c, now);
      capSeen.estimates++;
      if (now.capBinds) capSeen.binding++;
    } else lastShown.delete(c);
    return est;
  };
  const isolates = o.locations * o.isolatesPerLocation;
  const pollMinutes: PollMinute[] = [];
  // Per second from opening (0 while nobody waits), the mean shard's polls and snapshot calls.
  const pollSeconds = { isolate: [] as number[], location: [] as number[], polls: [] as number[] };
  const firstHourMean = (xs: number[]) => xs.slice(0, 3_600).reduce((a, x) => a + x, 0) / Math.min(3_600, Math.max(1, xs.length));
  const pollPeak = { pollsPerSecond: 0, pollsPerShardPerSecond: 0, perIsolateCache: 0, perLocationCache: 0, joinsPerShardPerSecond: 0, atSecond: 0 };
  let pollMinute: PollMinute = { minute: 1, pollsPerShard: 0, perIsolateCache: 0, perLocationCache: 0, joinsPerShard: 0 };
  let totalPolls = 0;
  let secondsModelled = 0;
  const joinsThisSecond = new Uint32Array(o.shards);
  let next = 0;
  let reached = 0;
  let admittedTotal = 0;
  let admittedThisMinute = 0;
  let presentThisMinute = 0;
  let passedThisMinute = 0;
  let lastPresentAdmission = NaN;
  let maxAdmittedInAnyMinute = 0;
  let maxActive = 0;
  // The pace of present admissions, over the minutes the line had present people to admit throughout.
  const presentMinutes: number[] = [];
  let capBoundShardSeconds = 0;
  let capBoundInCountedMinutes = 0;
  let busyAtMinuteStart = false;
  // The cohort's admissions per minute while it had a minute's rate of present people waiting, and whether
  // its cap bound in any second of the minute.
  const rateMinutes: { minute: number; admitted: number; capBound: boolean }[] = [];
  let cohortBusyAtMinuteStart = false;
  let capBoundSecondsThisMinute = 0;
  const minuteOfRate = Math.ceil(rate);
  /** Whether every shard has at least a minute's worth of its rate in present citizens waiting at second t. */
  const everyShardBusy = (t: number) => {
    for (let s = 0; s < o.shards; s++) {
      let there = returning[s]!.items.length - returning[s]!.head;
      const k = counters[s]!;
      for (let seq = k.serving + 1; seq <= k.lastSeq && there < minuteOfRate; seq++) if (thereAt(line[s]![seq - 1]!, t)) there++;
      if (there < minuteOfRate) return false;
    }
    return true;
  };

  /** Whether the cohort has at least a minute's rate of present citizens waiting (or back and waiting) at second t. */
  const cohortBusy = (t: number) => {
    let there = returningWaiting;
    for (let s = 0; s < o.shards && there < o.admitPerMinute; s++) {
      const k = counters[s]!;
      for (let seq = k.serving + 1; seq <= k.lastSeq && there < o.admitPerMinute; seq++) if (thereAt(line[s]![seq - 1]!, t)) there++;
    }
    return there >= o.admitPerMinute;
  };

  /** A pass claimed at `claimAt` (ms): it holds capacity until its booking, or until unused for PASS_IDLE_SECONDS. */
  const claimPass = (c: number, s: number, claimAt: number) => {
    const lapses = random() < o.lapseShare;
    const sessionMs = lapses ? Infinity : 30_000 + -Math.log(1 - random()) * 90_000;
    const expiresAt = passExpiry(claimAt, o.passTtlSeconds);
    // One who never books is taken to have left with the pass unused: it stops holding once idle.
    const idleAt = Math.min(expiresAt, claimAt + o.passIdleSeconds * 1000);
    if (origin) {
      // The origin decides when a booking's pass stops holding capacity: when its booking goes through.
      origin.admitted(c, s, claimAt, sessionMs, lapses ? idleAt : expiresAt);
      return;
    }
    release(s, Math.ceil(((lapses ? idleAt : Math.min(expiresAt, claimAt + sessionMs)) - opensAt) / 1000));
  };
  /** The citizen is away from second `from` on (passed over, or their admission lapsed): whether they come back in time. */
  const awayFrom = (c: number, from: number): boolean => {
    if (backAt[c] === Infinity) return false;
    if (backAt[c]! - from <= o.returnWindowSeconds) {
      const second = Math.max(Math.ceil(backAt[c]!), from);
      const due = returnsDue.get(second);
      if (due) due.push(c);
      else returnsDue.set(second, [c]);
      pendingReturns++;
      return true;
    }
    fate[c] = Fate.TooLate;
    presence.cameBackTooLate++;
    return false;
  };
  /**
   * An away citizen admitted at their place at second t: the page is there, the citizen is not. They claim
   * at their next look, or, subscribed, when they open the admitted notice, if sooner. The admission holds
   * its room in the cap for the claim window and, once the notice is out, as the shard holds it
   * (noticeHoldUntil, push-notices.ts): from the push service's acceptance, then from the device showing
   * it while still held. Claimed by then: in time. Later: it lapsed, and they come back (or not) as anyone
   * whose admission lapsed.
   */
  const admitAway = (c: number, s: number, t: number, now: number, draws: AwayDraws) => {
    away.admitted++;
    const lookAt = now + draws.lookAfter[c]! * 1000;
    let heldUntil = admissionDeadline(now, o.claimWindowSeconds);
    let claimAt = lookAt;
    if (draws.subscribed[c]) {
      away.notified++;
      const hold = (at: number) => noticeHoldUntil(at, now, o.claimWindowSeconds, o.returnWindowSeconds);
      heldUntil = Math.max(heldUntil, hold(now + Math.min(draws.deliveryAfter[c]!, NOTICE_MODEL.ACCEPT_S) * 1000));
      const shownAt = now + draws.deliveryAfter[c]! * 1000;
      if (shownAt <= heldUntil) heldUntil = Math.max(heldUntil, hold(shownAt));
      else away.shownAfterLapse++;
      claimAt = Math.min(lookAt, shownAt + draws.reaction[c]! * 1000);
    }
    const second = (ms: number) => Math.ceil((ms - opensAt) / 1000);
    const endsAt = Math.min(claimAt, heldUntil);
    unclaimedDelta[t]!++;
    unclaimedDelta[second(endsAt)]!--;
    const windowEnds = t + o.claimWindowSeconds;
    if (second(endsAt) > windowEnds) {
      beyondDelta[windowEnds]!++;
      beyondDelta[second(endsAt)]!--;
      held.beyondCitizenSeconds += second(endsAt) - windowEnds;
    }
    if (claimAt <= heldUntil) {
      awayOutcome[c] = AwayOutcome.InTime;
      away.claimedInTime++;
      if (claimAt < lookAt) {
        away.claimedOnNotice++;
        if (claimAt > admissionDeadline(now, o.claimWindowSeconds)) away.keptByNoticeHold++;
      }
      claimPass(c, s, claimAt);
      return;
    }
    const lapsesAt = (heldUntil - opensAt) / 1000;
    release(s, Math.ceil(lapsesAt));
    // Back when they look (or open the notice): in the return window, a returner.
    backAt[c] = (claimAt - opensAt) / 1000;
    if (awayFrom(c, lapsesAt)) {
      awayOutcome[c] = AwayOutcome.CameBack;
      away.cameBack++;
    } else {
      awayOutcome[c] = AwayOutcome.Lost;
      away.lost++;
    }
  };

  let t = 0;
  for (; t < horizon && (next < n || reached < n || returningWaiting > 0 || pendingReturns > 0); t++) {
    const now = opensAt + t * 1000;
    origin?.serve(t, now, release);
    // Those back this second: heard by their shard (a poll near the front, a join) before its tick.
    const back = returnsDue.get(t);
    if (back) {
      returnsDue.delete(t);
      back.sort((a, b) => backAt[a]! - backAt[b]! || seqOf[a]! - seqOf[b]!);
      for (const c of back) {
        fate[c] = Fate.Returning;
        returning[shardOf[c]!]!.items.push(seqOf[c]!);
        presence.cameBackWithinWindow++;
      }
      pendingReturns -= back.length;
      returningWaiting += back.length;
    }
    // Those who give their place up this second (DELETE /api/queue/ticket): heard by their shard before its tick.
    const givingUp = givingUpDue.get(t);
    if (givingUp) {
      givingUpDue.delete(t);
      for (const c of givingUp) {
        // Their turn came first: nothing left to give up.
        if (fate[c] !== Fate.Waiting) continue;
        fate[c] = Fate.GaveUp;
        leaving.gaveUp++;
        leftWaiting++;
        const s = shardOf[c]!;
        const left = leftSeqs[s]!;
        const seq = seqOf[c]!;
        let at = left.length;
        while (at > 0 && left[at - 1]! > seq) at--;
        left.splice(at, 0, seq);
        leftSnapshot[s] = null;
        // Out of the true count ahead of everyone behind, by arrival and (once ranked) by rank.
        reachedIndex.add(c);
        if (rankOf[c]! >= 0) reachedRanks.add(rankOf[c]!);
      }
    }
    let activeTotal = 0;
    let reports = 0;
    for (let s = 0; s < o.shards; s++) {
      active[s]! -= releases[s]![t]!;
      // The object's alarm: it reports to the cohort's coordinator when it has something to tell, keeps the
      // answer, and admits by the rule of its mode (coordination.ts) with the same inputs it would have.
      let policy = policyOf(s);
      const coord = coordination[s]!;
      if (coordinated) {
        const report = reportOf(s, now);
        if (report) {
          reports++;
          takeReplyOf(s, takeReport(cohortLine, report, cohortPolicy, now).reply, report, now);
        }
        modes[s] = modeAt(coord, o.shards, now);
        policy = policyIn(modes[s]!, coord, policy, o.maxActive, o.shards, s, now);
      }
      inForce[s] = policy;
      const before = counters[s]!.serving;
      const q = returning[s]!;
      const shardLine = line[s]!;
      const left = leftSeqs[s]!;
      const step = advance(counters[s]!, active[s]!, policy, now, {
        returning: q.head < q.items.length ? q.items.slice(q.head) : NOBODY_RETURNING,
        ...(left.length > 0 ? { left: (seq: number) => fate[shardLine[seq - 1]!] === Fate.GaveUp } : {}),
        present: (seq) => seenAt(shardLine[seq - 1]!, t),
      });
      counters[s] = step.counters;
      const passed = step.passedOver;
      let p = 0;
      // Counted as line.ts does: what the coordinator paid for and did not get, and what it did not pay for.
      if (policy.grantedSeq !== undefined) Object.assign(coord, stepOwed(coord, step));
      leaving.steppedOver += step.leftSkipped;
      let reachedLeft = 0;
      while (reachedLeft < left.length && left[reachedLeft]! <= step.counters.serving) reachedLeft++;
      if (reachedLeft > 0) {
        left.splice(0, reachedLeft);
        leftSnapshot[s] = null;
        leftWaiting -= reachedLeft;
      }
      let gaveUpReached = 0;
      for (let seq = before + 1; seq <= step.counters.serving; seq++) {
        const c = shardLine[seq - 1]!;
        reached++;
        if (fate[c] === Fate.GaveUp) {
          // Stepped over, if the rule holds (already out of the true counts); checked against leftSkipped below.
          gaveUpReached++;
          if (p < passed.length && passed[p] === seq) p++;
          continue;
        }
        reachedIndex.add(c);
        if (rankOf[c]! >= 0) reachedRanks.add(rankOf[c]!);
        if (leaveAt[c]! < t) presence.leftBeforeTurn++;
        if (p < passed.length && passed[p] === seq) {
          p++;
          fate[c] = Fate.PassedOver;
          awayFrom(c, t);
        } else if (thereAt(c, t)) {
          fate[c] = Fate.AtPlace;
          admittedAt[c] = t;
          presentThisMinute++;
          lastPresentAdmission = t;
          if (leaveAt[c]! < t) presence.backBeforeTurn++;
          if (awayDraws?.away[c]) admitAway(c, s, t, now, awayDraws);
          // They claim at their next poll, which near the front comes every 2 s or so.
          else claimPass(c, s, now + random() * 4_000);
        } else {
          // Let in within the presence grace: the admission holds capacity until the claim window ends.
          fate[c] = Fate.WhileAway;
          presence.admittedWhileAway++;
          const lapsesAt = (admissionDeadline(now, o.claimWindowSeconds) - opensAt) / 1000;
          if (backAt[c]! < lapsesAt) {
            presence.claimedOnReturn++;
            claimPass(c, s, opensAt + backAt[c]! * 1000);
          } else {
            release(s, Math.ceil(lapsesAt));
            awayFrom(c, lapsesAt);
          }
        }
      }
      leaving.reachedAsOthers += gaveUpReached - step.leftSkipped;
      for (const seq of step.returnsAdmitted) {
        const c = shardLine[seq - 1]!;
        fate[c] = Fate.AdmittedAfterComingBack;
        presence.admittedAfterComingBack++;
        if (awayOutcome[c] === AwayOutcome.CameBack) away.admittedAfterComingBack++;
        presentThisMinute++;
        lastPresentAdmission = t;
        claimPass(c, s, now + random() * 4_000);
      }
      // Returners stay once back, so the rule never finds one away again; were it to, the shard forgets the return.
      for (const seq of step.returnsPassed) fate[shardLine[seq - 1]!] = Fate.PassedOver;
      q.head += step.returnsAdmitted.length + step.returnsPassed.length;
      returningWaiting -= step.returnsAdmitted.length + step.returnsPassed.length;
      if (q.head > 1_024 && q.head * 2 > q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      const admitted = step.admitted + step.returnsAdmitted.length;
      const passedNow = passed.length + step.returnsPassed.length;
      admittedCount[s]! += admitted;
      passedCount[s]! += passedNow;
      if (admitted > 0 || passedNow > 0) {
        const found = presenceOf(s);
        leastPresent[s] = Math.min(leastPresent[s]!, presentFound(found.presentShare, found.reached));
      }
      presence.passedOver += passedNow;
      passedThisMinute += passedNow;
      if (admitted > 0) {
        firstAdmittedAt[s] ??= now;
        perMinute[s]![Math.floor(t / 60)]! += admitted;
      }
      active[s]! += admitted;
      if (active[s]! >= policy.activeCap) capBoundShardSeconds++;
      activeTotal += active[s]!;
      admittedTotal += admitted;
      admittedThisMinute += admitted;
    }
    maxActive = Math.max(maxActive, activeTotal);
    if (awayDraws) {
      held.unclaimedNow += unclaimedDelta[t]!;
      held.beyondNow += beyondDelta[t]!;
      if (next > reached) {
        held.seconds++;
        held.unclaimedSum += held.unclaimedNow;
        held.beyondSum += held.beyondNow;
        held.unclaimedPeak = Math.max(held.unclaimedPeak, held.unclaimedNow);
        held.beyondPeak = Math.max(held.beyondPeak, held.beyondNow);
      }
    }
    coordinatorCalls += reports;
    coordinatorPeak = Math.max(coordinatorPeak, reports);
    // The cohort at its cap: less than two seconds of the rate of room left (with one line, up to about a
    // second of grants is still to be admitted by shards that hear of them at their next report).
    if (activeTotal >= o.maxActive - 2 * Math.ceil(o.admitPerMinute / 60)) {
      capBoundSecondsThisMinute++;
      if (next > reached) capSeen.atCap++;
    }
    if (next > reached) capSeen.seconds++;

    // Joins of this second, told the estimate the page would show them.
    const snapshots = new Map<number, ShardSnapshot>();
    joinsThisSecond.fill(0);
    while (next < n && arrival[next]! < t + 1) {
      const c = next++;
      const s = shardOf[c]!;
      const k = counters[s]!;
      const seq = k.lastSeq + 1;
      counters[s] = { ...k, lastSeq: seq };
      line[s]![seq - 1] = c;
      seqOf[c] = seq;
      joinsThisSecond[s]!++;
      let snap = snapshots.get(s);
      if (!snap) {
        snap = snapshotOf(s, now);
        snapshots.set(s, snap);
      }
      const told = tell(c, s, seq, snap, "join");
      toldLow[c] = told.etaSeconds?.low ?? NaN;
      toldHigh[c] = told.etaSeconds?.high ?? NaN;
      if (c % pollEvery === 0) pollAt(c, t + pollGap(told));
    }
    // Snapshots after this second's joins, as the Worker would cache them for the polls.
    const fresh: (ShardSnapshot | undefined)[] = new Array(o.shards);

    // The poll model: this second's polls of every shard's waiting line, and what the caches let through.
    if (next > reached) {
      let pollsAll = 0;
      let isolateSum = 0;
      let locationSum = 0;
      for (let s = 0; s < o.shards; s++) {
        const snap = (fresh[s] = snapshotOf(s, now));
        const polls = linePollsPerSecond(snap, (seq) => aheadOf(s, seq, snap));
        const viaIsolates = cacheMissesPerSecond(polls, isolates, o.cacheTtlSeconds);
        const viaLocations = cacheMissesPerSecond(polls, o.locations, o.cacheTtlSeconds);
        pollsAll += polls;
        isolateSum += viaIsolates;
        locationSum += viaLocations;
        pollMinute.pollsPerShard = Math.max(pollMinute.pollsPerShard, polls);
        pollMinute.perIsolateCache = Math.max(pollMinute.perIsolateCache, viaIsolates);
        pollMinute.perLocationCache = Math.max(pollMinute.perLocationCache, viaLocations);
        pollMinute.joinsPerShard = Math.max(pollMinute.joinsPerShard, joinsThisSecond[s]!);
        if (viaIsolates > pollPeak.perIsolateCache) Object.assign(pollPeak, { perIsolateCache: viaIsolates, atSecond: t });
        pollPeak.perLocationCache = Math.max(pollPeak.perLocationCache, viaLocations);
        pollPeak.pollsPerShardPerSecond = Math.max(pollPeak.pollsPerShardPerSecond, polls);
        pollPeak.joinsPerShardPerSecond = Math.max(pollPeak.joinsPerShardPerSecond, joinsThisSecond[s]!);
      }
      pollPeak.pollsPerSecond = Math.max(pollPeak.pollsPerSecond, pollsAll);
      totalPolls += pollsAll;
      pollSeconds.polls[t] = pollsAll / o.shards;
      pollSeconds.isolate[t] = isolateSum / o.shards;
      pollSeconds.location[t] = locationSum / o.shards;
      secondsModelled++;
    } else {
      pollSeconds.polls[t] = pollSeconds.isolate[t] = pollSeconds.location[t] = 0;
    }

    // The sampled citizens whose poll falls in this second.
    const due = pollsDue.get(t);
    pollsDue.delete(t);
    for (const c of due ?? []) {
      if (fate[c] !== Fate.Waiting) {
        lastShown.delete(c);
        lastCounts.delete(c);
        continue;
      }
      if (!thereAt(c, t)) {
        // Away: no polls until back, and then a new page, not compared with the last estimate.
        lastShown.delete(c);
        lastCounts.delete(c);
        if (backAt[c]! < Infinity) pollAt(c, Math.max(t + 1, Math.ceil(backAt[c]!)));
        continue;
      }
      const s = shardOf[c]!;
      const snap = (fresh[s] ??= snapshotOf(s, now));
      pollAt(c, t + pollGap(tell(c, s, seqOf[c]!, snap, "poll")));
    }

    if ((t + 1) % 60 === 0) {
      pollMinutes.push(pollMinute);
      pollMinute = { minute: (t + 1) / 60 + 1, pollsPerShard: 0, perIsolateCache: 0, perLocationCache: 0, joinsPerShard: 0 };
      maxAdmittedInAnyMinute = Math.max(maxAdmittedInAnyMinute, admittedThisMinute);
      const busyAtMinuteEnd = everyShardBusy(t);
      if (busyAtMinuteStart && busyAtMinuteEnd) {
        presentMinutes.push(presentThisMinute);
        capBoundInCountedMinutes += capBoundShardSeconds;
      }
      busyAtMinuteStart = busyAtMinuteEnd;
      capBoundShardSeconds = 0;
      const cohortBusyAtEnd = cohortBusy(t);
      if (cohortBusyAtMinuteStart && cohortBusyAtEnd) rateMinutes.push({ minute: (t + 1) / 60, admitted: admittedThisMinute, capBound: capBoundSecondsThisMinute > 0 });
      cohortBusyAtMinuteStart = cohortBusyAtEnd;
      capBoundSecondsThisMinute = 0;
      minutes.push({
        minute: (t + 1) / 60,
        arrived: next,
        waiting: next - reached - leftWaiting + returningWaiting,
        admittedTotal,
        admittedThisMinute,
        presentAdmittedThisMinute: presentThisMinute,
        passedOverThisMinute: passedThisMinute,
        active: activeTotal,
      });
      admittedThisMinute = 0;
      presentThisMinute = 0;
      passedThisMinute = 0;
    }
  }

  // Outcomes, over the citizens admitted at their place while there: a wait that includes time away, or
  // an admission the citizen was not there for, says nothing of the line or of the estimate.
  const measuredCitizens: number[] = [];
  for (let c = 0; c < n; c++) if (fate[c] === Fate.AtPlace) measuredCitizens.push(c);
  const m = measuredCitizens.length;
  const waits = new Float64Array(m);
  const measuredArrival = new Float64Array(m);
  const measuredAdmission = new Float64Array(m);
  let within = 0;
  let early = 0;
  let late = 0;
  let queueCleared = 0;
  const long = { citizens: 0, early: 0, late: 0 };
  const ratio = new Float64Array(m);
  const absErrShare = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const c = measuredCitizens[i]!;
    // A citizen waits from their arrival (within a second) to their admission tick.
    const wait = Math.max(0, admittedAt[c]! - Math.floor(arrival[c]!));
    waits[i] = wait;
    measuredArrival[i] = arrival[c]!;
    measuredAdmission[i] = admittedAt[c]!;
    if (wait < toldLow[c]!) early++;
    else if (wait > toldHigh[c]!) late++;
    else within++;
    if (wait > 60) {
      queueCleared = Math.max(queueCleared, admittedAt[c]!);
      long.citizens++;
      if (wait < toldLow[c]!) long.early++;
      else if (wait > toldHigh[c]!) long.late++;
    }
    ratio[i] = wait / Math.max(1, toldLow[c]!);
    const mid = (toldLow[c]! + toldHigh[c]!) / 2;
    absErrShare[i] = Math.abs(wait - mid) / Math.max(60, wait);
  }
  // Fairness cohort-wide: arrival order against admission order. Within a shard the order is exact by
  // construction; across shards the coordinator's ranks keep it (within a join second, the shard's index
  // breaks ties), and independent shards are as fair as they are even.
  const rho = spearman(measuredArrival, measuredAdmission);
  let outOfOrder = 0;
  for (let s = 0; s < o.shards; s++) {
    let last = -Infinity;
    for (const c of line[s]!) {
      if (fate[c] !== Fate.AtPlace) continue;
      if (admittedAt[c]! < last) outOfOrder++;
      last = admittedAt[c]!;
    }
  }
  // Passed by a later joiner: admitted more than 5 s after someone who joined more than 5 s after them. The
  // measured citizens are in arrival order; the earliest admission among those who joined after a moment
  // is a suffix minimum.
  const laterFirstAdmitted = new Float64Array(m + 1).fill(Infinity);
  for (let i = m - 1; i >= 0; i--) laterFirstAdmitted[i] = Math.min(laterFirstAdmitted[i + 1]!, measuredAdmission[i]!);
  let passedByLater = 0;
  for (let i = 0, j = 0; i < m; i++) {
    while (j < m && measuredArrival[j]! <= measuredArrival[i]! + 5) j++;
    if (laterFirstAdmitted[j]! < measuredAdmission[i]! - 5) passedByLater++;
  }
  const deviation = (x: number) => Math.abs(x - o.admitPerMinute) / o.admitPerMinute;
  const capFree = rateMinutes.filter((x) => !x.capBound);
  const perSecondOfRate = o.admitPerMinute / 60;
  const oneLine: OneLineReport = {
    coordinated,
    passedByLaterJoiner: m ? passedByLater / m : NaN,
    rate: {
      configured: o.admitPerMinute,
      minutes: rateMinutes.length,
      mean: rateMinutes.length ? rateMinutes.reduce((a, x) => a + x.admitted, 0) / rateMinutes.length : NaN,
      least: rateMinutes.length ? Math.min(...rateMinutes.map((x) => x.admitted)) : NaN,
      most: rateMinutes.length ? Math.max(...rateMinutes.map((x) => x.admitted)) : NaN,
      worstDeviation: rateMinutes.length ? Math.max(...rateMinutes.map((x) => deviation(x.admitted))) : NaN,
      capFreeMinutes: capFree.length,
      capFreeWorstDeviation: capFree.length ? Math.max(...capFree.map((x) => deviation(x.admitted))) : NaN,
      lastMinute: rateMinutes.at(-1)?.minute ?? NaN,
    },
    countAhead: {
      atJoin: joinErrors.report(perSecondOfRate),
      atPolls: pollErrors.report(perSecondOfRate),
      atPollsByRank: pollRankErrors.report(perSecondOfRate),
      placing: placingAnswers,
      sampledEvery: pollEvery,
      sampledCitizens: Math.ceil(n / pollEvery),
    },
    rises: { compared: rises.compared, rose: rises.rose, citizens: rises.citizens.size, byReason: rises.byReason },
    cap: { estimatesTakingItAsBinding: capSeen.binding / Math.max(1, capSeen.estimates), secondsAtCap: capSeen.atCap / Math.max(1, capSeen.seconds) },
  };
  const sampleEvery = Math.max(1, Math.floor(m / 3_000));
  const told: [number, number][] = [];
  const waitsOverArrival: [number, number][] = [];
  for (let i = 0; i < m; i += sampleEvery) {
    const c = measuredCitizens[i]!;
    told.push([(toldLow[c]! + toldHigh[c]!) / 2 / 60, waits[i]! / 60]);
    waitsOverArrival.push([arrival[c]! / 60, waits[i]! / 60]);
  }
  // Drawn to give up, and their turn came first (some of them after the replay's last second).
  for (let c = 0; c < n; c++) if (giveUpAt[c]! < Infinity && fate[c] !== Fate.GaveUp) leaving.admittedFirst++;
  const counted = presentMinutes.length;
  const drained = reached === n && returningWaiting === 0;

  return {
    options: o,
    seconds: t,
    wallMs: Math.round(performance.now() - started),
    minutes,
    waitSeconds: drained
      ? { p50: quantile(waits, 0.5), p90: quantile(waits, 0.9), p99: quantile(waits, 0.99), max: quantile(waits, 1) }
      : { p50: NaN, p90: NaN, p99: NaN, max: NaN },
    eta: {
      withinRange: within / m,
      earlierThanLow: early / m,
      laterThanHigh: late / m,
      medianActualOverLow: quantile(ratio, 0.5),
      p90AbsErrorShareOfWait: quantile(absErrShare, 0.9),
      waitedOverAMinute: {
        citizens: long.citizens,
        withinRange: (long.citizens - long.early - long.late) / Math.max(1, long.citizens),
        earlierThanLow: long.early / Math.max(1, long.citizens),
        laterThanHigh: long.late / Math.max(1, long.citizens),
      },
    },
    fairness: { spearmanArrivalVsAdmission: rho, admittedOutOfArrivalOrderWithinShard: outOfOrder },
    oneLine,
    limits: {
      maxAdmittedInAnyMinute,
      configuredPerMinute: o.admitPerMinute,
      maxActive,
      cap: o.maxActive,
    },
    presence: {
      presenceSeconds: o.presenceSeconds,
      returnWindowSeconds: o.returnWindowSeconds,
      measured: m,
      ...presence,
      presentPerMinute: {
        mean: counted ? presentMinutes.reduce((a, x) => a + x, 0) / counted : NaN,
        min: counted ? Math.min(...presentMinutes) : NaN,
        minutes: counted,
        configured: o.admitPerMinute,
        capBoundShare: counted ? capBoundInCountedMinutes / (counted * 60 * o.shards) : NaN,
      },
      drainSeconds: drained ? lastPresentAdmission : NaN,
      queueClearedSeconds: drained ? queueCleared : NaN,
    },
    polls: {
      locations: o.locations,
      isolatesPerLocation: o.isolatesPerLocation,
      cacheTtlSeconds: o.cacheTtlSeconds,
      objectSoftLimit: o.objectSoftLimit,
      secondsModelled,
      peak: pollPeak,
      firstHour: {
        pollsPerShardPerSecond: firstHourMean(pollSeconds.polls),
        perIsolateCache: firstHourMean(pollSeconds.isolate),
        perLocationCache: firstHourMean(pollSeconds.location),
      },
      totalPolls: Math.round(totalPolls),
      coordinator: { peakPerSecond: coordinatorPeak, meanPerSecond: t ? coordinatorCalls / t : 0, total: coordinatorCalls },
    },
    ...(o.leaveShare > 0
      ? { leaving: { share: o.leaveShare, ...leaving, countRises, countWithoutLeaving: pollErrorsWithoutLeaving.report(perSecondOfRate) } }
      : {}),
    ...(awayDraws
      ? {
          away: {
            share: o.awayShare,
            lookMeanSeconds: o.lookMeanSeconds,
            notifiedShare: o.notifiedShare,
            ...away,
            unclaimed: { peak: held.unclaimedPeak, meanWhileWaiting: held.unclaimedSum / Math.max(1, held.seconds) },
            heldBeyondWindow: { peak: held.beyondPeak, meanWhileWaiting: held.beyondSum / Math.max(1, held.seconds), citizenSeconds: held.beyondCitizenSeconds },
          },
        }
      : {}),
    pollMinutes,
    sample: { told, waits: waitsOverArrival, admittedAt, drawnToLeave, ...(awayDraws ? { away: { lookAfter: awayDraws.lookAfter, outcome: awayOutcome } } : {}) },
  };
}

/** Seconds until a page asks again: the estimate's nextPollMs, on the replay's one-second beat. */
function pollGap(est: Estimate): number {
  return Math.max(1, Math.round(est.nextPollMs / 1000));
}

function minutesFmt(seconds: number): string {
  if (!Number.isFinite(seconds)) return "not drained";
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 60).toFixed(1)} min`;
}

const count = (x: number) => x.toLocaleString("en");

/** The presence part of a report, as Markdown lines. */
function presenceRows(r: SimulationReport): string[] {
  const p = r.presence;
  const pace = p.presentPerMinute;
  return [
    "## Presence",
    "",
    "| figure | value |",
    "|---|---|",
    `| left before their turn (of them back before it) | ${count(p.leftBeforeTurn)} (${count(p.backBeforeTurn)}) |`,
    `| passed over, their holder away | ${count(p.passedOver)} |`,
    `| admitted within the presence grace though gone (back to claim in time) | ${count(p.admittedWhileAway)} (${count(p.claimedOnReturn)}) |`,
    `| came back within the return window / admitted after coming back | ${count(p.cameBackWithinWindow)} / ${count(p.admittedAfterComingBack)} |`,
    `| came back after the window (counted, not replayed as new joins) | ${count(p.cameBackTooLate)} |`,
    `| present admissions per minute while every shard had present people waiting: mean / least (configured; minutes counted) | ${count(Math.round(pace.mean))} / ${count(pace.min)} (${count(pace.configured)}; ${pace.minutes}) |`,
    `| shard-seconds at the active cap in those minutes | ${(pace.capBoundShare * 100).toFixed(1)}% |`,
    `| drain: last present citizen admitted / last one who waited over a minute | ${minutesFmt(p.drainSeconds)} / ${minutesFmt(p.queueClearedSeconds)} |`,
  ];
}

/** The one-line part of a report (issue 27's figures), as Markdown lines. */
function oneLineRows(r: SimulationReport): string[] {
  const l = r.oneLine;
  const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
  const people = (x: number) => count(Math.round(x));
  const errors = (e: CountError) =>
    `${e.mean.toFixed(1)} / ${e.meanAbs.toFixed(1)} / +${people(e.worstOver)} / −${people(e.worstUnder)} (${e.worstSecondsOfRate.toFixed(1)} s) over ${count(e.counted)}`;
  const rate = l.rate;
  const coordinator = r.polls.coordinator;
  return [
    "## One line across shards",
    "",
    l.coordinated
      ? `The shards keep one line: each reports to the cohort's coordinator (\`takeReport\`, src/edge/cohort/cohort-line.ts) when it has something to tell, at most once a simulated second, and admits its places through the one granted, within the cap given (coordination.ts's modes).`
      : "Independent shards (`--independent-shards`): each shard a line of its own at its share of the rate and the cap, as before the cohort's coordinator.",
    "",
    "| figure | value |",
    "|---|---|",
    `| Spearman ρ, join vs admission, cohort-wide (target ≥ 0.9999) | ${r.fairness.spearmanArrivalVsAdmission.toFixed(6)} |`,
    `| admitted more than 5 s after someone who joined more than 5 s after them | ${pct(l.passedByLaterJoiner, 3)} |`,
    `| admissions per minute while the cohort had a minute's rate of present people waiting: mean / least / most (configured; minutes, the last at minute ${rate.lastMinute}) | ${people(rate.mean)} / ${count(rate.least)} / ${count(rate.most)} (${count(rate.configured)}; ${rate.minutes}) |`,
    `| worst deviation from the configured rate: those minutes / the ${rate.capFreeMinutes} of them in which the cap never bound | ${pct(rate.worstDeviation, 2)} / ${pct(rate.capFreeWorstDeviation, 2)} |`,
    `| count ahead told − true at join: mean / mean absolute / worst over / worst under (worst in seconds of the rate) | ${errors(l.countAhead.atJoin)} joins |`,
    `| answers that showed the place as being found (not ranked yet: no count shown, not in the errors): at join / at polls | ${count(l.countAhead.placing.joins)} / ${count(l.countAhead.placing.polls)} |`,
    `| the same at the polls of 1 in ${l.countAhead.sampledEvery} citizens (${count(l.countAhead.sampledCitizens)}) while they wait at their place and are there | ${errors(l.countAhead.atPolls)} polls |`,
    `| the same polls, ranked tickets only, against the cohort's order (ranked before, not reached, plus returners) | ${l.coordinated ? `${errors(l.countAhead.atPollsByRank)} polls` : "no ranks"} |`,
    `| a sampled citizen's estimate rose (low or high end) between consecutive ones: times / of compared (citizens) | ${count(l.rises.rose)} / ${count(l.rises.compared)} (${count(l.rises.citizens)}) |`,
    ...Object.entries(l.rises.byReason)
      .sort((a, b) => b[1] - a[1])
      .map(([why, times]) => `| … rose because: ${why} | ${count(times)} |`),
    `| the cap: sampled estimates that took it as binding / seconds anyone waited with the cohort at its cap | ${pct(l.cap.estimatesTakingItAsBinding)} / ${pct(l.cap.secondsAtCap)} |`,
    `| calls to the coordinator per second (shards' reports): busiest second / mean | ${coordinator.peakPerSecond} / ${coordinator.meanPerSecond.toFixed(1)} (${count(coordinator.total)} in all) |`,
  ];
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
        { name: "admitted, present", points: m.map((x) => [x.minute, x.presentAdmittedThisMinute]) },
        { name: "passed over", points: m.map((x) => [x.minute, x.passedOverThisMinute]) },
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
  const pm = r.pollMinutes;
  writeFileSync(
    join(dir, `${name}-polls.svg`),
    chart({
      title: `Durable Object calls per shard per second (busiest shard), ${r.polls.locations} locations × ${r.polls.isolatesPerLocation} isolates`,
      xLabel: "minutes after opening",
      yLabel: "requests / s to one shard",
      series: [
        { name: `snapshot calls, ${r.polls.cacheTtlSeconds} s cache per isolate`, points: pm.map((x) => [x.minute, x.perIsolateCache]) },
        { name: `snapshot calls, ${r.polls.cacheTtlSeconds} s cache per location`, points: pm.map((x) => [x.minute, x.perLocationCache]) },
        { name: "joins", points: pm.map((x) => [x.minute, x.joinsPerShard]) },
        { name: "soft limit", points: pm.map((x) => [x.minute, r.polls.objectSoftLimit]), dashed: true },
      ],
    }),
  );
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const q = r.polls;
  const perSecond = (x: number) => (x >= 100 ? Math.round(x).toLocaleString("en") : x.toPrecision(3));
  const md = [
    `# Flash-crowd replay: cohort ${r.options.cohort}`,
    "",
    `${r.options.people.toLocaleString("en")} people, ${r.options.shards} shards, ADMIT_PER_MINUTE ${r.options.admitPerMinute}, MAX_ACTIVE ${r.options.maxActive}, claim window ${r.options.claimWindowSeconds} s, pass TTL ${r.options.passTtlSeconds} s (idle ${r.options.passIdleSeconds} s), presence ${r.options.presenceSeconds} s, return window ${r.options.returnWindowSeconds} s; ` +
      `${pct(r.options.abandonShare)} leave (mean ${r.options.leaveMeanSeconds} s after arriving), ${pct(r.options.returnShare)} of them come back (mean ${r.options.returnMeanSeconds} s after leaving), ${pct(r.options.lapseShare)} let the pass lapse. Seed ${r.options.seed}. (Re-joins are measured against the running stack by \`--live\`, not modelled here.)`,
    "",
    `Waits, the ETA and fairness are over the ${r.presence.measured.toLocaleString("en")} citizens admitted at their place while there.`,
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
    `| of the ${count(r.eta.waitedOverAMinute.citizens)} who waited over a minute: within the range / earlier / later | ${pct(r.eta.waitedOverAMinute.withinRange)} / ${pct(r.eta.waitedOverAMinute.earlierThanLow)} / ${pct(r.eta.waitedOverAMinute.laterThanHigh)} |`,
    `| median actual wait / low end told | ${r.eta.medianActualOverLow.toFixed(2)} |`,
    `| 90th percentile of the error (vs. the middle of the range), as a share of the wait | ${pct(r.eta.p90AbsErrorShareOfWait)} |`,
    `| order fairness: Spearman rank correlation, arrival vs admission, cohort-wide | ${r.fairness.spearmanArrivalVsAdmission.toFixed(4)} |`,
    `| admitted out of arrival order within a shard | ${r.fairness.admittedOutOfArrivalOrderWithinShard} |`,
    "",
    ...oneLineRows(r),
    "",
    ...presenceRows(r),
    "",
    `## Polls at internet scale`,
    "",
    `Every waiting citizen polls at the \`nextPollMs\` the estimate gives their place, each second of the replay (${q.secondsModelled.toLocaleString("en")} s modelled); ` +
      `the polls spread evenly over ${q.locations} locations × ${q.isolatesPerLocation} isolates, each snapshot cache holding a shard's snapshot ${q.cacheTtlSeconds} s. ` +
      `Peak = the busiest shard at its busiest second; first hour = the mean shard, averaged over the first hour after opening.`,
    "",
    "| figure | peak | first hour (mean) | peak against the object's soft limit |",
    "|---|---|---|---|",
    `| citizen polls per shard per second (no cache: every poll a DO call) | ${perSecond(q.peak.pollsPerShardPerSecond)} | ${perSecond(q.firstHour.pollsPerShardPerSecond)} | ${(q.peak.pollsPerShardPerSecond / q.objectSoftLimit).toFixed(2)}× of ${q.objectSoftLimit.toLocaleString("en")}/s |`,
    `| DO snapshot calls per shard per second, ${q.cacheTtlSeconds} s cache per isolate | ${perSecond(q.peak.perIsolateCache)} | ${perSecond(q.firstHour.perIsolateCache)} | ${(q.peak.perIsolateCache / q.objectSoftLimit).toFixed(2)}× (${q.peak.perIsolateCache <= q.objectSoftLimit ? "under" : "OVER"}) |`,
    `| DO snapshot calls per shard per second, ${q.cacheTtlSeconds} s cache per location | ${perSecond(q.peak.perLocationCache)} | ${perSecond(q.firstHour.perLocationCache)} | ${(q.peak.perLocationCache / q.objectSoftLimit).toFixed(2)}× (${q.peak.perLocationCache <= q.objectSoftLimit ? "under" : "OVER"}) |`,
    `| joins per shard per second (reach the object whatever the caches do) | ${perSecond(q.peak.joinsPerShardPerSecond)} | | |`,
    `| calls to the cohort's coordinator per second, all shards' reports (each shard at most 1) | ${perSecond(q.coordinator.peakPerSecond)} | ${perSecond(q.coordinator.meanPerSecond)} (whole replay) | ${(q.coordinator.peakPerSecond / q.objectSoftLimit).toFixed(2)}× |`,
    `| citizen polls per second, all shards (peak) / in total | ${perSecond(q.peak.pollsPerSecond)} | ${q.totalPolls.toLocaleString("en")} in total | |`,
    "",
    `Charts: ${["queue", "rate", "active", "eta", "waits", "polls"].map((k) => `\`${name}-${k}.svg\``).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(join(dir, `${name}.md`), md);
  return md;
}
