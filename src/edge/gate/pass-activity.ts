import { ShardMailbox } from "../queue/shard-mailbox.js";

/**
 * A pass holds a share of MAX_ACTIVE only while it is used: the shard keeps it holding capacity for
 * PASS_IDLE_SECONDS after each request the gate forwarded for it. The gate tells the shard which passes
 * were used the way it tells the origin's health, in one report a second per shard from an isolate at
 * most, or with the completion call a booking makes anyway.
 */
export const PASS_USE_REPORT_MS = 1_000;

/** Passes (as their tickets) used at the gate, per shard, until a call carries them. */
export const passesUsed = new ShardMailbox(PASS_USE_REPORT_MS);
