/**
 * The flash-crowd replay of a 2021 cohort opening, at full scale, in memory: it drives the project's own
 * admission rule and wait estimate (the code the QueueShard object runs) with a simulated clock. The
 * command is bench/simulate.ts (`npm run simulate`); the origin and abandonment scenarios
 * (bench/simulate-origin.ts, bench/simulate-abandonment.ts) run this replay too.
 *
 * Each citizen arrives (most in the first minutes), lands in a shard by hash, is told a wait estimate,
 * waits (some leave, and the line passes over their place; some of those come back: see `simulate`), is
 * admitted, claims a pass at their next poll, books and finishes (or lets the pass lapse, which then holds
 * capacity PASS_IDLE_SECONDS after the claim). Re-joins (a refresh, a second device) are measured only by
 * `npm run simulate -- --live`, against the real shard. `writeReport` writes a replay's JSON, Markdown and
 * SVG charts.
 *
 * The poll model (issue 10): every second, each waiting citizen polls at the `nextPollMs` the real
 * estimate gives their place in the line (estimateWait with the shard's snapshot of that second), through
 * N locations × M isolates per location; it reports the Durable Object calls per shard per second that
 * a 1 s snapshot cache per isolate, and one per location, let through, against the object's soft limit.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { admissionDeadline, advance, passExpiry, shardCap, shardRate, type ShardCounters } from "../../src/edge/shard/admission.js";
import { observedPace, shardSnapshot, type ShardSnapshot } from "../../src/edge/shard/snapshot.js";
import { estimateWait } from "../../src/edge/queue/wait-estimate.js";
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
 * shard) of 1000 / nextPollMs, nextPollMs from the real estimate for that place and the shard's snapshot.
 * Every place is evaluated up to 64; beyond, the sum between sampled places is the trapezoid of the rates
 * at its ends (the rate falls with the place, so the error is below half the step times the drop).
 */
