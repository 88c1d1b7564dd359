import type { CohortMinute } from "../../contract/ops.js";
import type { ShardMinute } from "../shard/history.js";
import { PACE_MINUTES } from "../shard/snapshot.js";

/**
 * A cohort's recent history as operators see it (`GET /api/ops/cohorts/{id}/history`): the minutes each of
 * its shards keeps, added up minute by minute. Pure: the route fetches the shards' minutes.
 */

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
      departed: sum(ms, (m) => m.departed),
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
