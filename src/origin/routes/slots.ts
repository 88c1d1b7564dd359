import { Hono } from "hono";
import { slotDatesQuery, slotsQuery, type SlotsQuery } from "../../contract/booking.js";
import { withinBudget } from "../db/database.js";
import type { OriginDeps, OriginEnv } from "../env.js";
import { badQuery } from "../../http/errors.js";
import { listSlotDates, listSlots } from "../slot-store.js";

/**
 * `GET /api/slots?region=&date=` and `GET /api/slots/dates?region=`, behind the app's pass check like
 * every route: the edge reads each about once a second per query and location, with the pass of the
 * citizen whose request refreshed its cache, and nobody else reaches them.
 */
export function slotRoutes(deps: OriginDeps): Hono<OriginEnv> {
  const now = deps.now ?? (() => new Date());
  return new Hono<OriginEnv>()
    .get("/", async (c) => {
      const parsed = slotsQuery.safeParse(c.req.query());
      if (!parsed.success) throw badQuery(parsed.error);
      const query: SlotsQuery = parsed.data;
      const slots = await withinBudget(deps.dbTimeoutMs, () => listSlots(c.var.db, query, now()));
      return c.json({ slots });
    })
    .get("/dates", async (c) => {
      const parsed = slotDatesQuery.safeParse(c.req.query());
      if (!parsed.success) throw badQuery(parsed.error);
      const dates = await withinBudget(deps.dbTimeoutMs, () => listSlotDates(c.var.db, parsed.data, now()));
      return c.json({ dates });
    });
}