export function linePollsPerSecond(snap: ShardSnapshot, shards: number): number {
  const waiting = snap.lastSeq - snap.serving;
  if (waiting <= 0) return 0;
  const rateAt = (place: number) => 1000 / estimateWait(snap.serving + 1 + place, snap).nextPollMs;
  const places = samplePlaces(waiting);
  let sum = rateAt(places[0]!);
  for (let i = 1; i < places.length; i++) {
    const [a, b] = [places[i - 1]!, places[i]!];
    const [fa, fb] = [rateAt(a), rateAt(b)];
    // Places a+1 … b: b-a of them; the trapezoid counts b once and a not at all.
    sum += ((fa + fb) / 2) * (b - a) + (fb - fa) / 2;
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

export interface SimulationReport {
  options: SimulationOptions;
  seconds: number;
  wallMs: number;
  minutes: MinuteRow[];
  /** Waits of the measured citizens (PresenceReport.measured): admitted at their place while there. */
  waitSeconds: { p50: number; p90: number; p99: number; max: number };
  /** The estimate told at join against the wait, over the measured citizens. */
  eta: { withinRange: number; earlierThanLow: number; laterThanHigh: number; medianActualOverLow: number; p90AbsErrorShareOfWait: number };
  fairness: { spearmanArrivalVsAdmission: number; admittedOutOfArrivalOrderWithinShard: number };
  limits: { maxAdmittedInAnyMinute: number; configuredPerMinute: number; maxActive: number; cap: number };
  presence: PresenceReport;
  polls: PollModelReport;
  /** Per minute, the busiest second of the busiest shard. */
  pollMinutes: PollMinute[];
  sample: { told: [number, number][]; waits: [number, number][] };
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
}

/** The returning citizens of one shard, in the order they came back: `items` from `head` on still wait. */
interface ReturningQueue {
  items: number[];
  head: number;
}

const NOBODY_RETURNING: readonly number[] = [];

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
  for (let c = 0; c < n; c++) {
    const [leaves, leaveDraw, returns, returnDraw] = [absence(), absence(), absence(), absence()];
    if (leaves >= o.abandonShare) continue;
    leaveAt[c] = arrival[c]! + -Math.log(1 - leaveDraw) * o.leaveMeanSeconds;
    if (returns < o.returnShare) backAt[c] = leaveAt[c]! + -Math.log(1 - returnDraw) * o.returnMeanSeconds;
  }
  /** Whether the object would count the holder as here at second t: seen within PRESENCE_SECONDS. */
  const seenAt = (c: number, t: number) => t <= leaveAt[c]! + o.presenceSeconds || t >= backAt[c]!;
  /** Whether the citizen is in fact there at second t. */
  const thereAt = (c: number, t: number) => t < leaveAt[c]! || t >= backAt[c]!;

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
  const releases = Array.from({ length: o.shards }, () => new Int32Array(horizon + o.passTtlSeconds + o.claimWindowSeconds + 10));
  const firstAdmittedAt: (number | null)[] = new Array(o.shards).fill(null);
  const perMinute = Array.from({ length: o.shards }, () => new Int32Array(Math.ceil(horizon / 60) + 2));
  // The shard's own counts for presentShare: every admission (returns again) and every pass-over.
  const admittedCount = new Float64Array(o.shards);
  const passedCount = new Float64Array(o.shards);
  const returning: ReturningQueue[] = Array.from({ length: o.shards }, () => ({ items: [], head: 0 }));
  /** Citizens back within the window, by the second their return is heard. */
  const returnsDue = new Map<number, number[]>();
  let pendingReturns = 0;
  let returningWaiting = 0;
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
  /** The snapshot the object would hand out for shard s at `now` (as the Worker caches it). */
  const policyOf = (s: number) => ({ ratePerMinute: origin ? origin.rateOf(s) : rate, activeCap: caps[s]!, paused: false });
  const release = (s: number, second: number) => void releases[s]![second]!++;
  const snapshotOf = (s: number, now: number): ShardSnapshot =>
    shardSnapshot(
      counters[s]!,
      active[s]!,
      policyOf(s),
      observedPace(firstAdmittedAt[s]!, now, (from, to) => {
        let sum = 0;
        for (let m = from; m < to; m++) sum += perMinute[s]![m - minuteBase] ?? 0;
        return sum;
      }),
      now,
      // The configured rate rides along, as the object's snapshot carries it: the estimate's low end.
      { configuredPerMinute: rate },
      // And the presence figures, as the object's: who came back and waits, and the share found there.
      {
        returning: returning[s]!.items.length - returning[s]!.head,
        presentShare: admittedCount[s]! + passedCount[s]! > 0 ? admittedCount[s]! / (admittedCount[s]! + passedCount[s]!) : null,
        reached: admittedCount[s]! + passedCount[s]!,
      },
    );
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
  /** The citizen is away from second `from` on (passed over, or their admission lapsed): do they come back in time? */
  const awayFrom = (c: number, from: number) => {
    if (backAt[c] === Infinity) return;
    if (backAt[c]! - from <= o.returnWindowSeconds) {
      const second = Math.max(Math.ceil(backAt[c]!), from);
      const due = returnsDue.get(second);
      if (due) due.push(c);
      else returnsDue.set(second, [c]);
      pendingReturns++;
    } else {
      fate[c] = Fate.TooLate;
      presence.cameBackTooLate++;
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
    let activeTotal = 0;
    for (let s = 0; s < o.shards; s++) {
      active[s]! -= releases[s]![t]!;
      // The object's tick: the same rule with the same inputs it would have at this second.
      const before = counters[s]!.serving;
      const q = returning[s]!;
      const shardLine = line[s]!;
      const step = advance(counters[s]!, active[s]!, policyOf(s), now, {
        returning: q.head < q.items.length ? q.items.slice(q.head) : NOBODY_RETURNING,
        present: (seq) => seenAt(shardLine[seq - 1]!, t),
      });
      counters[s] = step.counters;
      const passed = step.passedOver;
      let p = 0;
      for (let seq = before + 1; seq <= step.counters.serving; seq++) {
        const c = shardLine[seq - 1]!;
        reached++;
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
          // They claim at their next poll, which near the front comes every 2 s or so.
          claimPass(c, s, now + random() * 4_000);
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
      for (const seq of step.returnsAdmitted) {
        const c = shardLine[seq - 1]!;
        fate[c] = Fate.AdmittedAfterComingBack;
        presence.admittedAfterComingBack++;
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
      presence.passedOver += passedNow;
      passedThisMinute += passedNow;
      if (admitted > 0) {
        firstAdmittedAt[s] ??= now;
        perMinute[s]![Math.floor(t / 60)]! += admitted;
      }
      active[s]! += admitted;
      if (active[s]! >= caps[s]!) capBoundShardSeconds++;
      activeTotal += active[s]!;
      admittedTotal += admitted;
      admittedThisMinute += admitted;
    }
    maxActive = Math.max(maxActive, activeTotal);

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
      const told = estimateWait(seq, snap);
      toldLow[c] = told.etaSeconds?.low ?? NaN;
      toldHigh[c] = told.etaSeconds?.high ?? NaN;
    }

    // The poll model: this second's polls of every shard's waiting line, and what the caches let through.
    if (next > reached) {
      let pollsAll = 0;
      let isolateSum = 0;
      let locationSum = 0;
      for (let s = 0; s < o.shards; s++) {
        const polls = linePollsPerSecond(snapshotOf(s, now), o.shards);
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
      minutes.push({
        minute: (t + 1) / 60,
        arrived: next,
        waiting: next - reached + returningWaiting,
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
    if (wait > 60) queueCleared = Math.max(queueCleared, admittedAt[c]!);
    ratio[i] = wait / Math.max(1, toldLow[c]!);
    const mid = (toldLow[c]! + toldHigh[c]!) / 2;
    absErrShare[i] = Math.abs(wait - mid) / Math.max(60, wait);
  }
  // Fairness cohort-wide: arrival order against admission order. Within a shard the order is exact by
  // construction; across shards it is as fair as the shards are even.
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
  const sampleEvery = Math.max(1, Math.floor(m / 3_000));
  const told: [number, number][] = [];
  const waitsOverArrival: [number, number][] = [];
  for (let i = 0; i < m; i += sampleEvery) {
    const c = measuredCitizens[i]!;
    told.push([(toldLow[c]! + toldHigh[c]!) / 2 / 60, waits[i]! / 60]);
    waitsOverArrival.push([arrival[c]! / 60, waits[i]! / 60]);
  }
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
    },
    fairness: { spearmanArrivalVsAdmission: rho, admittedOutOfArrivalOrderWithinShard: outOfOrder },
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
    },
    pollMinutes,
    sample: { told, waits: waitsOverArrival },
  };
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
    `| median actual wait / low end told | ${r.eta.medianActualOverLow.toFixed(2)} |`,
    `| 90th percentile of the error (vs. the middle of the range), as a share of the wait | ${pct(r.eta.p90AbsErrorShareOfWait)} |`,
    `| order fairness: Spearman rank correlation, arrival vs admission, cohort-wide | ${r.fairness.spearmanArrivalVsAdmission.toFixed(4)} |`,
    `| admitted out of arrival order within a shard | ${r.fairness.admittedOutOfArrivalOrderWithinShard} |`,
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
    `| citizen polls per second, all shards (peak) / in total | ${perSecond(q.peak.pollsPerSecond)} | ${q.totalPolls.toLocaleString("en")} in total | |`,
    "",
    `Charts: ${["queue", "rate", "active", "eta", "waits", "polls"].map((k) => `\`${name}-${k}.svg\``).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(join(dir, `${name}.md`), md);
  return md;
}
