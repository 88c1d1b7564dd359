import { serve } from "@hono/node-server";
import { createOriginApp } from "./app.js";
import { OriginConfigError, parseOriginConfig } from "./config.js";
import { openDatabase } from "./db/connect.js";
import { createPassVerifier } from "./pass-verifier.js";
import { seedIfEmpty } from "./seed.js";

/** `npm run origin`: migrate, seed an empty database, serve on PORT (8788) until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const config = parseOriginConfig(process.env);
  const connection = await openDatabase(config);
  const where = config.databaseUrl === undefined ? `embedded PGlite in ${config.pgliteDir ?? ".data/pglite"}` : "DATABASE_URL (Neon driver)";
  await connection.migrate();
  const seeded = await seedIfEmpty(connection.db);
  console.log(`origin: database: ${where}${seeded ? `, seeded ${seeded.clinics} clinics and ${seeded.slots} slots` : ""}`);
  console.log(
    `origin: passes from ${config.passKeys.kind === "remote" ? config.passKeys.url : "PASS_JWKS"}` +
      ` (issuer ${config.passIssuer}, audience ${config.passAudience}, living at most ${config.passTtlSeconds} s)`,
  );

  const app = createOriginApp({
    database: () => ({ db: connection.db }),
    verifyPass: createPassVerifier({ keys: config.passKeys, issuer: config.passIssuer, audience: config.passAudience, passTtlSeconds: config.passTtlSeconds }),
    dbTimeoutMs: config.dbTimeoutMs,
  });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: "127.0.0.1" }, (info) => {
    console.log(`origin: listening on http://127.0.0.1:${info.port}`);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`origin: ${signal}, stopping`);
    // Close the listener first so no request starts on a database that is closing.
    server.close(() => {
      connection.close().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error("origin: closing the database failed:", err);
          process.exit(1);
        },
      );
    });
    // Keep-alive connections can hold `close` open; do not let them hold the process.
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(err instanceof OriginConfigError ? err.message : err);
  process.exit(1);
});
