/**
 * The cohort's one line as a live crowd sees it (docs/one-line.md), for `simulate --live`. Everything here
 * comes from what the citizens themselves know: when each sent its join and heard back, its ticket's shard
 * and place, every answer it was given and when, and when it was told it was admitted. The stack runs on
 * this machine, so its clock is the crowd's.
 */
import { z } from "zod";
import type { LineState } from "../../src/contract/ops.js";

/** One answer a citizen was given while in the line: the join's, a re-join's or a poll's. */
export interface Answer {
  sentAt: number;
  answeredAt: number;
  ahead: number;
  eta: { low: number; high: number } | null;
  paused: boolean;
  /** The line moves more slowly, and why: the autopilot (the origin is busy), the operators, or capacity. */
  slowedBy?: "origin" | "operators" | "capacity";
  /** The line reached the place while its holder was away and they came back: `ahead` counts only returners then. */
  cameBack: boolean;
  /**
   * The place was not ranked yet (status `placing`): the page shows that it is finding the place, with no
   * count and no range, so such an answer is neither right nor wrong, and never the earlier of a rise.
   */
  placing: boolean;
}

/** The answers the page shows a count and a range for, in order. */
export function shown(answers: readonly Answer[]): Answer[] {
  return answers.filter((a) => !a.placing);
}

/** What one citizen knows of its time in the line. */
export interface Footprint {
  shard: number;
  seq: number;
  /** The shard stamped the join between these two moments; its order key is that moment's second. */
  joinSentAt: number;
  joinAnsweredAt: number;
  /** The ticket's `iat`: the Worker signs after the shard stamped the join, so the join's second is at most this. */
  ticketSecond: number;
  /** In the order they were given, the join's first. */
  answers: Answer[];
  /** When an answer first said admitted. */
  admittedAt?: number;
  /** When an answer said the place had expired. */
  expiredAt?: number;
}

/** The operators' word on the line at a moment (the replay samples it about once a second). */
export interface LineSample {
  at: number;
  state: LineState["state"];
  /** Shards with people waiting that admit alone, their coordinator silent. */
  shardsAlone: number;
}

/**
 * How old the figures behind a shown count may be: the issue allows a snapshot "at most a couple of
 * seconds old" (snapshots are cached for 1 s, shards report to the coordinator about once a second).
 */
export const SNAPSHOT_AGE_MS = 2_000;

const ticketPayload = z.object({ shard: z.number().int().nonnegative(), seq: z.number().int().positive(), iat: z.number().int() });

/** The shard, place and issue second a ticket carries (its payload, read as the citizen holding it can; not verified). */
export function readTicket(ticket: string): z.infer<typeof ticketPayload> {
  const payload = ticket.split(".")[1];
  if (!payload) throw new Error("the ticket is not a JWT");
  return ticketPayload.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
}

/**
 * The seconds the join may have been stamped in: from the second the join was sent to the second of its
 * answer or of the ticket's `iat`, whichever is earlier. `point` is the second of the request's midpoint.
 */
function joinSecond(f: Footprint): { lo: number; hi: number; point: number } {
  const lo = Math.floor(f.joinSentAt / 1000);
  const hi = Math.max(lo, Math.min(Math.floor(f.joinAnsweredAt / 1000), f.ticketSecond));
  const point = Math.min(hi, Math.max(lo, Math.floor((f.joinSentAt + f.joinAnsweredAt) / 2000)));
  return { lo, hi, point };
}

type Key = readonly [second: number, shard: number, seq: number];
function before(a: Key, b: Key): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
}

/**
 * Whether `y` is ahead of `x` in the line's order (second of joining, then shard, then place): certainly,
 * possibly, and by the best guess (each join at the second of its request's midpoint). Within one shard
 * the place decides, whatever the seconds: a shard's places are ranked in place order.
 */
function ahead(y: Footprint, ys: ReturnType<typeof joinSecond>, x: Footprint, xs: ReturnType<typeof joinSecond>): { certainly: boolean; possibly: boolean; guess: boolean } {
  if (y.shard === x.shard) {
    const a = y.seq < x.seq;
    return { certainly: a, possibly: a, guess: a };
  }
  return {
    certainly: before([ys.hi, y.shard, y.seq], [xs.lo, x.shard, x.seq]),
    possibly: before([ys.lo, y.shard, y.seq], [xs.hi, x.shard, x.seq]),
    guess: before([ys.point, y.shard, y.seq], [xs.point, x.shard, x.seq]),
  };
}

/**
 * When each citizen had certainly left the line: told they were admitted (or that the place expired), or,
 * for one who stopped asking (abandoned, failed), when a later place of their shard was told it was
 * admitted, since a shard reaches its places in order. Infinity when the crowd never learned it.
 */
