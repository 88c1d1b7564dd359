import { Hono } from "hono";
import { slotsQuery, type SlotsQuery } from "../../contract/booking.js";
import { withinBudget } from "../db/database.js";
import type { OriginDeps, OriginEnv } from "../env.js";
import { ApiError } from "../errors.js";
import { listSlots } from "../slot-store.js";

/**
 * `GET /api/slots?region=&date=`. The origin asks for no pass here: only the edge's gate, which lets pass
 * holders through, reaches it, and seeing slots books nothing.
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
