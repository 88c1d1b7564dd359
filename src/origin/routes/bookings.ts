import { Hono } from "hono";
import { bookingChange } from "../../contract/booking.js";
import { cancelBooking, liveBooking, moveBooking } from "../booking-store.js";
import { withinBudget } from "../db/database.js";
import type { OriginDeps, OriginEnv } from "../env.js";
import { ApiError } from "../errors.js";
import { answerBooking } from "./book.js";
import { citizenOf } from "./pass.js";
import { jsonBody } from "../../http/json-body.js";

/**
 * `/api/bookings`: behind the app's credential check; the citizen and cohort come from the credential,
 * never from the body. A pass may do everything here; booking access (scope `booking:manage`) reads,
 * moves and cancels the citizen's booking, and is refused a new one (403 insufficient_scope).
 */
export function bookingRoutes(deps: OriginDeps): Hono<OriginEnv> {
  const bounded = <T>(operation: () => Promise<T>) => withinBudget(deps.dbTimeoutMs, operation);
  const notFound = () => new ApiError(404, "booking_not_found", "no such booking of yours in this cohort");

  return new Hono<OriginEnv>()
    // Answered ahead of the app as a rule (routes/book.ts); the same answer when a request reaches the app.
    .post("/", (c) => answerBooking(c.req.raw, c.var.credential, c.var.db, deps.dbTimeoutMs))
    .get("/me", async (c) => {
      const { sub, cohort } = citizenOf(c.var.credential);
      const booking = await bounded(() => liveBooking(c.var.db, sub, cohort));
      if (!booking) throw notFound();
      return c.json({ booking });
    })
    .patch("/:id", async (c) => {
      const { slotId } = await jsonBody(c, bookingChange);
      const outcome = await bounded(() => moveBooking(c.var.db, citizenOf(c.var.credential), c.req.param("id"), slotId));
      switch (outcome.kind) {
        case "moved":
        case "unchanged":
          return c.json({ booking: outcome.booking }, 200);
        case "not_found":
          throw notFound();
        case "cancelled":
          throw new ApiError(409, "booking_cancelled", "this booking was cancelled; book a slot instead", { booking: outcome.booking });
        case "slot_full":
          throw new ApiError(409, "slot_full", "this slot has no seats left; your booking is unchanged");
        case "slot_not_found":
          throw new ApiError(404, "not_found", "no such slot; your booking is unchanged");
      }
    })
    .delete("/:id", async (c) => {
      const id = c.req.param("id");
      const outcome = await bounded(() => cancelBooking(c.var.db, citizenOf(c.var.credential), id));
      if (outcome.kind === "not_found") throw notFound();
      return c.json({ booking: outcome.booking });
    });
}
