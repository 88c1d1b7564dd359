import { Hono, type Context } from "hono";
import { z } from "zod";
import { fail, notFoundResponse } from "../../http/errors.js";
import { jsonBody } from "../../http/json-body.js";
import { isLoopbackHost } from "../../http/loopback.js";
import { shardStub } from "../queue/shard-client.js";

/**
 * TEST HOOK, never for production: the fault suite (`npm run faults`, bench/faults/) reaches the
 * QueueShard objects of a running edge through these routes, to shift a shard's clock under it or evict
 * it with calls in flight. They exist only while the FAULT_HOOKS binding is "on" (wrangler.toml keeps it
 * "off"); otherwise every path here is the same 404 as any unknown path, so a deployment shows nothing.
 * Even when on, only a request from this machine is served: anything else is refused with a 403 and logged
 * loudly, since a hook that is on where strangers can reach it is a misconfiguration to fix now.
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
  if (c.env.FAULT_HOOKS !== "on") return notFoundResponse(c.req.method, new URL(c.req.url).pathname);
  const from = c.req.header("cf-connecting-ip") ?? "";
  const host = new URL(c.req.url).hostname;
  if (!LOOPBACK.test(from) || !isLoopbackHost(host)) {
    console.error(`FAULT_HOOKS is "on" and a request from ${from || "an unknown address"} to ${host} reached /__faults: refused. Set FAULT_HOOKS = "off".`);
    throw fail(403, "invalid_request", "fault hooks are for this machine only");
  }
  await next();
});

function shardOf(c: Context<{ Bindings: Env }>) {
  const parsed = address.safeParse({ cohort: c.req.param("cohort"), shard: c.req.param("shard") });
  if (!parsed.success) throw fail(400, "invalid_request", "expected /__faults/shards/{cohort}/{shard}/...");
  return parsed.data;
}

faultRoutes.post("/shards/:cohort/:shard/clock", async (c) => {
  const shard = shardOf(c);
  const { offsetMs } = await jsonBody(c, clockRequest);
  const { now } = await shardStub(c.env, shard).injectFault({ clockOffsetMs: offsetMs });
  return c.json({ ...shard, offsetMs, shardNow: new Date(now).toISOString() });
});

faultRoutes.post("/shards/:cohort/:shard/evict", async (c) => {
  const shard = shardOf(c);
  try {
    await shardStub(c.env, shard).injectFault({ evict: true });
  } catch {
    // The abort fails the very call that asked for it: that failure is the eviction having happened.
  }
  return c.json({ ...shard, evicted: true });
});
