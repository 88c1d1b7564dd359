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

/** A shard's own places given up and not reached (in place order), keyed by place, as its snapshot carries them. */
export function shardLeftPlaces(seqs: readonly number[], shard: number): LeftPlaces | undefined {
  return leftPlacesOf(seqs.map((seq): LeftPlace => [seq, shard, seq]));
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

/** Whether the sorted `values` hold `value`. */
export function sortedIncludes(values: readonly number[], value: number): boolean {
  return values[countBelow(values, value)] === value;
}

/** Whether place `seq` is among those a shard's own index lists exactly (its positions are its places). */
export function listsLeft(index: LeftPlaces | undefined, seq: number): boolean {
  return index !== undefined && sortedIncludes(index.near.position, seq);
}

/**
 * One index from several (each shard's, by cohort rank): the nearest NEAR_PLACES of all of them listed
 * exactly, every other place counted in its bucket. The coordinator merges at every report that changed a
 * shard's, so the parts' lists (each in position order, as leftPlacesOf builds them) are merged by their
 * heads, not sorted whole; parts out of order (they come over a wire) are sorted first.
 */
export function mergeLeftPlaces(parts: ReadonlyArray<LeftPlaces | undefined>): LeftPlaces | undefined {
  const given = parts.filter((part): part is LeftPlaces => part !== undefined);
  let total = 0;
  for (const part of given) total += part.total;
  if (total === 0) return undefined;
  const far = new Map<number, number>();
  const count = (bucket: number, n: number) => far.set(bucket, (far.get(bucket) ?? 0) + n);
  for (const part of given) part.far.bucket.forEach((bucket, i) => count(bucket, part.far.count[i]!));
  const lists = given.every((part) => inOrder(part.near.position)) ? given.map((part) => part.near) : [sortedNear(given)];
  // The nearest NEAR_PLACES: the least head each time (the earlier part on a tie, as a stable sort would).
  const heads = lists.map(() => 0);
  const listed: LeftPlaces["near"] = { position: [], shard: [], seq: [] };
  while (listed.position.length < NEAR_PLACES) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      if (heads[i]! < lists[i]!.position.length && (best < 0 || lists[i]!.position[heads[i]!]! < lists[best]!.position[heads[best]!]!)) best = i;
    }
    if (best < 0) break;
    const list = lists[best]!;
    const at = heads[best]!++;
    listed.position.push(list.position[at]!);
    listed.shard.push(list.shard[at]!);
    listed.seq.push(list.seq[at]!);
  }
  // Every other place in its bucket; a list in order fills each bucket in one run.
  lists.forEach((list, i) => {
    let bucket = Number.NaN;
    let n = 0;
    for (let at = heads[i]!; at < list.position.length; at++) {
      const b = Math.floor(list.position[at]! / BUCKET);
      if (b !== bucket && n > 0) count(bucket, n);
      if (b !== bucket) [bucket, n] = [b, 0];
      n++;
    }
    if (n > 0) count(bucket, n);
  });
  const buckets = [...far.entries()].sort((a, b) => a[0] - b[0]);
  return { near: listed, far: { bucket: buckets.map(([b]) => b), count: buckets.map(([, n]) => n) }, total };
}

function inOrder(positions: readonly number[]): boolean {
  for (let i = 1; i < positions.length; i++) if (positions[i - 1]! > positions[i]!) return false;
  return true;
}

/** Every part's listed places as one list in position order (a stable sort: the earlier part first on a tie). */
function sortedNear(parts: readonly LeftPlaces[]): LeftPlaces["near"] {
  const near: LeftPlace[] = [];
  for (const part of parts) part.near.position.forEach((position, i) => near.push([position, part.near.shard[i]!, part.near.seq[i]!]));
  near.sort((a, b) => a[0] - b[0]);
  return { position: near.map(([p]) => p), shard: near.map(([, s]) => s), seq: near.map(([, , q]) => q) };
}