function leftAt(all: readonly Footprint[]): number[] {
  const byShard = new Map<number, number[]>();
  all.forEach((f, i) => byShard.set(f.shard, [...(byShard.get(f.shard) ?? []), i]));
  const out = new Array<number>(all.length).fill(Infinity);
  for (const members of byShard.values()) {
    members.sort((a, b) => all[a]!.seq - all[b]!.seq);
    let laterAdmitted = Infinity;
    for (let k = members.length - 1; k >= 0; k--) {
      const f = all[members[k]!]!;
      out[members[k]!] = f.admittedAt ?? Math.min(f.expiredAt ?? Infinity, laterAdmitted);
      if (f.admittedAt !== undefined) laterAdmitted = Math.min(laterAdmitted, f.admittedAt);
    }
  }
  return out;
}

export interface CountAheadReport {
  /** Answers compared (those of citizens who came back are not: their count is of returners only; nor placing ones). */
  answers: number;
  /** Answers that showed the place as being found, left out of the comparison. */
  placing: number;
  /** Shown less the best-guess truth, over every answer. */
  error: { meanSigned: number; meanAbsolute: number; worstAbsolute: number; worstAt: { ahead: number; truth: number; secondsAfterJoin: number } | null };
  /** How far a shown count fell outside every count the truth could have had (see countAhead). */
  beyondKnowable: { share: number; mean: number; worst: number };
  /** The mean width of that range: how much the crowd cannot know. */
  meanRangeWidth: number;
}

/**
 * The count ahead each citizen was shown, against the truth the crowd knows: everyone ahead in the line's
 * order (who joined in an earlier second, or in the same second in a lower shard, or earlier in the same
 * shard) and still in it.
 *
 * The best guess puts each join at the second of its request's midpoint and each departure at the moment
 * the crowd learned of it. The crowd learns of an admission up to a poll late and of a join's second up to
 * a request's length late, so a shown count is also held against the range of counts the truth could
 * have had while the figures behind it were at most SNAPSHOT_AGE_MS old: at least those certainly ahead,
 * joined before that window and seen waiting (by answers themselves that old) after it; at most those
 * possibly ahead, joined by its end and not known to have left before its start.
 */
export function countAhead(all: readonly Footprint[]): CountAheadReport {
  const seconds = all.map(joinSecond);
  const left = leftAt(all);
  const seenWaitingUntil = all.map((f) => Math.max(...f.answers.map((a) => a.sentAt)));
  let answers = 0;
  let signed = 0;
  let absolute = 0;
  let worst = 0;
  let worstAt: CountAheadReport["error"]["worstAt"] = null;
  let outside = 0;
  let beyond = 0;
  let worstBeyond = 0;
  let width = 0;
  let placing = 0;
  all.forEach((x, xi) => {
    for (const a of x.answers) {
      if (a.placing) placing++;
      if (a.cameBack || a.placing) continue;
      const from = a.sentAt - SNAPSHOT_AGE_MS;
      let truth = 0;
      let lo = 0;
      let hi = 0;
      all.forEach((y, yi) => {
        if (yi === xi) return;
        const order = ahead(y, seconds[yi]!, x, seconds[xi]!);
        const mid = (y.joinSentAt + y.joinAnsweredAt) / 2;
        if (order.guess && mid <= a.answeredAt && left[yi]! > a.answeredAt) truth++;
        if (order.certainly && y.joinAnsweredAt <= from && seenWaitingUntil[yi]! - SNAPSHOT_AGE_MS >= a.answeredAt) lo++;
        if (order.possibly && y.joinSentAt <= a.answeredAt && left[yi]! > from) hi++;
      });
      answers++;
      const e = a.ahead - truth;
      signed += e;
      absolute += Math.abs(e);
      if (worstAt === null || Math.abs(e) > worst) {
        worst = Math.abs(e);
        worstAt = { ahead: a.ahead, truth, secondsAfterJoin: (a.answeredAt - x.joinAnsweredAt) / 1000 };
      }
      const off = Math.max(0, lo - a.ahead, a.ahead - hi);
      if (off > 0) outside++;
      beyond += off;
      worstBeyond = Math.max(worstBeyond, off);
      width += hi - lo;
    }
  });
  const per = (n: number) => (answers ? n / answers : NaN);
  return {
    answers,
    placing,
    error: { meanSigned: per(signed), meanAbsolute: per(absolute), worstAbsolute: worst, worstAt },
    beyondKnowable: { share: per(outside), mean: per(beyond), worst: worstBeyond },
    meanRangeWidth: per(width),
  };
}

