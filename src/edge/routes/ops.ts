import { Hono } from "hono";
import { z } from "zod";
import type { CohortHistory, OpsQueue } from "../../contract/ops.js";
import { describeIssues, fail } from "../../http/errors.js";
import { cohortIsOpen, cohortPolicy, edgeConfig } from "../config.js";
import { PACE_MINUTES, type ShardSnapshot } from "../shard/snapshot.js";
import { HISTORY_MINUTES, type ShardMinute } from "../shard/history.js";
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
        // What this cohort runs on: its own overrides in COHORTS, else the global bindings.
        policy: cohortPolicy(config, cohort.id),
        joined: sum((s) => s.lastSeq),
        admitted: sum((s) => s.serving),
        waiting: sum((s) => s.lastSeq - s.serving),
        active: sum((s) => s.active),
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

/** One minute of a cohort, summed over its shards: what the history answers, as the contract says. */
export type CohortMinute = CohortHistory["minutes"][number];

/** The history's query; also what the API document says of it. */
export const historyQuery = z.object({
  minutes: z.coerce.number({ error: "minutes must be a whole number" }).int("minutes must be a whole number").min(1).max(HISTORY_MINUTES).default(HISTORY_MINUTES),
});

/**
 * GET /api/ops/cohorts/{id}/history: the cohort's last two hours, minute by minute, from the per-minute
 * history each shard keeps. One call per shard: the console asks every few seconds, far less often than polls.
 */
opsRoutes.get("/cohorts/:id/history", async (c) => {
  const config = edgeConfig(c.env);
  const cohort = config.cohorts.find((k) => k.id === c.req.param("id"));
  if (!cohort) throw fail(404, "not_found", `no cohort ${JSON.stringify(c.req.param("id").slice(0, 40))}`);
  const query = historyQuery.safeParse(c.req.query());
  if (!query.success) throw fail(400, "invalid_request", describeIssues(query.error));
  const now = Date.now();
  // A cohort that has not opened has no line yet: its shards are not woken to say so.
  const shards = cohortIsOpen(cohort, now)
    ? await Promise.all(Array.from({ length: config.shards }, (_, shard) => callShard(() => shardStub(c.env, { cohort: cohort.id, shard }).history(query.data.minutes))))
    : [];
  c.header("cache-control", "no-store");
  return c.json({ cohort: cohort.id, at: new Date(now).toISOString(), policy: cohortPolicy(config, cohort.id), minutes: sumShards(shards) } satisfies CohortHistory);
});

/** The shards' minutes added up; the cohort's median wait is the admitted-weighted median of the shards' medians. */
export function sumShards(shards: ShardMinute[][]): CohortMinute[] {
  const byMinute = new Map<number, ShardMinute[]>();
  for (const minutes of shards) for (const m of minutes) byMinute.set(m.minute, [...(byMinute.get(m.minute) ?? []), m]);
  const sorted = [...byMinute.entries()].sort(([a], [b]) => a - b);
  const sum = (ms: ShardMinute[], pick: (m: ShardMinute) => number) => ms.reduce((a, m) => a + pick(m), 0);
  const admitted = sorted.map(([, ms]) => sum(ms, (m) => m.admitted));
  return sorted.map(([minute, ms], i) => {
    const complete = i < sorted.length - 1;
    const window = admitted.slice(Math.max(0, i - PACE_MINUTES + 1), i + 1);
    return {
      at: new Date(minute * 60_000).toISOString(),
      joined: sum(ms, (m) => m.joined),
      admitted: admitted[i]!,
      waiting: sum(ms, (m) => m.waiting),
      active: sum(ms, (m) => m.active),
      activeMax: sum(ms, (m) => m.activeMax),
      pace: complete ? window.reduce((a, n) => a + n, 0) / window.length : null,
      medianWaitSeconds: weightedMedian(ms.flatMap((m) => (m.medianWaitMs === null ? [] : [{ value: m.medianWaitMs / 1000, weight: m.admitted }]))),
    };
  });
}

/**
 * Shards take citizens by a uniform hash and admit at equal rates, so their waits are alike: the median of
 * their medians, weighted by how many each admitted, stands for the cohort's without shipping every wait.
 */
function weightedMedian(values: Array<{ value: number; weight: number }>): number | null {
  const total = values.reduce((a, v) => a + v.weight, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const v of [...values].sort((a, b) => a.value - b.value)) {
    seen += v.weight;
    if (seen >= total / 2) return Math.round(v.value);
  }
  return null;
}

/**
 * The autopilot's side of a cohort (src/edge/origin-health/autopilot.ts): the configured rate against the rate in force,
 * summed over the shards; the origin's health as its shards' citizens met it (the failed share of the
 * shards' last decisions, weighted by their samples' count in memory, and the worst shard's p95 latency);
 * and the most recent reason any shard's rate changed.
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
