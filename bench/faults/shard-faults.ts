/**
 * Scenarios 4 and 6: faults inside the edge's QueueShard objects, injected through the test Worker's hook
 * (test/workers/fault-routes.ts; these scenarios run the edge from wrangler.test.toml, the production
 * Worker has no hook; the machine's clock is never touched). Joins arrive and passes are claimed throughout.
 */
import { z } from "zod";
import type { Harness, ScenarioContext, ScenarioSpec } from "./harness.js";
import { call } from "./http.js";
import { sleep } from "./stack.js";

const COHORT = "55-59";
const SHARDS = 4;
/** The edge these scenarios run (scripts/edge.ts): the test Worker, which mounts the fault hook. */
const TEST_WORKER = { EDGE_WRANGLER_CONFIG: "wrangler.test.toml" };
const hookAnswer = z.object({ cohort: z.string(), shard: z.number(), shardNow: z.string().optional(), evicted: z.boolean().optional() });

/** Calls the hook on every shard of the cohort at once; the answers that came back. */
async function everyShard(h: Harness, action: "evict" | "clock", body?: unknown): Promise<Array<z.infer<typeof hookAnswer>>> {
  const answers = await Promise.all(
    Array.from({ length: SHARDS }, async (_, shard) => {
      // The hook's own requests are counted apart: they are the suite's, not a citizen's. One that got no
      // answer (a kept-alive connection the edge closed as it was reused) is sent again, twice at most.
      for (let attempt = 1; ; attempt++) {
        const answer = await call(h.hookTally, `${h.stack.edge}/__faults/shards/${COHORT}/${shard}/${action}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (answer.ok || attempt === 3) return answer;
      }
    }),
  );
  const ok: Array<z.infer<typeof hookAnswer>> = [];
  for (const a of answers) {
    const parsed = a.ok && a.status === 200 ? hookAnswer.safeParse(a.json) : undefined;
    if (parsed?.success) ok.push(parsed.data);
    else h.fail(`the fault hook ${action} answered ${a.ok ? `${a.status} ${a.text.slice(0, 120)}` : a.cause}`);
  }
  return ok;
}

export function eviction(ctx: ScenarioContext): ScenarioSpec {
  const rounds = ctx.quick ? 6 : 20;
  return {
    name: "eviction",
    title: "Durable Objects evicted with joins and claims in flight",
    item: 4,
    fault: `every shard of the cohort reset (ctx.abort(), as an eviction) ${rounds} times, about a second apart, while citizens join and claim passes`,
    database: "pglite",
    env: { ...TEST_WORKER, ADMIT_PER_MINUTE: "1200" },
    // Arrivals spread over the evictions, so joins are in flight when each one lands.
    crowd: { citizens: ctx.quick ? 150 : 400, arrivalMs: rounds * 1_000 },
    async run(h) {
      await h.until(() => h.crowd.counts().joined >= 20, 30_000);
      for (let round = 1; round <= rounds; round++) {
        const evicted = await everyShard(h, "evict");
        if (round === 1 || round === rounds) h.event(`round ${round}: ${evicted.length} shards evicted; ${h.crowd.counts().joined} joined, ${h.crowd.counts().admitted} admitted`);
        await sleep(700 + (round % 3) * 200);
      }
      await sleep(ctx.quick ? 3_000 : 6_000);
    },
  };
}

export function clockJumps(ctx: ScenarioContext): ScenarioSpec {
  // Backwards far, forwards less than the claim window (900 s here), so a jump alone never lapses an
  // admission: what is measured is whether the line and passes survive the jumps, not the window.
  const offsets = ctx.quick ? [60_000, -300_000, 30_000, -60_000, 0] : [60_000, -300_000, 120_000, -30_000, -600_000, 30_000, 0];
  const holdMs = ctx.quick ? 2_500 : 5_000;
  return {
    name: "clock",
    title: "Shard clocks jump backwards and forwards",
    item: 6,
    fault: `every shard's clock set to ${offsets.map((o) => `${o >= 0 ? "+" : ""}${o / 1000} s`).join(", ")} from the runtime's, ${holdMs / 1000} s each, through the objects' clock hook`,
    database: "pglite",
    env: { ...TEST_WORKER, ADMIT_PER_MINUTE: "600" },
    crowd: { citizens: ctx.quick ? 150 : 300, arrivalMs: offsets.length * holdMs },
    async run(h) {
      await h.until(() => h.crowd.counts().joined >= 20, 30_000);
      for (const offsetMs of offsets) {
        const set = await everyShard(h, "clock", { offsetMs });
        const now = Date.now();
        // The hook answers with the shard's own idea of now: it must be the runtime's plus the offset.
        const off = set.filter((a) => a.shardNow === undefined || Math.abs(Date.parse(a.shardNow) - (now + offsetMs)) > 5_000);
        if (off.length) h.fail(`the clock hook did not move ${off.length} shards by ${offsetMs} ms`);
        h.event(`shard clocks ${offsetMs >= 0 ? "+" : ""}${offsetMs / 1000} s; ${h.crowd.counts().admitted} admitted, ${h.crowd.counts().booked} booked`);
        await sleep(holdMs);
      }
      const refused = h.crowd.citizens.reduce((n, c) => n + c.passRefused, 0);
      if (refused) h.event(`${refused} booking requests refused the pass (401) so far`);
      if (refused) h.note(`${refused} booking requests refused a pass (401) during the jumps: a pass claimed while a shard's clock ran ahead is "not valid yet" at the origin until real time catches up`);
      await sleep(ctx.quick ? 3_000 : 6_000);
    },
  };
}
