/**
 * Group commit: the joins that reach the object in one turn of its event loop are written in one SQLite
 * transaction (one commit, one fsync) on the next turn, in arrival order. Each join's answer still waits
 * for its write: the runtime's output gate holds every reply until the commit is durable.
 */

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** What writing a batch gave: one outcome per join, in arrival order, and whatever else the writer returns. */
export interface Written<T> {
  outcomes: ReadonlyArray<Outcome<T>>;
}

interface Pending<T> {
  key: string;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T, W extends Written<T>> {
  private pending: Array<Pending<T>> = [];
  private scheduled = false;

  /**
   * `write` writes a batch in one transaction: one bad join fails alone (its outcome), a failed commit
   * fails the whole batch (it throws). `written` runs after every answer of a committed batch is settled.
   */
  constructor(
    private readonly write: (keys: readonly string[]) => W,
    private readonly written: (batch: W) => Promise<void>,
  ) {}

  add(key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // The next turn of the event loop, not a microtask: joins already delivered to the object in this
      // turn join the batch, and the input gate lets no other event in between a batch's read and write.
      setTimeout(() => void this.flush(), 0);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    let written: W;
    try {
      written = this.write(batch.map((p) => p.key));
    } catch (err) {
      // The commit itself failed: nothing of the batch was written, and every join in it is told so.
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const outcome = written.outcomes[i]!;
      if (outcome.ok) p.resolve(outcome.value);
      else p.reject(outcome.error);
    });
    await this.written(written);
  }
}
