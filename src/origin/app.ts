import { Hono } from "hono";
import { getPath } from "hono/utils/url";
import { answerAhead } from "../http/answer-ahead.js";
import { limitBody } from "../http/json-body.js";
import { refuseWrongMethods } from "../http/wrong-method.js";
import { withDatabase, type Background, type OriginDeps, type OriginEnv } from "./env.js";
import { answerError, answerNotFound, errorAnswer } from "./errors.js";
import { book, BOOKINGS_PATH } from "./routes/book.js";
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
  app.use("/api/*", (c, next) =>
    withDatabase(deps, (work) => c.executionCtx.waitUntil(work), (db) => {
      c.set("db", db);
      return next();
    }),
  );
  app.route("/api/slots", slotRoutes(deps));
  app.route("/api/bookings", bookingRoutes(deps));
  app.notFound(answerNotFound);
  app.onError(answerError);
  return app;
}

/** The origin's fetch, as the Node server and the Worker call it; `ctx` only on Workers. */
export type OriginFetch = (request: Request, env?: unknown, ctx?: ExecutionContext) => Response | Promise<Response>;

/**
 * The origin's fetch over `createOriginApp(deps)`. The booking (routes/book.ts), its one surge route, is
 * answered ahead of the app, by method and by the path as Hono reads it; anything else by the app.
 */
export function originFetch(deps: OriginDeps): OriginFetch {
  const app = createOriginApp(deps);
  return (request, env, ctx) => {
    if (request.method === "POST" && getPath(request) === BOOKINGS_PATH) return answerAhead(request, book(request, deps, backgroundOf(ctx)), errorAnswer);
    return app.fetch(request, env, ctx);
  };
}

/** Where `done` hands its work, as the app's `c.executionCtx` would: only a Worker has an ExecutionContext. */
function backgroundOf(ctx: ExecutionContext | undefined): Background {
  return (work) => {
    if (!ctx) throw new Error("This context has no ExecutionContext");
    ctx.waitUntil(work);
  };
}
