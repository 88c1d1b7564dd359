import type { ShardCounters } from "./admission.js";
import type { MinuteMark, ShardStore } from "./store.js";
import type { MinuteRow } from "./schema.js";

/**
 * The operators' per-minute history of a shard, kept at tick time, off the join path: every join and
 * admission happens in a call that ticks first, so the first tick of a new minute sees the counters exactly
 * as the previous minute left them, and closes it with one row. Minutes in which nothing called the object
 * had no joins and no admissions; `shardHistory` fills them in.
 */

/** How long a shard keeps its per-minute history for the operators' console: two hours. */
export const HISTORY_MINUTES = 120;

/** One minute of a shard, as the operators' console charts it. */
export interface ShardMinute {
  /** The minute's start, in minutes since the epoch. */
  minute: number;
  /** Tickets handed out in the minute (new places, re-joins after a lapsed place included). */
  joined: number;
  admitted: number;
  /** Citizens who gave their place up in the minute (in the line or the pre-queue). */
  departed: number;
  /** People waiting at the minute's end (for the current minute: now), places given up left out. */
  waiting: number;
  /** People holding capacity at the minute's end, and the most seen during it. */
  active: number;
  activeMax: number;
  /** The median wait (admission minus join) of the people admitted in the minute; null when none were. */
  medianWaitMs: number | null;
}

/** Counts the tick at `now` into its minute, closing the previous minute if this is a new one. */
export function recordMinute(store: ShardStore, now: number, before: ShardCounters, admittedBefore: number, active: number): void {
  const minute = Math.floor(now / 60_000);
  const mark = (store.memory.minuteMark ??= resumeMinute(store, minute, before, admittedBefore, active));
  if (minute <= mark.minute) {
    mark.active = active;
    mark.activeMax = Math.max(mark.activeMax, active);
    return;
  }
  store.closeMinute(
    {
      minute: mark.minute,
      joined: before.lastSeq - mark.lastSeq,
      admitted: admittedBefore - mark.admittedTotal,
      last_seq: before.lastSeq,
      serving: before.serving,
      active_end: mark.active,
      active_max: mark.activeMax,
      median_wait_ms: store.medianWait(mark.serving, before.serving),
      admitted_total: admittedBefore,
      left_waiting: store.leftUnreached().length,
    },
    minute,
    HISTORY_MINUTES,
  );
  store.memory.minuteMark = { minute, lastSeq: before.lastSeq, serving: before.serving, admittedTotal: admittedBefore, active, activeMax: active };
}

/**
 * The minute to count after a start: from the counters the last recorded minute ended with, so what
 * happened after it and before an eviction is counted now rather than lost; a shard without history
 * starts from its counters as they are.
 */
function resumeMinute(store: ShardStore, minute: number, before: ShardCounters, admittedBefore: number, active: number): MinuteMark {
  const last = store.lastMinute();
  const from = last && last.minute < minute
    ? { lastSeq: last.last_seq, serving: last.serving, admittedTotal: last.admitted_total ?? last.serving }
    : { lastSeq: before.lastSeq, serving: before.serving, admittedTotal: admittedBefore };
  return { minute, ...from, active, activeMax: active };
}

/**
 * The shard's last `minutes` minutes, oldest first, one entry a minute, right after a tick (whose counters
 * and active count are given): the last is the minute under way, so far. Minutes without a row had no joins
 * or admissions and keep the previous minute's waiting and active counts.
 */
export function shardHistory(store: ShardStore, current: { lastSeq: number; serving: number; active: number }, minutes: number): ShardMinute[] {
  const span = Math.max(1, Math.min(HISTORY_MINUTES, Math.floor(minutes)));
  const mark = store.memory.minuteMark!;
  const first = mark.minute - span + 1;
  const rows = new Map(store.minutesFrom(first - HISTORY_MINUTES).map((r) => [r.minute, r]));
  const departures = store.departuresSince(first);
  const waitingAt = (r: MinuteRow) => r.last_seq - r.serving - (r.left_waiting ?? 0);
  // What the minutes before the window ended with, to carry into its first empty minutes.
  let carried = { waiting: 0, active: 0 };
  for (const r of rows.values()) if (r.minute < first) carried = { waiting: waitingAt(r), active: r.active_end };
  const out: ShardMinute[] = [];
  for (let minute = first; minute < mark.minute; minute++) {
    const r = rows.get(minute);
    const departed = departures.get(minute) ?? 0;
    if (r) carried = { waiting: waitingAt(r), active: r.active_end };
    out.push(r
      ? { minute, joined: r.joined, admitted: r.admitted, departed, waiting: carried.waiting, active: r.active_end, activeMax: r.active_max, medianWaitMs: r.median_wait_ms }
      : { minute, joined: 0, admitted: 0, departed, waiting: carried.waiting, active: carried.active, activeMax: carried.active, medianWaitMs: null });
  }
  out.push({
    minute: mark.minute,
    joined: current.lastSeq - mark.lastSeq,
    admitted: store.counters.admitted_total - mark.admittedTotal,
    departed: departures.get(mark.minute) ?? 0,
    waiting: current.lastSeq - current.serving - store.leftUnreached().length,
    active: current.active,
    activeMax: mark.activeMax,
    medianWaitMs: store.medianWait(mark.serving, current.serving),
  });
  return out;
}
