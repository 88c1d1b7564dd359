import { Hono } from "hono";
import type { CohortInfo } from "../../contract/queue.js";
import { cohortIsOpen, edgeConfig } from "../config.js";
import { publicJwks } from "../passes.js";

/** What anyone may read: the pass-verification keys and the cohorts with their opening times. */
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
    open: cohortIsOpen(co, now),
  }));
  c.header("cache-control", "public, max-age=10");
  return c.json({ cohorts });
});
