import { runInDurableObject } from "cloudflare:test";
import { ShardStore } from "../../../src/edge/shard/store.js";
import { freshShard, stubOf } from "../helpers.js";

/**
 * Runs `body` with a store over a new, empty shard's SQLite: the modules of src/edge/shard/ tested without
 * the object's methods. The shard is used by nothing else, so the object's own memory never meets it.
 */
export async function withStore<T>(body: (store: ShardStore) => T | Promise<T>): Promise<T> {
  return runInDurableObject(stubOf(freshShard()), (_shard, state) => body(new ShardStore(state.storage)));
}
