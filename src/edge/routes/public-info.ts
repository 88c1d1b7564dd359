import { Hono } from "hono";
import type { CohortInfo, DrawInfo, ShardDrawInfo } from "../../contract/queue.js";
import { fail } from "../../http/errors.js";
import { cohortIsOpen, edgeConfig } from "../config.js";
import { cohortSeed, drawCommitment } from "../prequeue/draw.js";
import { publicJwks } from "../tokens/pass.js";
import { DRAW_ORDER } from "../prequeue/draw-order.js";
import { cohortDraws } from "../prequeue/published-draw.js";
import { cachedSnapshot } from "../queue/snapshot-cache.js";

/** What anyone may read: the pass-verification keys, the cohorts with their opening times, and their draws. */
export const publicInfoRoutes = new Hono<{ Bindings: Env }>();

publicInfoRoutes.get("/.well-known/jwks.json", async (c) => {
  const jwks = await publicJwks(edgeConfig(c.env));
  // Short enough that a rotation reaches origins within minutes; retired keys stay listed meanwhile.
  c.header("cache-control", "public, max-age=300");
  return c.json(jwks);
});

publicInfoRoutes.get("/api/cohorts", (c) => {
  const config = edgeConfig(c.env);
  const now = Date.now();
  const cohorts: CohortInfo[] = config.cohorts.map((co) => ({
    id: co.id,
    label: co.label,
    birthYears: co.birthYears,
    opensAt: co.opensAt,
    prequeueOpensAt: co.prequeueOpensAt,
    open: cohortIsOpen(co, now),
  }));
  c.header("cache-control", "public, max-age=10");
  return c.json({ cohorts });
});

/**
 * A cohort's pre-queue draw (src/edge/prequeue/draw.ts): from the pre-queue's start the commitment to the seed;
 * from the opening also the seed, each shard's draw values in place order with how many of each list have
 * been let in, and the rule that merges the lists into the cohort's one order (draw-order.ts). A cohort
 * without a pre-queue has no draw: 404, as for an unknown cohort, since there never will be one to wait
 * for. Before the pre-queue starts: 409 `cohort_not_open`, as joining is.
 */
publicInfoRoutes.get("/api/cohorts/:id/draw", async (c) => {
  const config = edgeConfig(c.env);
  const id = c.req.param("id");
  const cohort = config.cohorts.find((co) => co.id === id);
  if (!cohort) throw fail(404, "not_found", "no such cohort");
  if (cohort.prequeueOpensAt === undefined) throw fail(404, "not_found", `${cohort.label.en} has no pre-queue, so no draw`);
  const now = Date.now();
  if (now < Date.parse(cohort.prequeueOpensAt)) {
    throw fail(409, "cohort_not_open", `the pre-queue for ${cohort.label.en} opens at ${cohort.prequeueOpensAt}`, { opensAt: cohort.prequeueOpensAt, cohort: cohort.id });
  }
  const seed = await cohortSeed(config.drawSecret, cohort.id);
  const committed: DrawInfo = { cohort: cohort.id, prequeueOpensAt: cohort.prequeueOpensAt, opensAt: cohort.opensAt, commitment: await drawCommitment(seed) };
  const untilOpening = Date.parse(cohort.opensAt) - now;
  if (untilOpening > 0) {
    // The same until the opening, and then it must change at once: never cached past that moment.
    c.header("cache-control", `public, max-age=${Math.min(300, Math.floor(untilOpening / 1000))}`);
    return c.json(committed);
  }
  // The full lists, kept by the isolate once placed: this page is the published audit, so it needs every
  // value. A citizen's status does not use them (it keeps the lists' prefixes, draw-prefixes.ts).
  const draws = await cohortDraws(c.env, cohort.id, config.shards, now);
  const shards = await Promise.all(
    draws.map(async (draw, shard): Promise<ShardDrawInfo> => {
      const { snapshot } = await cachedSnapshot(c.env, { cohort: cohort.id, shard }, now);
      const admitted = Math.min(draw.values.length, Math.max(0, snapshot.serving - draw.firstSeq + 1));
      return { shard, placed: draw.placedAt !== null, firstSeq: draw.firstSeq, values: draw.values, admitted };
    }),
  );
  // The lists never change once placed; only how far admissions have come does.
  c.header("cache-control", shards.every((s) => s.placed) ? "public, max-age=10" : "no-store");
  return c.json({ ...committed, seed, order: DRAW_ORDER, shards } satisfies DrawInfo);
});
