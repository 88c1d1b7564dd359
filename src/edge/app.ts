import { Hono } from "hono";
import { getPath } from "hono/utils/url";
import { answerAhead } from "../http/answer-ahead.js";
import { limitBody } from "../http/json-body.js";
import { refuseWrongMethods } from "../http/wrong-method.js";
import { errorAnswer, notFound, onError } from "./errors.js";
import { LOGIN_PATH, operatorLogin, requireOperator } from "./operators/operator-auth.js";
import { apiDocsRoutes } from "./routes/api-docs.js";
import { authRoutes } from "./routes/auth.js";
import { bookingGate } from "./routes/booking-gate.js";
import { opsPage } from "./routes/ops-page.js";
import { opsRoutes } from "./routes/ops.js";
import { publicInfoRoutes } from "./routes/public-info.js";
import { pushRoutes } from "./routes/push.js";
import { queueRoutes } from "./routes/queue.js";
import { QUEUE_JOIN_PATH, queueJoin } from "./routes/queue-join.js";
import { QUEUE_STATUS_PATH, queueStatus } from "./routes/queue-status.js";

/** The edge Worker's HTTP surface. Static files (public/) are served before this app is reached. */
export function createEdgeApp() {
  const app = new Hono<{ Bindings: Env }>();
  // The status poll, the busiest route by far, before the app-wide middleware it does not need; `edgeFetch`
  // answers most polls before this app is reached (routes/queue-status.ts).
  app.get(QUEUE_STATUS_PATH, (c) => queueStatus(c.req.raw, c.env, (work) => c.executionCtx.waitUntil(work)));
  // First, so a wrong method is a 405 before any route's middleware (a pass check, a body limit) runs.
  app.use(refuseWrongMethods(app));
  // A declared body over the limit (or a malformed Content-Length) is refused before any route's work.
  app.use(limitBody);
  app.route("/api/queue", queueRoutes);
  app.route("/", pushRoutes);
  app.route("/auth", authRoutes);
  // Operators only: the console, its files and its API, before any of their routes run.
  app.use("/api/ops/*", requireOperator("api"));
  app.use("/ops", requireOperator("page"));
  app.use("/ops/*", requireOperator("page"));
  app.get(LOGIN_PATH, operatorLogin);
  app.route("/api/ops", opsRoutes);
  app.route("/", opsPage);
  app.route("/", publicInfoRoutes);
  // The API described from the contract: /api/openapi.json and its reference page, /api/docs.
  app.route("/", apiDocsRoutes);
  app.route("/", bookingGate);
  app.notFound(notFound);
  app.onError(onError);
  return app;
}

type EdgeApp = ReturnType<typeof createEdgeApp>;

/**
 * The Worker's fetch for `app`. The surge's two routes, the status poll (routes/queue-status.ts) and the
 * join (routes/queue-join.ts), are answered ahead of the app, by method and by the path as Hono reads it;
 * anything else by the app.
 */
export function edgeFetch(app: EdgeApp): (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response> {
  return (request, env, ctx) => {
    const method = request.method;
    if (method === "GET" || method === "POST") {
      const path = getPath(request);
      if (method === "GET" && path === QUEUE_STATUS_PATH) return answerAhead(request, queueStatus(request, env, (work) => ctx.waitUntil(work)), errorAnswer);
      if (method === "POST" && path === QUEUE_JOIN_PATH) return answerAhead(request, queueJoin(request, env), errorAnswer);
    }
    return app.fetch(request, env, ctx);
  };
}
