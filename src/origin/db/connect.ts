import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { neonConfig } from "@neondatabase/serverless";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migrateNeon } from "drizzle-orm/neon-serverless/migrator";
import ws from "ws";
import { DRIZZLE_OPTIONS, type Database } from "./database.js";
import { openNeonPool, useNeonWsProxy } from "./neon.js";

// Node-only: reads migrations from disk and opens sockets. The Worker entry uses ./neon.ts alone.

/** The committed SQL from drizzle-kit, found from this file so the working directory does not matter. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../../migrations", import.meta.url));
/** Where `npm run origin` keeps its embedded database when DATABASE_URL is unset (git-ignored). */
export const DEFAULT_PGLITE_DIR = fileURLToPath(new URL("../../../.data/pglite", import.meta.url));

export interface DatabaseConnection {
  db: Database;
  driver: "pglite" | "neon";
  /** Applies the migrations in ./migrations that this database has not seen yet. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** An embedded PGlite database: in memory when `dataDir` is undefined, else persisted there. */
export async function openPglite(dataDir: string | undefined): Promise<DatabaseConnection> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const client = dataDir ? new PGlite(dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite({ client, ...DRIZZLE_OPTIONS });
  return {
    db,
    driver: "pglite",
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER }),
    close: () => client.close(),
  };
}

export interface NeonConnectionOptions {
  /** host:port of a WebSocket-to-TCP bridge, for a PostgreSQL server that is not Neon. */
  wsProxy?: string | undefined;
  connectionTimeoutMs: number;
  max?: number;
}

/** A Postgres server through `drizzle-orm/neon-serverless` and the driver's WebSocket Pool. */
export function openNeon(url: string, options: NeonConnectionOptions): DatabaseConnection {
  // Node 20 has no global WebSocket; the driver takes a constructor.
  neonConfig.webSocketConstructor = ws;
  if (options.wsProxy) useNeonWsProxy(options.wsProxy);
  const { db, pool } = openNeonPool(url, {
    connectionTimeoutMs: options.connectionTimeoutMs,
    ...(options.max === undefined ? {} : { max: options.max }),
  });
  return {
    db,
    driver: "neon",
    migrate: () => migrateNeon(db, { migrationsFolder: MIGRATIONS_FOLDER }),
    close: () => pool.end(),
  };
}

/** One code path for both drivers: DATABASE_URL picks the Neon driver, its absence the embedded PGlite. */
export async function openDatabase(config: {
  databaseUrl: string | undefined;
  pgliteDir?: string | undefined;
  neonWsProxy: string | undefined;
  dbTimeoutMs: number;
}): Promise<DatabaseConnection> {
  if (config.databaseUrl === undefined) return openPglite(config.pgliteDir ?? DEFAULT_PGLITE_DIR);
  return openNeon(config.databaseUrl, { wsProxy: config.neonWsProxy, connectionTimeoutMs: config.dbTimeoutMs });
}
