import { Hono, type Context } from "hono";
import { z } from "zod";
import { fail } from "../../src/http/errors.js";
import { jsonBody } from "../../src/http/json-body.js";
import { isLoopbackHost } from "../../src/http/loopback.js";
import { shardStub } from "../../src/edge/queue/shard-client.js";
import type { ShardAddress } from "../../src/edge/queue/shard-name.js";
import type { Fault, TestQueueShard } from "./test-queue-shard.js";

/**
 * The fault suite's hook (`npm run faults`, bench/faults/shard-faults.ts): it reaches the QueueShard
 * objects of a running edge to shift a shard's clock under it or evict it with calls in flight. Mounted
 * only by the test Worker (test/workers/edge-test.ts), never by the deployed one. Even there only a
 * request from this machine is served: anything else is refused with a 403 and logged loudly, since a
 * test Worker that strangers can reach is a misconfiguration to fix now.
 *
 *   POST /__faults/shards/{cohort}/{shard}/clock  {"offsetMs": n}  the shard's clock = runtime's + n
 *   POST /__faults/shards/{cohort}/{shard}/evict                    the shard resets, as in an eviction
 */
export const faultRoutes = new Hono<{ Bindings: Env }>();

/** The addresses a request from this machine comes from (workerd fills CF-Connecting-IP from the socket). */
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/** A day either way is far beyond any fault worth simulating, and keeps timestamps sane. */
const MAX_OFFSET_MS = 86_400_000;
const clockRequest = z.object({ offsetMs: z.number().int().min(-MAX_OFFSET_MS).max(MAX_OFFSET_MS) }).strict();
const address = z.object({ cohort: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/), shard: z.coerce.number().int().min(0).max(1023) });

faultRoutes.use("*", async (c, next) => {
  const from = c.req.header("cf-connecting-ip") ?? "";
  const host = new URL(c.req.url).hostname;
  if (!LOOPBACK.test(from) || !isLoopbackHost(host)) {
    console.error(`the test Worker's fault hook was reached by ${from || "an unknown address"} at ${host}: refused. The test Worker must never be reachable from outside this machine.`);
    throw fail(403, "invalid_request", "fault hooks are for this machine only");
  }
  await next();
});

function shardOf(c: Context<{ Bindings: Env }>): ShardAddress {
  const parsed = address.safeParse({ cohort: c.req.param("cohort"), shard: c.req.param("shard") });
  if (!parsed.success) throw fail(400, "invalid_request", "expected /__faults/shards/{cohort}/{shard}/...");
  return parsed.data;
}

/** The shard as the test Worker binds it: the test subclass, whose hook the routes call. */
function testShard(env: Env, shard: ShardAddress): DurableObjectStub<TestQueueShard> {
  return shardStub(env, shard) as unknown as DurableObjectStub<TestQueueShard>;
}

function inject(env: Env, shard: ShardAddress, fault: Fault): Promise<{ now: number }> {
  return testShard(env, shard).injectFault(fault);
}

faultRoutes.post("/shards/:cohort/:shard/clock", async (c) => {
  const shard = shardOf(c);
  const { offsetMs } = await jsonBody(c, clockRequest);
  const { now } = await inject(c.env, shard, { clockOffsetMs: offsetMs });
  return c.json({ ...shard, offsetMs, shardNow: new Date(now).toISOString() });
});

faultRoutes.post("/shards/:cohort/:shard/evict", async (c) => {
  const shard = shardOf(c);
  try {
    await inject(c.env, shard, { evict: true });
  } catch {
    // The abort fails the very call that asked for it: that failure is the eviction having happened.
  }
  return c.json({ ...shard, evicted: true });
});
