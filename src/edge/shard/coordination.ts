import type { CohortView, CoordinatorReply, JoinRun, RankRun, ShardReport } from "../cohort/cohort-line.js";
import { shardCap, type Advance, type ShardPolicy } from "./admission.js";
import type { ShardStore } from "./store.js";
import { leftPlacesOf, type LeftPlace, type LeftPlaces } from "../queue/left-places.js";
import type { CohortLine } from "./snapshot.js";

/**
 * The shard's side of the cohort's one line (src/edge/cohort/cohort-line.ts): what it reports, what it
 * keeps of the answers, and by which rule it admits at a given moment.
 *
 * - coordinated: heard from the coordinator within COORDINATOR_STALE_MS: it admits its places through the
 *   granted one, within the cap it was given.
 * - waiting to hear: not heard lately, but not yet trying for COORDINATOR_STALE_MS (a shard that sat idle
 *   and has people again): it admits nobody new until it hears, so a short shard cannot pass a long one.
 * - alone: the coordinator has not answered for COORDINATOR_STALE_MS of trying. The shard admits at its
 *   share of the rate as a line of its own; for as long again it keeps within the last cap it was given
 *   (room the coordinator still keeps for it), then takes its even share, which nobody kept for it (so the
 *   cohort may then hold more than MAX_ACTIVE: docs/one-line.md gives the bound). When the coordinator
 *   answers again the shard is coordinated at once, and the watermark steps over what it admitted meanwhile.
 * A cohort of one shard is its own line and never asks.
 */

/**
 * Not heard for this long while trying: the shard goes alone. Long enough that a coordinator slowed by a
 * busy machine is waited for rather than left (a shard that goes alone keeps the cohort's rate but not its
 * order), short enough that an outage stops nobody for long.
 */
export const COORDINATOR_STALE_MS = 10_000;

/** A report that has not been answered in this long has failed. */
export const REPORT_TIMEOUT_MS = 8_000;

/** The most places one report describes as runs: a shard that was away long catches up over a few reports. */
const MAX_PLACES_PER_REPORT = 50_000;

export interface Coordination {
  /** The coordinator holds the shard's runs through this place. */
  receivedSeq: number;
  /** The shard holds the ranks of its places through this one. */
  rankedSeq: number;
  grantedSeq: number;
  cap: number;
  /**
   * The room the coordinator keeps for the shard until it reports again: the cap it held when it last
   * reported, or the one it was given then, whichever is more (src/edge/cohort/cohort-line.ts).
   */
  leaseKept: number;
  /** When the coordinator last answered (the shard's clock); null: never. */
  heardAt: number | null;
  /** Since when the shard has been asking without an answer; null while answered. */
  askingSince: number | null;
  /** Counted while coordinated: granted places passed over, and returners admitted. */
  passedGranted: number;
  returnsAdmitted: number;
  /** The active count last reported, so a change is reported even when nobody waits. */
  reportedActive: number | null;
  /** The cohort as the coordinator last described it, and this shard's reached places in its count. */
  cohort: CohortView | null;
  ownReached: number;
  ownUnranked: number;
  /** How many of its ranked places given up and not reached the coordinator last heard of. */
  leftReported: number;
}

/** A shard that has never heard from its coordinator. */
export const NO_COORDINATION: Readonly<Coordination> = {
  receivedSeq: 0,
  rankedSeq: 0,
  grantedSeq: 0,
  cap: 0,
  leaseKept: 0,
  heardAt: null,
  askingSince: null,
  passedGranted: 0,
  returnsAdmitted: 0,
  reportedActive: null,
  cohort: null,
  ownReached: 0,
  ownUnranked: 0,
  leftReported: 0,
};

export function coordinationOf(store: ShardStore): Coordination {
  const stored = store.counters.coordination;
  return { ...NO_COORDINATION, ...(stored === null ? {} : (JSON.parse(stored) as Partial<Coordination>)) };
}

export function saveCoordination(store: ShardStore, c: Coordination): void {
  store.setCoordination(JSON.stringify(c));
}

export type Mode = "coordinated" | "waiting" | "alone";

/** Which rule the shard admits by at `now`. */
export function modeAt(c: Coordination, shards: number, now: number): Mode {
  if (shards <= 1) return "alone";
  if (c.heardAt !== null && now - c.heardAt <= COORDINATOR_STALE_MS) return "coordinated";
  if (c.askingSince !== null && now - c.askingSince >= COORDINATOR_STALE_MS) return "alone";
  return "waiting";
}

