import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../contract/errors.js";
import { fail } from "../../http/errors.js";
import type { JoinResult } from "../shard/rpc.js";
import { shardName, type ShardAddress } from "./shard-name.js";

/**
 * How the Worker reaches the QueueShard objects: by deterministic name (shard-name.ts), with bounded
 * retries. The snapshot cache that keeps status polls away from the objects is snapshot-cache.ts.
 */

// A shard's id is a keyed hash of its name, the same for every request: computed once per isolate and
// name (an id is a plain value, unlike a stub, which belongs to the request that made it).
const shardIds = new WeakMap<Env["QUEUE_SHARD"], Map<string, DurableObjectId>>();
/** Bounds the ids kept: an isolate serving every shard of every cohort holds at most this many. */
const MAX_SHARD_IDS = 4_096;

/** The stub of a shard's object, reached by the shard's name. */
export function shardStub(env: Env, address: ShardAddress): DurableObjectStub<import("../shard/queue-shard.js").QueueShard> {
  const namespace = env.QUEUE_SHARD;
  let ids = shardIds.get(namespace);
  if (!ids) shardIds.set(namespace, (ids = new Map()));
  const name = shardName(address);
  let id = ids.get(name);
  if (!id) {
    if (ids.size >= MAX_SHARD_IDS) ids.clear();
    ids.set(name, (id = namespace.idFromName(name)));
  }
  return namespace.get(id);
}

/**
 * Joins a citizen to a shard's line (QueueShard.join), the result sent as JSON text: see joinJson. The
 * text is our own object's, written by JSON.stringify from a JoinResult, so it is read back as one.
 */
export async function joinShard(env: Env, address: ShardAddress, citizenKey: string): Promise<JoinResult> {
  return JSON.parse(await callShard(() => shardStub(env, address).joinJson(citizenKey))) as JoinResult;
}

function flag(err: unknown, name: "retryable" | "overloaded"): boolean {
  return typeof err === "object" && err !== null && name in err && (err as Record<string, unknown>)[name] === true;
}

/**
 * Calls a shard, retrying once when the runtime says the failure was transient. An overloaded object is
 * not retried (that would add to its load); the citizen is asked to come back shortly, and keeps their
 * ticket, so nothing is lost.
 */
export async function callShard<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (flag(err, "overloaded") || attempt >= 1 || !flag(err, "retryable")) {
        console.error("queue shard call failed:", err);
        throw fail(503, "unavailable", "the queue is busy; your place is kept, please retry shortly", { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
      }
    }
  }
}
