import type { Env, Hono, MiddlewareHandler } from "hono";
import type { RouterRoute } from "hono/types";
import { matchedRoutes } from "hono/route";
import { fail } from "./errors.js";

/**
 * Hono answers a path it knows, asked with a method it does not, exactly as an unknown path: the not-found
 * handler runs. HTTP says that is a 405 naming the methods that would work (`Allow`), and a client that
 * sees one knows it has the right address. This middleware, installed first, gives that answer from the
 * app's own routing table, so a route added later (a PATCH, say) is allowed without touching it.
 */

// The methods worth naming in `Allow`; any other method a client invents is simply not among them.
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** A handler, not middleware (which `use` registers for "ALL"). */
function isHandler(route: RouterRoute): boolean {
  return route.method !== "ALL";
}

/** True when `app` has a handler for `method` at `path`. */
function hasRoute<E extends Env>(app: Hono<E>, method: string, path: string): boolean {
  const [matched] = app.router.match(method, path);
  return matched.some(([[, route]]) => isHandler(route));
}

/** The methods `app` answers at `path` (HEAD wherever GET is, as Hono answers HEAD with the GET route). */
export function allowedMethods<E extends Env>(app: Hono<E>, path: string): string[] {
  const allowed: string[] = [];
  for (const method of METHODS) {
    if (hasRoute(app, method, path)) allowed.push(method);
    if (method === "GET" && allowed.includes("GET")) allowed.push("HEAD");
  }
  return allowed;
}

/** 405 `method_not_allowed` with `Allow` for a known path asked with a method it does not answer. */
export function refuseWrongMethods<E extends Env>(app: Hono<E>): MiddlewareHandler<E> {
  return async (c, next) => {
    // The routes Hono matched for this request (HEAD is routed as GET), so nothing is matched twice: a
    // handler among them means the method is right, whatever else (middleware) matched too.
    if (!matchedRoutes(c).some(isHandler)) {
      const allowed = allowedMethods(app, c.req.path);
      if (allowed.length > 0) {
        const allow = allowed.join(", ");
        throw fail(405, "method_not_allowed", `${c.req.method} is not allowed here; use ${allow}`, { headers: { allow } });
      }
    }
    await next();
  };
}
