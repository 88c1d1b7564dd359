/**
 * Which tickets each citizen holds, by citizen tag, held in memory and read from the tickets table the
 * first time a join needs it (a shard woken for a poll or an alarm never reads it). SQLite stays the
 * record: the index is only a way into it, rebuilt from it after a restart or a rolled-back commit.
 * About 40 bytes a ticket, so a shard of a million tickets holds ~40 MB, inside an object's 128 MB.
 *
 * Tags are 48 bits of a random key, so two citizens of one shard share a tag about once in 10^8 pairs;
 * a tag then lists every seq that carries it and each row is compared by the full key.
 */
export class CitizenIndex {
  private readonly seqs = new Map<number, number | number[]>();

  static of(entries: Iterable<readonly [tag: number, seq: number]>): CitizenIndex {
    const index = new CitizenIndex();
    for (const [tag, seq] of entries) index.add(tag, seq);
    return index;
  }

  /** Records a ticket; seqs only grow, so the last one recorded for a tag is its newest. */
  add(tag: number, seq: number): void {
    const held = this.seqs.get(tag);
    if (held === undefined) this.seqs.set(tag, seq);
    else if (typeof held === "number") this.seqs.set(tag, [held, seq]);
    else held.push(seq);
  }

  /** The newest ticket under `tag` that `own` accepts (reads the row and compares the citizen key). */
  latest<T>(tag: number, own: (seq: number) => T | undefined): T | undefined {
    const held = this.seqs.get(tag);
    if (held === undefined) return undefined;
    if (typeof held === "number") return own(held);
    for (let i = held.length - 1; i >= 0; i--) {
      const row = own(held[i]!);
      if (row !== undefined) return row;
    }
    return undefined;
  }
}
