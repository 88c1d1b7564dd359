import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOriginApp, originFetch, type OriginDeps } from "../../src/origin/app.js";
import { serveOrigin } from "../../src/origin/node-server.js";
import { createCredentialVerifier } from "../../src/origin/pass-verifier.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { errorOf } from "./support/origin.js";
import { AUDIENCE, ISSUER, makePassKeys, PASS_TTL_SECONDS, passClaimsFor, signPass, type PassKeys } from "./support/passes.js";

/**
 * The origin trusts only the edge: every route it serves, slot reads included, answers 401 without a pass
 * the edge signed, before a database handle is opened, on Node over HTTP as `npm start` runs it. The
 * routes are read from the app itself, so a route added without the pass check fails here.
 */

const SOME_BOOKING = "0b6f5c1e-8d3a-4f2b-9c7e-1a2b3c4d5e6f";

/** Every method and path the app answers (middleware excluded), with its parameters filled in. */
function routesOf(app: ReturnType<typeof createOriginApp>): Array<{ method: string; path: string }> {
  const seen = new Set<string>();
  const routes: Array<{ method: string; path: string }> = [];
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const path = route.path.replace(/:id\b/, SOME_BOOKING);
    const key = `${route.method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ method: route.method, path });
  }
  return routes;
}

describe.each(backends)("a request without the edge's pass ($name)", (backend) => {
  let database: TestDatabase;
  let keys: PassKeys;
  let app: ReturnType<typeof createOriginApp>;
  let server: Server;
  let base: string;
  /** Database handles the app opened: a refused request must open none. */
  let handles = 0;

  beforeAll(async () => {
    database = await backend.open();
    keys = await makePassKeys();
    const deps: OriginDeps = {
      database: () => {
        handles++;
        return { db: database.db };
      },
      verifyCredential: createCredentialVerifier({ keys: { kind: "inline", jwks: keys.jwks }, issuer: ISSUER, audience: AUDIENCE, passTtlSeconds: PASS_TTL_SECONDS }),
      dbTimeoutMs: 10_000,
    };
    // The routes are read from the app; the requests go where the Node entry sends them (the booking ahead of the app).
    app = createOriginApp(deps);
    server = await new Promise<Server>((resolve) => {
      const s = serveOrigin(originFetch(deps), { port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await database?.close();
  });

  it("is answered 401 invalid_token on every route, slot reads included, without touching the database", async () => {
    const routes = routesOf(app);
    // The routes the API has today, so that reading them from the app cannot quietly find none.
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      ["DELETE /api/bookings/" + SOME_BOOKING, "GET /api/bookings/me", "GET /api/slots", "GET /api/slots/dates", "PATCH /api/bookings/" + SOME_BOOKING, "POST /api/bookings"].sort(),
    );
    const forged = await signPass(await makePassKeys());
    const expired = await signPass(keys, passClaimsFor({ iat: 1_600_000_000, nbf: 1_600_000_000, exp: 1_600_000_900 }));
    const before = handles;
    for (const { method, path } of routes) {
      const body = method === "POST" || method === "PATCH" ? JSON.stringify({ slotId: 1 }) : undefined;
      const contentType: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
      for (const [what, authorization] of [
        ["no pass", undefined],
        ["a pass another key signed", `Bearer ${forged}`],
        ["an expired pass", `Bearer ${expired}`],
      ] as const) {
        const res = await fetch(`${base}${path}${path.startsWith("/api/slots") ? "?region=11" : ""}`, {
          method,
          headers: authorization === undefined ? contentType : { ...contentType, authorization },
          ...(body === undefined ? {} : { body }),
        });
        expect(res.status, `${method} ${path} with ${what}`).toBe(401);
        expect((await errorOf(res)).code).toBe("invalid_token");
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      }
    }
    expect(handles - before).toBe(0);
  });

  it("is served with a pass the edge signed", async () => {
    const res = await fetch(`${base}/api/slots?region=11`, { headers: { authorization: `Bearer ${await signPass(keys)}` } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });
});
