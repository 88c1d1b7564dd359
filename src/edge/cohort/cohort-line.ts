import { burstFor } from "../shard/admission.js";
import { mergeLeftPlaces, type LeftPlaces } from "../queue/left-places.js";

/**
 * One line per cohort, kept by its shards together. Pure (no I/O, no clock of its own), so the cohort's
 * coordinator object (coordinator.ts), the tests and the flash-crowd replay run this very code.
 *
 * The order. Every ticket of the cohort gets a cohort-wide rank: 0, 1, 2, … with no gaps. A shard reports
 * its tickets as runs of consecutive places that share an order key (the second they joined in; for the
 * pre-queue, a bucket of the draw value, all before any join after the opening), and the coordinator ranks
 * runs by (key, shard, first place) once every shard that is reporting has told it all its tickets below
 * that key. So a citizen who joined a second earlier than another is ranked first whichever shard either
 * landed in; within one second the shard's index breaks the tie (shards are assigned by a hash, so that
 * favours nobody). A shard's places rank in place order, which is the order its line moves in.
 *
 * The watermark. The cohort may admit the tickets ranked below the watermark, and only those (plus
 * citizens who came back after being passed over, who go first as before). The coordinator moves it on at
 * the cohort's rate: it holds the cohort's credit (the sum of the shards' rates, the autopilot's each),
 * spends one for each ticket the watermark newly covers that no shard has reached yet, takes one back for
 * each such ticket a shard then passed over (its holder away), and one for each returner admitted. It never
 * covers more than the cap has room for. Each shard is told, with the watermark, the last of its own places
 * below it and a cap of its own, sized to what it was granted; it admits by that alone.
 *
 * The cap's room. A shard admits by the cap it last heard until it hears another, so a cap is a lease: room
 * the coordinator keeps for that shard, out of every other shard's cap and out of the watermark's room,
 * until the shard reports again holding a newer one (it says which cap it holds, so an answer lost on the
 * way is no gap). So the caps the shards hold never add up past the cohort's, whatever the order of their
 * reports, and neither do the people they hold while they are coordinated.
 *
 * Joins never reach the coordinator: shards report about once a second from their alarm. If it cannot be
 * reached, each shard carries on alone at its share of the rate and the cap, as a cohort of independent
 * lines (queue-shard.ts decides when).
 */

/** The pre-queue's draw values fall into this many buckets, ordered before any join after the opening. */
export const PREQUEUE_BUCKETS = 4_096;

/** A shard that has not reported for this long is not waited for when ranking, and its figures are old. */
export const LIVE_MS = 3_000;

/**
 * At a pre-queue's opening every shard places its pre-queue and reports it within about a second; for this
 * long after the opening nothing is ranked until every shard has reported since, so that the draw orders
 * the whole pre-queue. A shard later than that has its pre-queue ranked behind.
 */
export const OPENING_SETTLE_MS = 5_000;

/** The order key of a ticket that joined at `joinedAt` (ms): the second. */
export function joinKey(joinedAt: number): number {
  return Math.floor(joinedAt / 1000);
}

/** The order key of a pre-queue ticket with this draw value: its bucket, below every join key. */
export function drawKey(drawValue: string): number {
  return parseInt(drawValue.slice(0, 3), 16) - PREQUEUE_BUCKETS;
}

/** Consecutive places of one shard that share an order key. */
export interface JoinRun {
  key: number;
  firstSeq: number;
  count: number;
}

/** Ranks as a shard keeps them: places firstSeq … firstSeq + count - 1 have ranks rankBase … */
export type RankRun = [firstSeq: number, count: number, rankBase: number];

/** What a shard tells the coordinator, about once a second. */
export interface ShardReport {
  shard: number;
  /** Every ticket with an order key below this is in `runs` or was in an earlier report. */
  completeThrough: number;
  /** Runs of places after the last place the coordinator said it received. */
  runs: JoinRun[];
  /** The shard holds the ranks of its places through this one. */
  rankedSeq: number;
  lastSeq: number;
  serving: number;
  active: number;
  returning: number;
  /** The shard's rate in force (the autopilot's share of the cohort's) and its configured share, the autopilot's ceiling. */
  ratePerMinute: number;
  configuredPerMinute: number;
  observedPerMinute: number | null;
  /** Counted only while the shard admits by the watermark: tickets granted and passed over, returners admitted. */
  passedGranted: number;
  returnsAdmitted: number;
  /** The cap the shard admits by until this report is answered: the last one it heard, lowered to what the report counts it holding and owed. */
  cap: number;
  /** The shard's ranked places given up that it has not reached, by rank (absent: none). */
  left?: LeftPlaces;
}

