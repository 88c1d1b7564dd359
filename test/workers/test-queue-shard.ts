import type { NoticeMessage } from "../../src/edge/push/notice-message.js";
import { CountingQueueShard } from "./counting-queue-shard.js";

/**
 * Every push notice the shards put on the queue, by shard name, in the isolate's memory: it outlives an
 * object's restart, so a test can see that a notice went out once however often the object started.
 */
const queuedNotices = new Map<string, NoticeMessage[]>();

/** What the fault suite can do to a shard (test/workers/fault-routes.ts). */
export type Fault = { clockOffsetMs: number } | { evict: true };

/**
 * The QueueShard the tests and the fault suite run: the production object with its counters
 * (CountingQueueShard), plus a clock the tests set and the fault suite's hook. Bound only by
 * test/workers/wrangler.test.toml.
 */
export class TestQueueShard extends CountingQueueShard {
  private clock: (() => number) | null = null;
  private arrivals: string[] | null = null;
  private coordinated: boolean | null = null;

  /**
   * Whether this shard keeps one line with its cohort's others (the production rule: whenever the cohort
   * has more than one shard). The edge tests' bindings set TEST_SHARDS_ALONE, so that a shard is its own line
   * unless a test says otherwise: most of them test one line's rule by moving one shard's clock, with no
   * coordinator to answer. The cohort tests turn it on; the fault suite and `npm start` never set it.
   */
  setCoordinated(on: boolean | null): void {
    this.coordinated = on;
  }

  protected override coordinates(): boolean {
    if (this.coordinated !== null) return this.coordinated && super.coordinates();
    return (this.env as unknown as Record<string, unknown>).TEST_SHARDS_ALONE !== "true" && super.coordinates();
  }

  /** Sets the object's clock, the tests' way to let minutes pass; null gives it the runtime's back. */
  setClock(clock: (() => number) | null): void {
    this.clock = clock;
  }

  /**
   * Starts recording the citizen keys of joins in the order they reach the object. The Workers vitest
   * integration passes every call to a Durable Object through its own wrapper, whose awaits may reorder
   * calls that one stub made back to back, so a test judges arrival order here, where the shard sees it.
   */
  recordArrivals(): void {
    this.arrivals = [];
  }

  /** The keys recorded since recordArrivals, in the order their joins arrived. */
  arrivalOrder(): string[] {
    return [...(this.arrivals ?? [])];
  }

  override join(...args: Parameters<CountingQueueShard["join"]>): ReturnType<CountingQueueShard["join"]> {
    this.arrivals?.push(args[0]);
    return super.join(...args);
  }

  /** The notices this shard put on the queue since the isolate started, oldest first. */
  noticesQueued(): NoticeMessage[] {
    return [...(queuedNotices.get(this.ctx.id.name ?? "") ?? [])];
  }

  protected override async enqueue(messages: NoticeMessage[]): Promise<void> {
    await super.enqueue(messages);
    const name = this.ctx.id.name ?? "";
    queuedNotices.set(name, [...(queuedNotices.get(name) ?? []), ...messages]);
  }

  protected override now(): number {
    return this.clock ? this.clock() : super.now();
  }

  /**
   * The fault suite's hook: shifts the object's clock by `clockOffsetMs` from the runtime's, or resets the
   * object as an eviction does (`ctx.abort()`: calls in flight fail, the next call starts a new instance
   * from SQLite, on the runtime's clock).
   */
  injectFault(fault: Fault): { now: number } {
    if ("evict" in fault) this.ctx.abort("evicted by the fault suite");
    else {
      const offset = fault.clockOffsetMs;
      this.setClock(offset === 0 ? null : () => Date.now() + offset);
    }
    return { now: this.now() };
  }
}
