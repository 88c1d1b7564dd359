/**
 * A bounded memory that, when full, makes room by forgetting an entry chosen at random.
 *
 * For an isolate's memory of things clients present over and over in cycles (every waiting citizen's
 * ticket, every few seconds), the usual "oldest first" fails all at once: with one more client in the
 * cycle than the memory holds, each entry is dropped just before its owner comes round again, and none is
 * ever found. A random victim keeps a share of the cycle found instead, the larger the nearer the clients
 * are to what fits, and every entry is found while they all fit.
 */
export class RandomEvictionMemory<V> {
  readonly #values = new Map<string, V>();
  /** Every key held, each at a place of its own, so a random place names a random key. */
  readonly #keys: string[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("a memory holds at least one entry");
  }

  get size(): number {
    return this.#values.size;
  }

  get(key: string): V | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: V): void {
    if (this.#values.has(key)) {
      this.#values.set(key, value);
      return;
    }
    let place = this.#keys.length;
    if (place >= this.capacity) {
      place = Math.floor(Math.random() * this.capacity);
      this.#values.delete(this.#keys[place]!);
    }
    this.#keys[place] = key;
    this.#values.set(key, value);
  }
}
