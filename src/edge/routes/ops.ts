import { Hono } from "hono";
import { cohortIsOpen, edgeConfig } from "../config.js";
import { cachedSnapshot } from "../shard-client.js";

/**
 * What operators watch while a cohort drains: per cohort, the line, admissions and the active count
 * against the cap, summed over its shards. Counters only, no one's identity. Served from the same cached
 * snapshots as status polls, so watching costs the objects at most one call per shard per second; shown
 * as the objects last reported them, not carried forward as a citizen's position is.
 */
export const opsRoutes = new Hono<{ Bindings: Env }>();

opsRoutes.get("/queue", async (c) => {
  const config = edgeConfig(c.env);
  const now = Date.now();
  const cohorts = await Promise.all(
    config.cohorts.map(async (cohort) => {
      const open = cohortIsOpen(cohort, now);
      const shards = open
        ? await Promise.all(
            Array.from({ length: config.shards }, async (_, shard) => (await cachedSnapshot(c.env, { cohort: cohort.id, shard }, now)).snapshot),
          )
        : [];
      const sum = (pick: (s: (typeof shards)[number]) => number) => shards.reduce((a, s) => a + pick(s), 0);
      const observed = shards.every((s) => s.observedPerMinute !== null) && shards.length ? sum((s) => s.observedPerMinute ?? 0) : null;
      return {
        id: cohort.id,
        label: cohort.label,
        opensAt: cohort.opensAt,
        open,
        joined: sum((s) => s.lastSeq),
        admitted: sum((s) => s.serving),
        waiting: sum((s) => s.lastSeq - s.serving),
        active: sum((s) => s.active),
        observedPerMinute: observed,
      };
    }),
  );
  c.header("cache-control", "no-store");
  return c.json({
    at: new Date(now).toISOString(),
    config: {
      admitPerMinute: config.admitPerMinute,
      maxActive: config.maxActive,
      shards: config.shards,
      paused: config.paused,
      claimWindowSeconds: config.claimWindowSeconds,
      passTtlSeconds: config.passTtlSeconds,
    },
    cohorts,
  });
});
