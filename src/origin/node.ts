import type { IncomingMessage, ServerResponse } from "node:http";
import { originFetch } from "./app.js";
import { ConfigError, parseOriginConfig } from "./config.js";
import { openDatabase } from "./db/connect.js";
import { serveOrigin } from "./node-server.js";
import { nodeSignatureCheck } from "./node-signature.js";
import { createCredentialVerifier } from "./pass-verifier.js";
import { seedIfEmpty } from "./seed.js";

/** How long requests in flight may take to finish after SIGINT/SIGTERM before the origin stops anyway. */
const DRAIN_MS = 5_000;

/** `npm run origin`: migrate, seed an empty database, serve on PORT (8788) until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const config = parseOriginConfig(process.env);
  const connection = await openDatabase(config);
  const where = config.databaseUrl === undefined ? `embedded PGlite in ${config.pgliteDir ?? ".data/pglite"}` : "DATABASE_URL (Neon driver)";
  await connection.migrate();
  const seeded = await seedIfEmpty(connection.db);
  console.log(`origin: database: ${where}${seeded ? `, seeded ${seeded.clinics} clinics and ${seeded.slots} slots` : ""}`);
  console.log(
    `origin: passes from ${config.passes.keys.kind === "remote" ? config.passes.keys.url : "PASS_JWKS"}` +
      ` (issuer ${config.passes.issuer}, audience ${config.passes.audience}, living at most ${config.passes.passTtlSeconds} s)`,
  );

  const origin = originFetch({
    database: () => ({ db: connection.db }),
    verifyCredential: createCredentialVerifier({ ...config.passes, signatureCheck: nodeSignatureCheck }),
    dbTimeoutMs: config.dbTimeoutMs,
  });
  // serveOrigin answers what Node's parser refuses (431, 400, CONNECT) in the error shape, too.
  const server = serveOrigin(origin, { port: config.port, hostname: "127.0.0.1" }, (info) => {
    console.log(`origin: listening on http://127.0.0.1:${info.port}`);
  });

  let stopping = false;
  // While draining, an answer closes its connection behind it: a kept-alive connection that carried a
  // request in flight would otherwise stay open, idle, until its keep-alive timeout and hold the drain
  // (server.close closes only the connections idle when it is called). `Connection: close` tells the
  // client (the edge) not to send another request on it; closing idle connections after each answer
  // covers answers whose headers were already on their way.
  const inFlight = new Set<ServerResponse>();
  server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    if (stopping) res.setHeader("connection", "close");
    res.once("finish", () => {
      inFlight.delete(res);
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
    res.once("close", () => inFlight.delete(res));
  });
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`origin: ${signal}, answering the requests in flight (up to ${DRAIN_MS / 1000} s)`);
    for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
    // Close the listener first, and the database only once every request has its answer.
    server.close(() => {
      connection.close().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error("origin: closing the database failed:", err);
          process.exit(1);
        },
      );
    });
    setTimeout(() => {
      console.error(`origin: not stopped within ${DRAIN_MS / 1000} s (requests in flight: ${inFlight.size}); stopping anyway`);
      process.exit(1);
    }, DRAIN_MS).unref();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
