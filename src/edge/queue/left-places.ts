/**
 * Places given up by citizens who left the line and that the line has not reached yet: what the count ahead
 * of everyone behind them leaves out. Keyed by position: a shard's places (seq) for its own line, or the
 * cohort's ranks for the cohort's one line. Pure, so the shard, the coordinator, the Worker and the replay
 * count with the same rule.
 *
 * The nearest NEAR_PLACES are listed exactly, with the shard and place each is (so a reader whose own shard
 * has since passed one does not leave it out twice); the rest are counted per bucket of BUCKET positions,
 * which a count uses only for buckets wholly ahead of the reader. So the size a snapshot carries is bounded
 * however many leave, the count near the front is exact, and far back it may count up to a bucket's
 * leavers too many, never too few, until the reader's bucket is nearer.
 */

export const NEAR_PLACES = 512;
export const BUCKET = 4_096;

/** A left place: its position (seq or rank), its shard and its place in the shard. */
export type LeftPlace = readonly [position: number, shard: number, seq: number];

/** Kept as columns of plain numbers: they cross the RPC and the cache as they are. */
export interface LeftPlaces {
  /** The nearest left places, by position: their positions, shards and places. */
  near: { position: number[]; shard: number[]; seq: number[] };
  /** The others, per bucket of positions: each bucket's index and how many it holds. */
  far: { bucket: number[]; count: number[] };
  total: number;
}

/** The index of left places, from all of them in position order; undefined when there are none. */
export function leftPlacesOf(sorted: readonly LeftPlace[]): LeftPlaces | undefined {
  if (sorted.length === 0) return undefined;
  const near: LeftPlaces["near"] = { position: [], shard: [], seq: [] };
  const far: LeftPlaces["far"] = { bucket: [], count: [] };
  sorted.forEach(([position, shard, seq], i) => {
    if (i < NEAR_PLACES) {
      near.position.push(position);
      near.shard.push(shard);
      near.seq.push(seq);
      return;
    }
    const bucket = Math.floor(position / BUCKET);
    const last = far.bucket.length - 1;
    if (far.bucket[last] === bucket) far.count[last]!++;
    else {
      far.bucket.push(bucket);
      far.count.push(1);
    }
  });
  return { near, far, total: sorted.length };
}

/** How many of the sorted `values` are below `limit`. */
function countBelow(values: readonly number[], limit: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * How many left places are ahead of `position`: before it, and not reached as far as the reader knows
 * (`reached(shard, seq)` says the reader's newer view passed one the index still lists). Asked at every
 * poll, so it searches rather than walks, except over the listed places ahead when `reached` must be asked.
 */
export function leftBefore(index: LeftPlaces | undefined, position: number, reached?: (shard: number, seq: number) => boolean): number {
  if (!index) return 0;
  const { near, far } = index;
  const listed = countBelow(near.position, position);
  let n = listed;
  if (reached) for (let i = 0; i < listed; i++) if (reached(near.shard[i]!, near.seq[i]!)) n--;
  // Whole buckets ahead: those with (bucket + 1) * BUCKET <= position.
  const buckets = countBelow(far.bucket, Math.floor(position / BUCKET));
  for (let i = 0; i < buckets; i++) n += far.count[i]!;
  return n;
}

/** Whether place `seq` is among those a shard's own index lists exactly (its positions are its places). */
export function listsLeft(index: LeftPlaces | undefined, seq: number): boolean {
  if (!index) return false;
  const i = countBelow(index.near.position, seq);
  return index.near.position[i] === seq;
}

/**
 * One index from several (each shard's, by cohort rank): the nearest NEAR_PLACES of all of them listed
 * exactly, every other place counted in its bucket.
 */
export function mergeLeftPlaces(parts: ReadonlyArray<LeftPlaces | undefined>): LeftPlaces | undefined {
  const near: LeftPlace[] = [];
  const far = new Map<number, number>();
  const count = (bucket: number, n: number) => far.set(bucket, (far.get(bucket) ?? 0) + n);
  let total = 0;
  for (const part of parts) {
    if (!part) continue;
    total += part.total;
    part.near.position.forEach((position, i) => near.push([position, part.near.shard[i]!, part.near.seq[i]!]));
    part.far.bucket.forEach((bucket, i) => count(bucket, part.far.count[i]!));
  }
  if (total === 0) return undefined;
  near.sort((a, b) => a[0] - b[0]);
  for (const [position] of near.slice(NEAR_PLACES)) count(Math.floor(position / BUCKET), 1);
  const listed = near.slice(0, NEAR_PLACES);
  const buckets = [...far.entries()].sort((a, b) => a[0] - b[0]);
  return {
    near: { position: listed.map(([p]) => p), shard: listed.map(([, s]) => s), seq: listed.map(([, , q]) => q) },
    far: { bucket: buckets.map(([b]) => b), count: buckets.map(([, n]) => n) },
    total,
  };
}