/** The policy the admission rule applies, from the shard's configured one and the mode. */
export function policyIn(mode: Mode, c: Coordination, configured: ShardPolicy, maxActive: number, shards: number, shard: number, now: number): ShardPolicy {
  if (mode === "coordinated") return { ...configured, activeCap: c.cap, grantedSeq: c.grantedSeq };
  if (mode === "waiting") return { ...configured, activeCap: 0, grantedSeq: c.grantedSeq };
  if (shards <= 1 || c.askingSince === null || c.heardAt === null) return configured;
  // Gone alone: within the last cap given until the others' have surely lapsed too.
  const even = shardCap(maxActive, shards, shard);
  return now - c.askingSince < 2 * COORDINATOR_STALE_MS ? { ...configured, activeCap: Math.min(even, c.cap) } : configured;
}

/**
 * Whether the shard has anything to tell the coordinator: places to rank or admit, returners, a changed
 * active count, places given up it has not told of, or a cap lower than the room the coordinator still
 * keeps for it (which the others may use once it says so).
 */
export function reportDue(c: Coordination, shard: { lastSeq: number; serving: number; returnersWaiting: number; active: number; leftRanked?: number }): boolean {
  const { lastSeq, serving, returnersWaiting, active, leftRanked = 0 } = shard;
  return lastSeq > c.rankedSeq || lastSeq > serving || returnersWaiting > 0 || active !== c.reportedActive || c.cap < c.leaseKept || leftRanked !== c.leftReported;
}

