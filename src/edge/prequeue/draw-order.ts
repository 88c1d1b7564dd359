import type { DrawOrder } from "../../contract/queue.js";
import { drawKey } from "../cohort/cohort-line.js";

/**
 * The cohort's one draw order, from what the edge publishes: each shard's list of draw values (ascending)
 * and this rule. Pure, so the Worker, the tests and anyone's verifier (scripts/verify-draw.ts) merge the
 * lists the same way.
 *
 * The rule is the order the cohort's coordinator ranks the pre-queue in (src/edge/cohort/cohort-line.ts):
 * by the value's bucket (its first three hex digits, the pre-queue tickets' order key), then by shard
 * index, then by value. Within a shard that is the list's own order, so each shard's list is a run of the
 * merged order's members in place order, and a ticket's position needs no more than a binary search in
 * each list.
 */

/** The rule as the draw publishes it (drawKey's bucket is the value's first three hex digits). */
export const DRAW_ORDER: DrawOrder = { by: ["bucket", "shard", "value"], bucketHexDigits: 3 };

/** One shard's published pre-queue: its draw values, ascending. */
export interface ShardValues {
  shard: number;
  values: readonly string[];
}

/** The number of `sorted`'s values whose order key is below `key` (values ascend, so keys do). */
function countBelow(sorted: readonly string[], key: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (drawKey(sorted[mid]!) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * For the value at `index` of shard `shard`'s list: how many of each list's values come before it in the
 * cohort's one order, in the order of `lists`. Its own list counts the `index` before it.
 */
export function aheadInDraw(lists: readonly ShardValues[], shard: number, index: number): number[] {
  const own = lists.find((l) => l.shard === shard);
  const value = own?.values[index];
  if (value === undefined) throw new Error(`shard ${shard} has no value at ${index}`);
  const key = drawKey(value);
  return lists.map((l) => {
    if (l.shard === shard) return index;
    // A lower shard's values of the same bucket go first; a higher shard's go after.
    return countBelow(l.values, l.shard < shard ? key + 1 : key);
  });
}

/** The 1-based position of the value at `index` of shard `shard`'s list in the cohort's one order. */
export function drawPosition(lists: readonly ShardValues[], shard: number, index: number): number {
  return aheadInDraw(lists, shard, index).reduce((sum, n) => sum + n, 1);
}

/**
 * Admissions against the one order, given how many of each list the line has reached (`reached[i]` of
 * `lists[i]`, always a prefix): how many of each list must have been reached for everyone before the
 * reached ones to be in. A line that follows the order has reached at least that many of every list.
 */
export function neededBefore(lists: readonly ShardValues[], reached: readonly number[]): number[] {
  const needed = lists.map(() => 0);
  lists.forEach((l, i) => {
    const k = Math.min(reached[i] ?? 0, l.values.length);
    if (k === 0) return;
    // The last reached value of a list: everyone before it in the one order must be in.
    aheadInDraw(lists, l.shard, k - 1).forEach((n, j) => {
      needed[j] = Math.max(needed[j]!, n);
    });
  });
  return needed;
}
