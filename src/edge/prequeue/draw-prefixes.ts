import { DRAW_ORDER } from "./draw-order.js";

/**
 * A shard's placed draw as the status path keeps it: each value's first 64 bits instead of its 64 hex
 * characters. A citizen's status needs only two things of the lists: where its own value is in its shard's
 * list, and how many of every other shard's values are of a lower bucket (or of the same bucket, for a
 * shard of lower index). The bucket is the value's first bits, so the prefixes answer the second exactly;
 * the first is a binary search of the own value's prefix, and where two values of a list share a prefix
 * their full values come along (`tied`), so the own index is exact too. Membership itself is judged on the
 * prefix: a value absent from the list but sharing a listed value's first 64 bits (chance about one in
 * 2^64 / the list's length) would be told that place; the object still checks the ticket id when it comes
 * to claim its pass.
 *
 * Eight bytes a value instead of a 64-character string and its slot in an array, so an isolate can keep
 * every shard's draw of a cohort of millions (the public draw page and verify-draw still use the full
 * lists: they are the published audit).
 */
export interface DrawPrefixes {
  placedAt: number | null;
  firstSeq: number;
  /** Value i's first 32 bits at 2i and its next 32 at 2i + 1, values ascending. */
  prefixes: Uint32Array;
  /** Every value whose prefix another value of the list shares, with its index. */
  tied: Array<{ index: number; value: string }>;
}

/** The bits of a 32-bit word left of the bucket's (the rule's first hex digits of the value). */
const BUCKET_SHIFT = 32 - 4 * DRAW_ORDER.bucketHexDigits;
const BUCKETS = 16 ** DRAW_ORDER.bucketHexDigits;

function highOf(value: string): number {
  return parseInt(value.slice(0, 8), 16);
}

function lowOf(value: string): number {
  return parseInt(value.slice(8, 16), 16);
}

/** The compact form of a shard's draw (`values` ascending, as the shard places them). */
export function drawPrefixes(draw: { placedAt: number | null; firstSeq: number; values: readonly string[] }): DrawPrefixes {
  const { values } = draw;
  const prefixes = new Uint32Array(values.length * 2);
  const tied: DrawPrefixes["tied"] = [];
  values.forEach((value, i) => {
    prefixes[2 * i] = highOf(value);
    prefixes[2 * i + 1] = lowOf(value);
  });
  const samePrefix = (i: number, j: number) => prefixes[2 * i] === prefixes[2 * j] && prefixes[2 * i + 1] === prefixes[2 * j + 1];
  values.forEach((value, i) => {
    if ((i > 0 && samePrefix(i, i - 1)) || (i + 1 < values.length && samePrefix(i, i + 1))) tied.push({ index: i, value });
  });
  return { placedAt: draw.placedAt, firstSeq: draw.firstSeq, prefixes, tied };
}

/** How many values the draw holds. */
export function drawLength(draw: DrawPrefixes): number {
  return draw.prefixes.length / 2;
}

/** The number of the draw's values whose prefix is below (high, low), or at most it with `orEqual`. */
function countBelow(prefixes: Uint32Array, high: number, low: number, orEqual: boolean): number {
  let lo = 0;
  let hi = prefixes.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const h = prefixes[2 * mid]!;
    const l = prefixes[2 * mid + 1]!;
    const below = h < high || (h === high && (l < low || (orEqual && l === low)));
    if (below) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The 0-based index of `value` in the draw's list, or -1 when it is not in it (rankOf's answer). */
export function indexInDraw(draw: DrawPrefixes, value: string): number {
  const high = highOf(value);
  const low = lowOf(value);
  const first = countBelow(draw.prefixes, high, low, false);
  const end = countBelow(draw.prefixes, high, low, true);
  if (end - first <= 1) return end === first ? -1 : first;
  return draw.tied.find((t) => t.index >= first && t.index < end && t.value === value)?.index ?? -1;
}

/** Whether the draw's value at `index` is `value`. */
export function isAtIndex(draw: DrawPrefixes, index: number, value: string): boolean {
  if (!Number.isInteger(index) || index < 0 || index >= drawLength(draw)) return false;
  if (draw.prefixes[2 * index] !== highOf(value) || draw.prefixes[2 * index + 1] !== lowOf(value)) return false;
  const tied = draw.tied.find((t) => t.index === index);
  return tied === undefined || tied.value === value;
}

/**
 * The 1-based position of the value at `index` of shard `shard`'s draw in the cohort's one order, with
 * `draws[i]` shard i's: what drawPosition (draw-order.ts) gives over the full lists.
 */
export function positionInDraws(draws: readonly DrawPrefixes[], shard: number, index: number): number {
  const own = draws[shard];
  if (own === undefined || index < 0 || index >= drawLength(own)) throw new Error(`shard ${shard} has no value at ${index}`);
  const bucket = own.prefixes[2 * index]! >>> BUCKET_SHIFT;
  // Bucket b's values start at prefix (b << BUCKET_SHIFT, 0); past the last bucket, all are below.
  const belowBucket = (draw: DrawPrefixes, b: number) => (b >= BUCKETS ? drawLength(draw) : countBelow(draw.prefixes, (b << BUCKET_SHIFT) >>> 0, 0, false));
  // A lower shard's values of the same bucket go first; a higher shard's go after.
  return draws.reduce((sum, draw, i) => sum + (i === shard ? index : belowBucket(draw, i < shard ? bucket + 1 : bucket)), 1);
}
