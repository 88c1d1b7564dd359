import { Hono } from "hono";
import { slotsQuery, type SlotsQuery } from "../../contract/booking.js";
import { withinBudget } from "../db/database.js";
import type { OriginDeps, OriginEnv } from "../env.js";
import { ApiError } from "../errors.js";
import { listSlots } from "../slot-store.js";

/**
 * `GET /api/slots?region=&date=`, behind the app's pass check like every route: the edge reads it about
 * once a second per (region, date) and location, with the pass of the citizen whose request refreshed its
 * cache, and nobody else reaches it.
 */
export function slotRoutes(deps: OriginDeps): Hono<OriginEnv> {
  const now = deps.now ?? (() => new Date());
  return new Hono<OriginEnv>().get("/", async (c) => {
    const parsed = slotsQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
      throw new ApiError(400, "invalid_request", `bad query parameter: ${fields}`);
    }
    const query: SlotsQuery = parsed.data;
    const slots = await withinBudget(deps.dbTimeoutMs, () => listSlots(c.var.db, query, now()));
    return c.json({ slots });
  });
}