/**
 * What the line was doing around a rise, the strongest reason first: paused; slowed by the autopilot or
 * the operators; at capacity (as many booking as may at once, so it moves as they finish); climbing back
 * to the configured rate; else admitting, the line running normally.
 */
const REASONS = ["paused", "slowed", "at capacity", "climbing", "admitting"] as const;
export type RiseReason = (typeof REASONS)[number] | "not sampled";

export interface RiseCount {
  /** Pairs of consecutive answers where the figure rose, and the citizens it happened to. */
  rises: number;
  citizens: number;
  /** Of those rises, how many came within FIRST_SECONDS of joining (a place not ranked yet is counted behind everyone ranked). */
  withinFirstSeconds: number;
  biggest: number;
  /** By what the line was doing between the two answers (the operators' view, and the answers' own word). */
  byLine: Record<RiseReason, number>;
  /** Of those rises, how many came while the operators' view counted shards admitting alone. */
  whileShardsAlone: number;
}

export interface RisesReport {
  /** Pairs of consecutive answers compared (of those the page shows a count for: placing ones are skipped). */
  pairs: number;
  countAhead: RiseCount;
  /** Either end of the wait range rose (both answers had one: not paused). */
  estimate: RiseCount;
}

/** Rises this soon after joining are counted apart. */
export const FIRST_SECONDS = 5;

/** How often a citizen's count ahead or estimate rose from one answer to the next, and what the line was doing then. */
export function rises(all: readonly Footprint[], line: readonly LineSample[]): RisesReport {
  const empty = (): RiseCount => ({
    rises: 0,
    citizens: 0,
    withinFirstSeconds: 0,
    biggest: 0,
    byLine: { paused: 0, slowed: 0, "at capacity": 0, climbing: 0, admitting: 0, "not sampled": 0 },
    whileShardsAlone: 0,
  });
  const out: RisesReport = { pairs: 0, countAhead: empty(), estimate: empty() };
  for (const f of all) {
    const hit = { countAhead: false, estimate: false };
    const answers = shown(f.answers);
    for (let i = 1; i < answers.length; i++) {
      const a = answers[i - 1]!;
      const b = answers[i]!;
      out.pairs++;
      const rose = {
        countAhead: b.cameBack || a.cameBack ? 0 : b.ahead - a.ahead,
        estimate: a.eta && b.eta ? Math.max(b.eta.low - a.eta.low, b.eta.high - a.eta.high) : 0,
      };
      for (const figure of ["countAhead", "estimate"] as const) {
        if (rose[figure] <= 0) continue;
        const r = out[figure];
        r.rises++;
        hit[figure] = true;
        r.biggest = Math.max(r.biggest, rose[figure]);
        if (b.answeredAt - f.joinAnsweredAt <= FIRST_SECONDS * 1000) r.withinFirstSeconds++;
        const around = line.filter((l) => l.at >= a.sentAt - 1_000 && l.at <= b.answeredAt);
        r.byLine[reason(a, b, around)]++;
        if (around.some((l) => l.shardsAlone > 0)) r.whileShardsAlone++;
      }
    }
    if (hit.countAhead) out.countAhead.citizens++;
    if (hit.estimate) out.estimate.citizens++;
  }
  return out;
}

/** The strongest reason the answers themselves or the samples `around` them give. */
function reason(a: Answer, b: Answer, around: readonly LineSample[]): RiseReason {
  const seen = new Set<string>(around.map((s) => s.state));
  for (const answer of [a, b]) {
    if (answer.paused) seen.add("paused");
    if (answer.slowedBy === "capacity") seen.add("at capacity");
    else if (answer.slowedBy) seen.add("slowed");
  }
  return REASONS.find((r) => seen.has(r)) ?? "not sampled";
}

/**
 * The share of citizens admitted more than `gapMs` after someone who joined more than `gapMs` after them
 * (the measure of order beside ρ), from join and admission moments as the crowd saw them.
 */
export function passedShare(people: ReadonlyArray<{ joinedAt: number; admittedAt: number }>, gapMs: number): number {
  if (people.length === 0) return NaN;
  const byJoin = [...people].sort((a, b) => a.joinedAt - b.joinedAt);
  // The earliest admission among everyone from index k on.
  const earliestFrom = new Array<number>(byJoin.length + 1).fill(Infinity);
  for (let k = byJoin.length - 1; k >= 0; k--) earliestFrom[k] = Math.min(earliestFrom[k + 1]!, byJoin[k]!.admittedAt);
  let passed = 0;
  let j = 0;
  for (const p of byJoin) {
    while (j < byJoin.length && byJoin[j]!.joinedAt <= p.joinedAt + gapMs) j++;
    if (earliestFrom[j]! < p.admittedAt - gapMs) passed++;
  }
  return passed / byJoin.length;
}
