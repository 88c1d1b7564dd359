import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConnection } from "../../src/origin/db/connect.js";
import { createCredentialVerifier } from "../../src/origin/pass-verifier.js";
import { openThroughBridge } from "./support/backends.js";
import { AUDIENCE, ISSUER, makePassKeys, PASS_TTL_SECONDS, signPass, type PassKeys } from "./support/passes.js";
import { errorOf, postBooking, servedOrigin } from "./support/origin.js";

const DB_TIMEOUT_MS = 500;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** The origin on the Neon driver, pointed (through the real bridge) at a database that will not answer. */
function originOn(connection: DatabaseConnection, keys: PassKeys) {
  return servedOrigin({
    database: () => ({ db: connection.db }),
    verifyCredential: createCredentialVerifier({ keys: { kind: "inline", jwks: keys.jwks }, issuer: ISSUER, audience: AUDIENCE, passTtlSeconds: PASS_TTL_SECONDS }),
    dbTimeoutMs: DB_TIMEOUT_MS,
  });
}

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
  const error = await errorOf(res);
  expect(error.code).toBe("unavailable");
  expect(error.retryAfterSeconds).toBeGreaterThan(0);
}

describe("when the database cannot answer", () => {
  let keys: PassKeys;
  // Accepts connections and never says a word: a database that hangs.
  const stalled = createServer((socket) => sockets.add(socket));
  const sockets = new Set<Socket>();
  let stalledPort: number;
  let deadPort: number;
  const connections: DatabaseConnection[] = [];

  beforeAll(async () => {
    keys = await makePassKeys();
    stalledPort = await listen(stalled);
    const closed = createServer();
    deadPort = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
  });
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  });

  const connect = (port: number) => {
    const connection = openThroughBridge(`postgres://postgres@127.0.0.1:${port}/test`, {
      connectionTimeoutMs: DB_TIMEOUT_MS,
    });
    connections.push(connection);
    return connection;
  };

  it.each([
    ["unreachable", () => deadPort],
    ["stalled", () => stalledPort],
  ])("answers 503 unavailable, not a hang, when it is %s", async (_, port) => {
    const app = originOn(connect(port()), keys);

    await expectUnavailable(await app.request("/api/slots", { headers: { Authorization: `Bearer ${await signPass(keys)}` } }));
    await expectUnavailable(await postBooking(app, await signPass(keys), { slotId: 1 }));
    await expectUnavailable(await app.request("/api/bookings/me", { headers: { Authorization: `Bearer ${await signPass(keys)}` } }));
  });
});
