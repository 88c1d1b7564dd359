import { Hono } from "hono";
import { historyQuery, type CohortHistory, type OpsQueue } from "../../contract/ops.js";
import { describeIssues, fail } from "../../http/errors.js";
import { cohortIsOpen, cohortPolicy, edgeConfig } from "../config.js";
import type { ShardSnapshot } from "../shard/snapshot.js";
import { HISTORY_MINUTES } from "../shard/history.js";
import { sumShards } from "../operators/cohort-history.js";
import { lineStateOf } from "../operators/line-state.js";
import { callShard, shardStub } from "../queue/shard-client.js";
import { cachedSnapshot } from "../queue/snapshot-cache.js";

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
      // What this cohort runs on: its own overrides in COHORTS, else the global bindings.
      const policy = cohortPolicy(config, cohort.id);
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
        policy,
        line: lineStateOf({ open, paused: policy.paused }, shards),
        joined: sum((s) => s.lastSeq),
        admitted: sum((s) => s.serving),
        departed: sum((s) => s.departed ?? 0),
        // Places given up are nobody waiting.
        waiting: sum((s) => s.lastSeq - s.serving - (s.left?.total ?? 0)),
        active: sum((s) => s.active),
        shardsAlone: config.shards > 1 ? shards.filter((s) => s.lastSeq > s.serving && (!s.line || s.line.alone)).length : 0,
        observedPerMinute: observed,
        ...autopilotView(shards),
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
      presenceSeconds: config.presenceSeconds,
      returnWindowSeconds: config.returnWindowSeconds,
      passIdleSeconds: config.passIdleSeconds,
      passTtlSeconds: config.passTtlSeconds,
      autopilot: config.autopilot,
    },
    cohorts,
  } satisfies OpsQueue);
});

/** The history's query, reaching back at most as far as a shard keeps its minutes. */
const historyParams = historyQuery(HISTORY_MINUTES);

/**
 * GET /api/ops/cohorts/{id}/history: the cohort's last two hours, minute by minute, from the per-minute
 * history each shard keeps. One call per shard: the console asks every few seconds, far less often than polls.
 */
opsRoutes.get("/cohorts/:id/history", async (c) => {
  const config = edgeConfig(c.env);
  const cohort = config.cohorts.find((k) => k.id === c.req.param("id"));
  if (!cohort) throw fail(404, "not_found", `no cohort ${JSON.stringify(c.req.param("id").slice(0, 40))}`);
  const query = historyParams.safeParse(c.req.query());
  if (!query.success) throw fail(400, "invalid_request", describeIssues(query.error));
  const now = Date.now();
  // A cohort that has not opened has no line yet: its shards are not woken to say so.
  const shards = cohortIsOpen(cohort, now)
    ? await Promise.all(Array.from({ length: config.shards }, (_, shard) => callShard(() => shardStub(c.env, { cohort: cohort.id, shard }).history(query.data.minutes))))
    : [];
  c.header("cache-control", "no-store");
  return c.json({ cohort: cohort.id, at: new Date(now).toISOString(), policy: cohortPolicy(config, cohort.id), minutes: sumShards(shards) } satisfies CohortHistory);
});

/**
 * The autopilot's side of a cohort (src/edge/origin-health/autopilot.ts): the configured rate against the
 * rate in force, summed over the shards; the origin's health as its shards' citizens met it (the failed
 * share of the shards' last decisions, weighted by their samples' count in memory, and the worst shard's
 * p95 latency); and the most recent reason any shard's rate changed.
 */
function autopilotView(shards: ShardSnapshot[]) {
  const configured = shards.reduce((a, s) => a + (s.configuredPerMinute ?? s.ratePerMinute), 0);
  const actual = shards.reduce((a, s) => a + s.ratePerMinute, 0);
  const judged = shards.filter((s) => s.origin?.errorShare != null);
  const weight = judged.reduce((a, s) => a + Math.max(1, s.origin!.samples), 0);
  const errorShare = judged.length ? judged.reduce((a, s) => a + s.origin!.errorShare! * Math.max(1, s.origin!.samples), 0) / weight : null;
  const latencies = shards.flatMap((s) => (s.origin?.p95Ms == null ? [] : [s.origin.p95Ms]));
  // A shard that only started at its configured rate has changed nothing worth naming.
  const changed = shards.filter((s) => s.origin && s.origin.reason !== "started");
  const latest = changed.reduce<ShardSnapshot | undefined>((a, s) => (!a || s.origin!.changedAt > a.origin!.changedAt ? s : a), undefined);
  return {
    configuredPerMinute: configured,
    ratePerMinute: actual,
    origin: { errorShare, p95Ms: latencies.length ? Math.max(...latencies) : null },
    rateChange: latest?.origin ? { reason: latest.origin.reason, at: new Date(latest.origin.changedAt).toISOString(), shard: shards.indexOf(latest) } : null,
  };
}
