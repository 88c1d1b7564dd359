import { MAX_REFS_PER_REPORT, type TicketRef } from "../shard/rpc.js";

/**
 * Ticket references an isolate holds for each shard until one call carries them there, at most once per
 * interval per shard: how the shard hears who polled near the front (presence) and which passes were
 * used at the gate (activity) without a call per request. Plain maps, read and written synchronously: no
 * request ever waits on another's promise.
 */
export class ShardMailbox {
  private readonly held = new Map<string, Map<number, string>>();
  private readonly sentAt = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  /** Holds a ticket for the shard named `shard` (its `shardName`); the newest MAX_REFS_PER_REPORT are kept. */
  hold(shard: string, seq: number, ticketId: string): void {
    let refs = this.held.get(shard);
    if (!refs) {
      if (this.held.size >= MAX_SHARDS) this.held.delete(this.held.keys().next().value!);
      this.held.set(shard, (refs = new Map()));
    }
    refs.delete(seq);
    refs.set(seq, ticketId);
    if (refs.size > MAX_REFS_PER_REPORT) refs.delete(refs.keys().next().value!);
  }

  /**
   * The tickets held for the shard, if some are and none were sent to it within the interval; taking them
   * marks them sent, so of many requests at once only one calls.
   */
  takeDue(shard: string, now: number): TicketRef[] | undefined {
    if (!this.held.has(shard)) return undefined;
    const last = this.sentAt.get(shard);
    if (last !== undefined && now - last < this.intervalMs && now >= last) return undefined;
    if (this.sentAt.size >= MAX_SHARDS && last === undefined) this.sentAt.delete(this.sentAt.keys().next().value!);
    this.sentAt.set(shard, now);
    return this.take(shard);
  }

  /** Every ticket held for the shard, for a call that goes there anyway; the caller owns them from now on. */
  take(shard: string): TicketRef[] {
    const refs = this.held.get(shard);
    this.held.delete(shard);
    return refs ? [...refs] : [];
  }

  /** Puts tickets back after the call that should have carried them failed. */
  giveBack(shard: string, refs: readonly TicketRef[]): void {
    for (const [seq, ticketId] of refs) this.hold(shard, seq, ticketId);
  }

  clear(): void {
    this.held.clear();
    this.sentAt.clear();
  }
}

/** Bounds each map: an isolate serving every shard of every cohort holds at most this many. */
const MAX_SHARDS = 4_096;
