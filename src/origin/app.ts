import { Hono } from "hono";
import type { OriginDeps, OriginEnv } from "./env.js";
import { answerError, answerNotFound } from "./errors.js";
import { bookingRoutes } from "./routes/bookings.js";
import { slotRoutes } from "./routes/slots.js";

export type { OriginDeps, OriginEnv } from "./env.js";

/**
 * The booking origin: builds the Hono app and nothing else, so the Node server, a Worker and the tests
 * all run the very same app. It uses no Node-only API.
 */
export function createOriginApp(deps: OriginDeps): Hono<OriginEnv> {
  const app = new Hono<OriginEnv>();
  app.use("/api/*", async (c, next) => {
    const { db, done } = deps.database(c);
    c.set("db", db);
    try {
      await next();
    } finally {
      done?.();
    }
  });
  app.route("/api/slots", slotRoutes(deps));
  app.route("/api/bookings", bookingRoutes(deps));
  app.notFound(answerNotFound);
  app.onError(answerError);
  return app;
}
