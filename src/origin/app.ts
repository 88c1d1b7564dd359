import { Hono } from "hono";
import { limitBody } from "../http/json-body.js";
import { refuseWrongMethods } from "../http/wrong-method.js";
import type { OriginDeps, OriginEnv } from "./env.js";
import { answerError, answerNotFound } from "./errors.js";
import { bookingRoutes } from "./routes/bookings.js";
import { requireCredential } from "./routes/pass.js";
import { slotRoutes } from "./routes/slots.js";

export type { OriginDeps, OriginEnv } from "./env.js";

/**
 * The booking origin: builds the Hono app and nothing else, so the Node server, a Worker and the tests
 * all run the very same app. It uses no Node-only API.
 */
export function createOriginApp(deps: OriginDeps): Hono<OriginEnv> {
  const app = new Hono<OriginEnv>();
  // First, so a wrong method is a 405 before a database handle is opened or a pass verified.
  app.use(refuseWrongMethods(app));
  // A declared body over the limit (or a malformed Content-Length) is refused before a pass is verified;
  // the routes read bodies through the same limit, counting the bytes as they arrive.
  app.use(limitBody);
  // The origin trusts only the edge: every route asks for a pass (or booking access) the edge signed,
  // slot reads included, and checks it before a database handle is opened, so requests that did not come
  // through the edge's gate cost a signature check and nothing more. ("/api/slots/*" covers "/api/slots".)
  const passCheck = requireCredential(deps);
  app.use("/api/slots/*", passCheck).use("/api/bookings/*", passCheck);
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
