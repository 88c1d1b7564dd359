import { originFetch, type OriginFetch } from "./app.js";
import { parseOriginConfig } from "./config.js";
import { openNeonPool, useNeonWsProxy } from "./db/neon.js";
import { createCredentialVerifier } from "./pass-verifier.js";

/**
 * The origin as a Cloudflare Worker: the same fetch as on Node (`originFetch`: the booking ahead of the
 * same app), with the Neon driver over the runtime's own WebSocket. Migrations are not run here; apply
 * them from a machine (`DATABASE_URL=… npm run db:seed` migrates, then seeds only an empty database).
 */

let origin: OriginFetch | undefined;

// Built on the first request, since a Worker's bindings arrive with it; a bad binding fails that
// request (and every later one) with the binding's name in the log.
function originFor(env: Record<string, unknown>): OriginFetch {
  if (origin) return origin;
  const config = parseOriginConfig(env);
  const databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) throw new Error("DATABASE_URL: required on Workers (there is no embedded database)");
  if (config.neonWsProxy) useNeonWsProxy(config.neonWsProxy);
  origin = originFetch({
    // Neon's advice for Workers: a Pool per request, ended once the response is on its way, since a
    // WebSocket opened in one request cannot be used by the next.
    database: (background) => {
      const { db, pool } = openNeonPool(databaseUrl, { connectionTimeoutMs: config.dbTimeoutMs });
      return { db, done: () => background(pool.end()) };
    },
    // Module scope, so the edge's key set stays cached across requests in this isolate.
    verifyCredential: createCredentialVerifier(config.passes),
    dbTimeoutMs: config.dbTimeoutMs,
  });
  return origin;
}

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Response | Promise<Response> {
    return originFor(env)(request, env, ctx);
  },
};
