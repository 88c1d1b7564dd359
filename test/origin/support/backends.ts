import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { inject } from "vitest";
import type { Database } from "../../../src/origin/db/database.js";
import { openNeon, openPglite, type DatabaseConnection } from "../../../src/origin/db/connect.js";

/**
 * The databases every origin suite runs against: an in-memory PGlite always, and the PostgreSQL server
 * named by TEST_DATABASE_URL (through the Neon driver and the bridge) when that is set. Each `open()` is
 * a new, empty, migrated database, so test files never share state and may run in parallel.
 */
export interface TestDatabase {
  db: Database;
  close(): Promise<void>;
}

export interface Backend {
  name: "pglite" | "postgres";
  open(options?: { poolSize?: number }): Promise<TestDatabase>;
}

export function bridgeAddress(): string {
  return `127.0.0.1:${inject("neonBridgePort")}`;
}

/** A Neon-driver connection through the test bridge (for the server, or for a deliberately dead address). */
export function openThroughBridge(url: string, options: { connectionTimeoutMs: number; poolSize?: number }): DatabaseConnection {
  return openNeon(url, {
    wsProxy: bridgeAddress(),
    connectionTimeoutMs: options.connectionTimeoutMs,
    ...(options.poolSize === undefined ? {} : { max: options.poolSize }),
  });
}

const pglite: Backend = {
  name: "pglite",
  async open() {
    const connection = await openPglite(undefined);
    await connection.migrate();
    return connection;
  },
};

function postgres(serverUrl: string): Backend {
  return {
    name: "postgres",
    async open(options = {}) {
      // A database per open: drizzle-kit qualifies foreign keys with "public", so a schema per test
      // file would not isolate; a database does, and WITH (FORCE) drops it even if a socket lingers.
      const name = `origin_test_${randomUUID().replaceAll("-", "")}`;
      const admin = openThroughBridge(serverUrl, { connectionTimeoutMs: 10_000, poolSize: 1 });
      await admin.db.execute(sql.raw(`create database "${name}"`));
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      const connection = openThroughBridge(url.toString(), { connectionTimeoutMs: 10_000, poolSize: options.poolSize ?? 10 });
      try {
        await connection.migrate();
      } catch (err) {
        await connection.close();
        await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`));
        await admin.close();
        throw err;
      }
      return {
        db: connection.db,
        async close() {
          await connection.close();
          await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`));
          await admin.close();
        },
      };
    },
  };
}

const serverUrl = process.env.TEST_DATABASE_URL;
export const backends: Backend[] = serverUrl ? [pglite, postgres(serverUrl)] : [pglite];