/** The cohort as a whole, as the coordinator last saw it: what the waiting page's count and estimate use. */
export interface CohortView {
  /** The coordinator's clock when it was computed. */
  at: number;
  /** Tickets ranked so far: the next rank. */
  ranked: number;
  /** Of the ranked tickets, how many the shards have reached (admitted or passed over). */
  reached: number;
  /** Citizens who came back and wait for the next free capacity, cohort-wide. */
  returning: number;
  /** People waiting cohort-wide: ranked or not yet, not reached, and those who came back. */
  waiting: number;
  /** Of those, the places not ranked yet (they joined in the last second or two). */
  unranked: number;
  /** Ranked places given up that no shard has reached yet, by rank (absent: none); not in `waiting`. */
  left?: LeftPlaces;
  active: number;
  /** People holding the cap's room: active, granted and not yet reached, and come back. */
  held: number;
  activeCap: number;
  /** The cohort's rate in force (the sum of the shards'), its configured rate, and the pace it managed. */
  ratePerMinute: number;
  configuredPerMinute: number;
  observedPerMinute: number | null;
  paused: boolean;
  /** Operators lowered the cohort's configured rate below the highest it had in this line's life. */
  slowedByOperators: boolean;
}

/** The coordinator's answer to a report. */
export interface CoordinatorReply {
  /** The coordinator holds the shard's runs through this place: the next report starts after it. */
  receivedSeq: number;
  /** Ranks of the shard's places after the report's `rankedSeq`, in place order. */
  ranks: RankRun[];
  /** The shard may admit its places through this one (those ranked below the watermark). */
  grantedSeq: number;
  /** The shard's share of the cohort's cap until it hears again. */
  cap: number;
  cohort: CohortView;
  /** This shard's reached tickets as `cohort.reached` counts them, so the shard can bring them up to date. */
  ownReached: number;
  /** This shard's places waiting unranked as `cohort.unranked` counts them. */
  ownUnranked: number;
}

/** The cohort's admission settings as the coordinator reads them. */
export interface CohortPolicy {
  admitPerMinute: number;
  maxActive: number;
  paused: boolean;
  shards: number;
  /** The opening of the cohort's pre-queue (ms), when it has one. */
  prequeueOpensAt?: number;
}

export interface ShardState {
  shard: number;
  heardAt: number;
  completeThrough: number;
  /** The highest order key reported: a shard's keys never go back (a clock that does is held at this). */
  lastKey: number;
  receivedSeq: number;
  /** Ranks assigned through this place, and the shard holds them through `ackedSeq`. */
  assignedSeq: number;
  ackedSeq: number;
  grantedSeq: number;
  lastSeq: number;
  serving: number;
  active: number;
  returning: number;
  /** The shard's autopilot's rate as a share of its ceiling when it last reported (1: not cut). */
  rateShare: number;
  observedPerMinute: number | null;
  passedGranted: number;
  returnsAdmitted: number;
  /**
   * The room kept for the shard until it reports again: the cap it held when it reported, or the one it was
   * given then, whichever is more (it admits by the first until the answer reaches it).
   */
  lease: number;
  /** Its ranked places given up and not reached, by rank, as it last reported them. */
  left?: LeftPlaces;
}

export interface UnrankedRun extends JoinRun {
  shard: number;
}

export interface RankedRun {
  rankBase: number;
  shard: number;
  firstSeq: number;
  count: number;
}

export interface LineScalars {
  nextRank: number;
  watermark: number;
  credit: number;
  creditAt: number;
  /** The highest configured rate the cohort has had: a lower one now is the operators slowing the line. */
  topRate: number;
}

