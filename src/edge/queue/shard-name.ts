/**
 * A shard's name, `<cohort>/<shard>`: the Worker reaches a QueueShard object by it, so every Worker anywhere
 * reaches the same object for a shard, and the object reads its own address back from it.
 */

export interface ShardAddress {
  cohort: string;
  shard: number;
}

export function shardName(address: ShardAddress): string {
  return `${address.cohort}/${address.shard}`;
}

/** The address a name written by `shardName` holds; null for no name or another shape. */
export function parseShardName(name: string | undefined): ShardAddress | null {
  const m = name === undefined ? null : /^(.+)\/(\d+)$/.exec(name);
  return m ? { cohort: m[1]!, shard: Number(m[2]) } : null;
}
