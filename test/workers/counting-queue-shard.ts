import type { JoinBatch } from "../../src/edge/shard/joins.js";
import { QueueShard } from "../../src/edge/shard/queue-shard.js";

/**
 * The production QueueShard, counting what reaches it: RPC calls by method, and the group commits of
 * joins. Each RPC method is overridden only to count and hand on to the real one, so what is measured
 * and tested through it is the object that ships. The test Worker (test/workers/edge-test.ts) and the
 * benchmarks' (bench/workers/edge-bench.ts) bind it under the name QueueShard; wrangler.toml never does.
 */
export class CountingQueueShard extends QueueShard {
  /** RPC calls received since the object started, by method; the poll tests and benchmarks read it. */
  readonly calls = { join: 0, snapshot: 0, claim: 0, complete: 0, draw: 0, drawPrefixes: 0, reportHealth: 0, seen: 0, ranks: 0 };
  /** Group commits made since the object started, and the joins they carried; the tests read it. */
  readonly commits = { batches: 0, joins: 0 };

  // `joinJson` calls `join`, and a join the pre-queue turns back to the line does not: each counts once.
  override join(...args: Parameters<QueueShard["join"]>): ReturnType<QueueShard["join"]> {
    this.calls.join++;
    return super.join(...args);
  }

  /** Counted once the batch's transaction has committed (a failed commit throws past the count). */
  protected override writeJoins(citizenKeys: readonly string[]): JoinBatch {
    const batch = super.writeJoins(citizenKeys);
    this.commits.batches++;
    this.commits.joins += citizenKeys.length;
    return batch;
  }

  override snapshot(...args: Parameters<QueueShard["snapshot"]>): ReturnType<QueueShard["snapshot"]> {
    this.calls.snapshot++;
    return super.snapshot(...args);
  }

  override claim(...args: Parameters<QueueShard["claim"]>): ReturnType<QueueShard["claim"]> {
    this.calls.claim++;
    return super.claim(...args);
  }

  override complete(...args: Parameters<QueueShard["complete"]>): ReturnType<QueueShard["complete"]> {
    this.calls.complete++;
    return super.complete(...args);
  }

  // The Worker reads a ticket's rank once per chunk of places (src/edge/queue/cohort-ahead.ts): a poll's call.
  override ranks(...args: Parameters<QueueShard["ranks"]>): ReturnType<QueueShard["ranks"]> {
    this.calls.ranks++;
    return super.ranks(...args);
  }

  override draw(...args: Parameters<QueueShard["draw"]>): ReturnType<QueueShard["draw"]> {
    this.calls.draw++;
    return super.draw(...args);
  }

  override drawPrefixes(...args: Parameters<QueueShard["drawPrefixes"]>): ReturnType<QueueShard["drawPrefixes"]> {
    this.calls.drawPrefixes++;
    return super.drawPrefixes(...args);
  }

  override reportHealth(...args: Parameters<QueueShard["reportHealth"]>): ReturnType<QueueShard["reportHealth"]> {
    this.calls.reportHealth++;
    return super.reportHealth(...args);
  }

  override seen(...args: Parameters<QueueShard["seen"]>): ReturnType<QueueShard["seen"]> {
    this.calls.seen++;
    return super.seen(...args);
  }
}