/** Of the places given up and not reached (in place order), how many have their cohort-wide rank. */
export function leftRanked(left: readonly number[], rankedSeq: number): number {
  let lo = 0;
  let hi = left.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (left[mid]! <= rankedSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The shard's ranked places given up and not reached, by cohort rank, as its report carries them. */
export function leftByRank(store: ShardStore, c: Coordination, shard: number): LeftPlaces | undefined {
  const left = store.leftUnreached();
  const ranked = left.slice(0, leftRanked(left, c.rankedSeq));
  if (ranked.length === 0) return undefined;
  return rankedLeftPlaces(ranked, store.ranksBetween(ranked[0]!, ranked.at(-1)!), shard);
}

/**
 * Ranked places given up (in place order), by cohort rank: `runs` are the shard's rank runs covering them,
 * in place order (those with a place from the first to the last of them).
 */
export function rankedLeftPlaces(ranked: readonly number[], runs: readonly RankRun[], shard: number): LeftPlaces | undefined {
  const places: LeftPlace[] = [];
  let r = 0;
  for (const seq of ranked) {
    while (r < runs.length && runs[r]![0] + runs[r]![1] <= seq) r++;
    const run = runs[r];
    if (run && run[0] <= seq) places.push([run[2] + (seq - run[0]), shard, seq]);
  }
  // Runs are ranked in key order, not place order: a shard's places rank in place order, so this is sorted.
  return leftPlacesOf(places);
}

/**
 * What the coordinator is owed after a step that admitted by its grant: the granted places it paid for and
 * did not get (passed over or given up), and the returners admitted it did not pay for; reported with the
 * next report.
 */
export function stepOwed(c: Pick<Coordination, "passedGranted" | "returnsAdmitted">, step: Pick<Advance, "passedOver" | "leftSkipped" | "returnsAdmitted">): Pick<Coordination, "passedGranted" | "returnsAdmitted"> {
  return {
    passedGranted: c.passedGranted + step.passedOver.length + step.leftSkipped,
    returnsAdmitted: c.returnsAdmitted + step.returnsAdmitted.length,
  };
}

/** The shard's report: its places after what the coordinator holds, as runs of one order key, and its figures. */
export function buildReport(
  store: ShardStore,
  c: Coordination,
  shard: number,
  figures: Pick<ShardReport, "active" | "returning" | "ratePerMinute" | "configuredPerMinute" | "observedPerMinute">,
  now: number,
): ShardReport {
  const runs: JoinRun[] = [];
  const rows = store.orderKeysAfter(c.receivedSeq, MAX_PLACES_PER_REPORT + 1);
  let complete = true;
  let lastKey = Number.NEGATIVE_INFINITY;
  for (const [seq, rawKey] of rows) {
    if (seq - c.receivedSeq > MAX_PLACES_PER_REPORT) {
      complete = false;
      break;
    }
    // A shard's keys never go back, whatever its clock did: its places rank in place order.
    const key = Math.max(rawKey, lastKey);
    lastKey = key;
    const last = runs.at(-1);
    if (last && last.key === key && last.firstSeq + last.count === seq) last.count++;
    else runs.push({ key, firstSeq: seq, count: 1 });
  }
  const { last_seq: lastSeq, serving } = store.counters;
  const left = leftByRank(store, c, shard);
  // Every place from now on has a key of this second or later; a pre-queue not placed yet comes before all.
  const unplaced = store.counters.prequeue_placed_at === null && store.hasPrequeue();
  const completeThrough = unplaced ? Number.NEGATIVE_INFINITY : complete ? Math.floor(now / 1000) : (runs.at(-1)?.key ?? Math.floor(now / 1000));
  return {
    shard,
    completeThrough: Number.isFinite(completeThrough) ? completeThrough : -Number.MAX_SAFE_INTEGER,
    runs,
    rankedSeq: c.rankedSeq,
    lastSeq,
    serving,
    active: figures.active,
    returning: figures.returning,
    ratePerMinute: figures.ratePerMinute,
    configuredPerMinute: figures.configuredPerMinute,
    observedPerMinute: figures.observedPerMinute,
    passedGranted: c.passedGranted,
    returnsAdmitted: c.returnsAdmitted,
    cap: capWhileAsking(c, figures.active, serving, figures.returning),
    ...(left ? { left } : {}),
  };
}

/**
 * The cap the shard admits by while its report is on the way: no more than what it reports holding or being
 * owed (active, granted and not reached, come back), so room it freed or did not use is the others' as soon
 * as the coordinator reads the report, and the room the coordinator must keep for it until the answer
 * arrives is only what the report itself counts.
 */
export function capWhileAsking(c: Coordination, active: number, serving: number, returning: number): number {
  return Math.min(c.cap, active + Math.max(0, c.grantedSeq - serving) + returning);
}

/** Keeps what the coordinator answered: the ranks, the grant, the cap and the cohort. */
export function takeReply(store: ShardStore, c: Coordination, reply: CoordinatorReply, reportedActive: number, now: number): Coordination {
  store.addRanks(reply.ranks);
  return mergeReply(c, reply, reportedActive, now);
}

/** The shard's side after the coordinator's answer, the ranks themselves kept elsewhere (takeReply keeps them in the store). */
export function mergeReply(c: Coordination, reply: CoordinatorReply, reportedActive: number, now: number): Coordination {
  let rankedSeq = c.rankedSeq;
  for (const [firstSeq, count] of reply.ranks) if (firstSeq <= rankedSeq + 1) rankedSeq = Math.max(rankedSeq, firstSeq + count - 1);
  return {
    ...c,
    receivedSeq: Math.max(c.receivedSeq, reply.receivedSeq),
    rankedSeq,
    grantedSeq: Math.max(c.grantedSeq, reply.grantedSeq),
    cap: reply.cap,
    // The report said it held c.cap: both stay kept for it until the next one.
    leaseKept: Math.max(c.cap, reply.cap),
    heardAt: now,
    askingSince: null,
    reportedActive,
    cohort: reply.cohort,
    ownReached: reply.ownReached,
    ownUnranked: reply.ownUnranked,
  };
}

/**
 * What the shard's snapshot carries of the cohort's one line: the cohort as last heard (undefined before
 * it first heard), and whether the shard admits by its own rule now (`mode` other than coordinated).
 */
export function cohortLineOf(c: Coordination, mode: Mode, shard: number): CohortLine | undefined {
  if (!c.cohort) return undefined;
  return { cohort: c.cohort, shard, ownReached: c.ownReached, ownUnranked: c.ownUnranked, rankedSeq: c.rankedSeq, grantedSeq: c.grantedSeq, alone: mode !== "coordinated" };
}

/** The report went unanswered: the shard is asking since then, unless it already was. */
export function unanswered(c: Coordination, askedAt: number): Coordination {
  return { ...c, askingSince: c.askingSince ?? askedAt };
}