/** Everything the coordinator knows; the object keeps it in SQLite and in memory. */
export interface CohortLineState extends LineScalars {
  shards: Map<number, ShardState>;
  unranked: UnrankedRun[];
  /** Ranked runs, in rank order, that the watermark has not passed. */
  runs: RankedRun[];
  /** Per shard, in place order, the ranked runs the shard has not taken yet. */
  outbox: Map<number, RankedRun[]>;
  /** Every shard's places given up, merged (cohortView's `left`); undefined: to be merged again. */
  left?: LeftPlaces | null;
}

/** What one report changed, for the object to write. */
export interface LineChanges {
  shard: ShardState;
  added: UnrankedRun[];
  ranked: RankedRun[];
  /** The unranked runs that were ranked (by shard and first place), to delete. */
  rankedJoins: UnrankedRun[];
  /** Shards whose granted place moved. */
  granted: ShardState[];
}

export function emptyLine(): CohortLineState {
  return { nextRank: 0, watermark: 0, credit: 0, creditAt: 0, topRate: 0, shards: new Map(), unranked: [], runs: [], outbox: new Map() };
}

function newShard(shard: number): ShardState {
  return {
    shard,
    heardAt: Number.NEGATIVE_INFINITY,
    completeThrough: Number.NEGATIVE_INFINITY,
    lastKey: Number.NEGATIVE_INFINITY,
    receivedSeq: 0,
    assignedSeq: 0,
    ackedSeq: 0,
    grantedSeq: 0,
    lastSeq: 0,
    serving: 0,
    active: 0,
    returning: 0,
    rateShare: 1,
    observedPerMinute: null,
    passedGranted: 0,
    returnsAdmitted: 0,
    lease: 0,
  };
}

const nonNegative = (n: unknown): number => (typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/**
 * Takes a shard's report at `now` (the coordinator's clock): ranks what can be ranked, moves the watermark
 * on, and answers the shard. Mutates `line`; returns the answer and what changed.
 */
export function takeReport(line: CohortLineState, report: ShardReport, policy: CohortPolicy, now: number): { reply: CoordinatorReply; changes: LineChanges } {
  const changes: LineChanges = { shard: undefined as unknown as ShardState, added: [], ranked: [], rankedJoins: [], granted: [] };
  const s = line.shards.get(report.shard) ?? newShard(report.shard);
  line.shards.set(report.shard, s);
  changes.shard = s;
  const lastSeq = nonNegative(report.lastSeq);
  if (lastSeq < s.receivedSeq) forgetShard(line, s);

  // Runs the coordinator has not got yet, in place order, keys never going back.
  for (const run of [...report.runs].sort((a, b) => a.firstSeq - b.firstSeq)) {
    const end = nonNegative(run.firstSeq) + nonNegative(run.count) - 1;
    // A report sent again after its answer was lost may start before what is held, and its runs may have
    // grown since: only the places after those held are new.
    const firstSeq = Math.max(nonNegative(run.firstSeq), s.receivedSeq + 1);
    const count = end - firstSeq + 1;
    if (count <= 0 || firstSeq < 1 || !Number.isFinite(run.key)) continue;
    const key = Math.max(Math.floor(run.key), s.lastKey);
    s.lastKey = key;
    const added = { shard: s.shard, key, firstSeq, count };
    line.unranked.push(added);
    changes.added.push(added);
    s.receivedSeq = firstSeq + count - 1;
  }
  if (Number.isFinite(report.completeThrough)) s.completeThrough = Math.floor(report.completeThrough);
  // A key below the shard's last would rank behind it anyway: nothing below lastKey is still to come.
  s.heardAt = now;
  s.lastSeq = lastSeq;
  s.serving = Math.min(nonNegative(report.serving), lastSeq);
  s.active = nonNegative(report.active);
  s.returning = nonNegative(report.returning);
  const shardRate = typeof report.ratePerMinute === "number" && report.ratePerMinute >= 0 ? report.ratePerMinute : 0;
  const ceiling = typeof report.configuredPerMinute === "number" && report.configuredPerMinute > 0 ? report.configuredPerMinute : shardRate;
  s.rateShare = ceiling > 0 ? Math.min(1, shardRate / ceiling) : 1;
  s.observedPerMinute = typeof report.observedPerMinute === "number" ? report.observedPerMinute : null;
  s.ackedSeq = Math.min(nonNegative(report.rankedSeq), s.assignedSeq);
  const refund = Math.max(0, nonNegative(report.passedGranted) - s.passedGranted);
  const charge = Math.max(0, nonNegative(report.returnsAdmitted) - s.returnsAdmitted);
  s.passedGranted = nonNegative(report.passedGranted);
  s.returnsAdmitted = nonNegative(report.returnsAdmitted);
  // Until this answer reaches it, the shard admits by the cap it holds: that room stays its own.
  s.lease = nonNegative(report.cap);
  // Reported with the shard's serving counter, so the places it passed leave `left` as they join `reached`.
  const left = wellFormedLeft(report.left);
  if (!sameLeft(s.left, left)) {
    if (left) s.left = left;
    else delete s.left;
    line.left = undefined;
  }

  const rate = cohortRate(line, policy);
  line.topRate = Math.max(line.topRate, policy.admitPerMinute);
  accrue(line, rate, policy.paused, now);
  line.credit += refund - charge;

  rankRuns(line, policy, now, changes);
  if (!policy.paused) grant(line, policy, changes);
  const outbox = (line.outbox.get(s.shard) ?? []).filter((run) => run.firstSeq + run.count - 1 > s.ackedSeq);
  line.outbox.set(s.shard, outbox);
  dropRuns(line);

  const ranks: RankRun[] = outbox.map((run): RankRun => [run.firstSeq, run.count, run.rankBase]);
  const cap = capOf(line, policy, s.shard);
  s.lease = Math.max(s.lease, cap);
  const cohort = cohortView(line, policy, rate, now);
  const reply: CoordinatorReply = {
    receivedSeq: s.receivedSeq,
    ranks,
    grantedSeq: s.grantedSeq,
    cap,
    cohort,
    ownReached: Math.min(s.serving, s.assignedSeq),
    ownUnranked: unrankedOf(s),
  };
  return { reply, changes };
}

/** A shard whose line started again (its places are fewer than it had reported): what it had is gone. */
function forgetShard(line: CohortLineState, s: ShardState): void {
  line.unranked = line.unranked.filter((r) => r.shard !== s.shard);
  // Its ranked places that nobody will reach: the watermark steps over them at no cost.
  s.serving = s.assignedSeq;
  Object.assign(s, { receivedSeq: 0, assignedSeq: 0, ackedSeq: 0, grantedSeq: 0, lastKey: Number.NEGATIVE_INFINITY, passedGranted: 0, returnsAdmitted: 0 });
  line.runs = line.runs.filter((r) => r.shard !== s.shard);
  line.outbox.delete(s.shard);
  delete s.left;
  line.left = undefined;
}

/** A report's places given up, if well formed (columns of numbers of one length); they come over a wire. */
function wellFormedLeft(left: LeftPlaces | undefined): LeftPlaces | undefined {
  if (!left || typeof left !== "object" || !left.near || !left.far) return undefined;
  const numbers = (a: unknown): a is number[] => Array.isArray(a) && a.every((n) => typeof n === "number" && Number.isFinite(n));
  const { near, far } = left;
  if (![near.position, near.shard, near.seq, far.bucket, far.count].every(numbers)) return undefined;
  if (near.shard.length !== near.position.length || near.seq.length !== near.position.length || far.count.length !== far.bucket.length) return undefined;
  if (near.position.length === 0 && far.bucket.length === 0) return undefined;
  return { near, far, total: nonNegative(left.total) };
}

function sameLeft(a: LeftPlaces | undefined, b: LeftPlaces | undefined): boolean {
  if (!a || !b) return a === b;
  const same = (x: number[], y: number[]) => x.length === y.length && x.every((n, i) => n === y[i]);
  return a.total === b.total && same(a.near.position, b.near.position) && same(a.near.seq, b.near.seq) && same(a.far.bucket, b.far.bucket) && same(a.far.count, b.far.count);
}

/** The cohort's places given up, merged from the shards' once per change. */
function cohortLeft(line: CohortLineState): LeftPlaces | undefined {
  if (line.left === undefined) line.left = mergeLeftPlaces([...line.shards.values()].map((s) => s.left)) ?? null;
  return line.left ?? undefined;
}

/**
 * The cohort's rate: each shard's share of the configured rate, as far as its autopilot last let it go (a
 * shard never heard from is not cut). Kept as a fraction, so an operator's new rate counts at once, and a
 * shard that goes quiet keeps the cut its origin health called for.
 */
export function cohortRate(line: CohortLineState, policy: CohortPolicy): number {
  const share = policy.admitPerMinute / policy.shards;
  let rate = 0;
  for (let i = 0; i < policy.shards; i++) rate += share * (line.shards.get(i)?.rateShare ?? 1);
  return rate;
}

/** Credit accrues at the cohort's rate, capped at a burst; none while paused. */
function accrue(line: CohortLineState, ratePerMinute: number, paused: boolean, now: number): void {
  // A new line starts with no credit at its first report.
  if (line.creditAt <= 0) line.creditAt = now;
  const elapsed = Math.max(0, now - line.creditAt);
  line.creditAt = Math.max(now, line.creditAt);
  const burst = burstFor(ratePerMinute);
  if (paused || ratePerMinute <= 0) {
    line.credit = Math.min(line.credit, burst);
    return;
  }
  line.credit = Math.min(burst, line.credit + (elapsed * ratePerMinute) / 60_000);
}

/**
 * Ranks the runs every reporting shard has completed: those with a key below the lowest `completeThrough`
 * of the shards heard within LIVE_MS. A shard not heard lately is not waited for; its runs are ranked when
 * they come, behind what was ranked before.
 */
function rankRuns(line: CohortLineState, policy: CohortPolicy, now: number, changes: LineChanges): void {
  if (line.unranked.length === 0) return;
  const opensAt = policy.prequeueOpensAt;
  if (opensAt !== undefined && now < opensAt + OPENING_SETTLE_MS) {
    // Just after a pre-queue's opening: every shard must have placed and reported its pre-queue first.
    for (let i = 0; i < policy.shards; i++) if ((line.shards.get(i)?.completeThrough ?? Number.NEGATIVE_INFINITY) < Math.floor(opensAt / 1000)) return;
  }
  let horizon = Number.POSITIVE_INFINITY;
  for (const s of line.shards.values()) if (now - s.heardAt <= LIVE_MS) horizon = Math.min(horizon, s.completeThrough);
  const ready = line.unranked.filter((r) => r.key < horizon);
  if (ready.length === 0) return;
  line.unranked = line.unranked.filter((r) => r.key >= horizon);
  ready.sort((a, b) => a.key - b.key || a.shard - b.shard || a.firstSeq - b.firstSeq);
  for (const r of ready) {
    const run = { rankBase: line.nextRank, shard: r.shard, firstSeq: r.firstSeq, count: r.count };
    line.nextRank += r.count;
    line.runs.push(run);
    const outbox = line.outbox.get(r.shard);
    if (outbox) outbox.push(run);
    else line.outbox.set(r.shard, [run]);
    changes.ranked.push(run);
    changes.rankedJoins.push(r);
    const s = line.shards.get(r.shard);
    if (s) s.assignedSeq = Math.max(s.assignedSeq, r.firstSeq + r.count - 1);
  }
}

/** A shard's places waiting that have no rank yet. */
function unrankedOf(s: ShardState): number {
  return Math.max(0, s.lastSeq - Math.max(s.serving, s.assignedSeq));
}

/** Tickets below the watermark that their shard has not reached yet. */
function pendingOf(s: ShardState): number {
  return Math.max(0, s.grantedSeq - s.serving);
}

/** People holding or owed the shard's room: active, granted and not yet reached, and come back. */
function heldOf(s: ShardState): number {
  return s.active + pendingOf(s) + s.returning;
}

/**
 * The room the shard may fill before it reports again: what it holds or is owed, or its lease if that is
 * more. A grant made at another shard's report is owed before the shard hears of it, and counts at once.
 */
function reservedOf(s: ShardState): number {
  return Math.max(s.lease, heldOf(s));
}

/**
 * Moves the watermark on: over as many tickets not yet reached as the credit pays for and the cap has room
 * for. Tickets a shard already reached (while it went alone) cost nothing to step over.
 */
function grant(line: CohortLineState, policy: CohortPolicy, changes: LineChanges): void {
  let reserved = 0;
  for (const s of line.shards.values()) reserved += reservedOf(s);
  let budget = Math.max(0, Math.min(Math.floor(line.credit + 1e-9), policy.maxActive - reserved));
  const moved = new Set<ShardState>();
  for (const run of line.runs) {
    if (run.rankBase + run.count <= line.watermark) continue;
    const s = line.shards.get(run.shard);
    const offset = Math.max(0, line.watermark - run.rankBase);
    const from = run.firstSeq + offset;
    const to = run.firstSeq + run.count - 1;
    const reachedUpTo = s ? Math.min(to, Math.max(s.serving, from - 1)) : to;
    const free = reachedUpTo - (from - 1);
    const cost = to - reachedUpTo;
    if (cost <= budget) {
      budget -= cost;
      line.credit -= cost;
      line.watermark = run.rankBase + run.count;
      if (s && to > s.grantedSeq) {
        s.grantedSeq = to;
        moved.add(s);
      }
      continue;
    }
    const take = free + budget;
    line.credit -= budget;
    line.watermark = run.rankBase + offset + take;
    if (s && take > 0 && from + take - 1 > s.grantedSeq) {
      s.grantedSeq = from + take - 1;
      moved.add(s);
    }
    break;
  }
  changes.granted.push(...moved);
}

/** Drops the runs the watermark has passed from the walk (the object keeps them until their shard has taken them). */
function dropRuns(line: CohortLineState): void {
  let n = 0;
  while (n < line.runs.length && line.runs[n]!.rankBase + line.runs[n]!.count <= line.watermark) n++;
  if (n > 0) line.runs.splice(0, n);
}

/**
 * A shard's cap: what it holds, what it was granted and its returners, as far as the room the other shards'
 * leases leave. A shard with anyone holding, owed or waiting gets a little headroom besides, for a returner
 * or a change of slot before its next report: an even share of the room still left (none once that is less
 * than a person each, so the cohort can fill to its cap), at most a second of its share of the rate or one
 * person, whichever is more. An idle shard gets none, so that it keeps no room from the others while it has
 * nothing to report. The cap becomes the shard's lease, so it never
 * counts room that another shard's lease or grants hold.
 */
export function capOf(line: CohortLineState, policy: CohortPolicy, shard: number): number {
  let others = 0;
  for (const s of line.shards.values()) if (s.shard !== shard) others += reservedOf(s);
  const s = line.shards.get(shard);
  const room = Math.max(0, policy.maxActive - others);
  const held = s ? heldOf(s) : 0;
  if (held >= room) return room;
  if (held === 0 && (!s || s.lastSeq <= s.serving)) return 0;
  const spare = room - held;
  const headroom = Math.max(1, Math.ceil(policy.admitPerMinute / policy.shards / 60));
  return held + Math.min(headroom, Math.floor(spare / policy.shards));
}

export function cohortView(line: CohortLineState, policy: CohortPolicy, ratePerMinute: number, now: number): CohortView {
  let reached = 0;
  let returning = 0;
  let unrankedWaiting = 0;
  let active = 0;
  let held = 0;
  let observed: number | null = null;
  for (const s of line.shards.values()) {
    held += heldOf(s);
    reached += Math.min(s.serving, s.assignedSeq);
    returning += s.returning;
    unrankedWaiting += unrankedOf(s);
    active += s.active;
    if (s.observedPerMinute !== null) observed = (observed ?? 0) + s.observedPerMinute;
  }
  const left = cohortLeft(line);
  return {
    at: now,
    ranked: line.nextRank,
    reached,
    returning,
    waiting: Math.max(0, line.nextRank - reached - (left?.total ?? 0)) + returning + unrankedWaiting,
    unranked: unrankedWaiting,
    ...(left ? { left } : {}),
    active,
    held,
    activeCap: policy.maxActive,
    ratePerMinute,
    configuredPerMinute: policy.admitPerMinute,
    observedPerMinute: observed,
    paused: policy.paused,
    slowedByOperators: policy.admitPerMinute < line.topRate,
  };
}
