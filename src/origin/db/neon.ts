import { Pool, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import { DRIZZLE_OPTIONS } from "./database.js";

/**
 * Points the Neon driver at a WebSocket-to-TCP bridge, for a plain PostgreSQL server (a developer's or
 * the test machine's) rather than Neon, which speaks WebSocket itself. The bridge is local and plain,
 * so no TLS, and the pipelining shortcuts that only Neon's proxy understands are off.
 * `neonConfig` is process-wide in the driver, so this is called once, at start.
 */
export function useNeonWsProxy(hostPort: string): void {
  neonConfig.wsProxy = (host, port) => `${hostPort}/v2?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

export interface NeonPoolOptions {
  /** Bounds the wait for a connection, so a stalled network fails instead of queueing forever. */
  connectionTimeoutMs: number;
  max?: number;
}

/** A Pool over WebSocket, so that interactive transactions work (neon-http has none). */
export function openNeonPool(url: string, options: NeonPoolOptions): { db: NeonDatabase; pool: Pool } {
  const pool = new Pool({
    connectionString: url,
    connectionTimeoutMillis: options.connectionTimeoutMs,
    max: options.max ?? 10,
  });
  // An idle connection that dies emits 'error' on the pool; unheard, that event would end the process.
  pool.on("error", (err: Error) => console.error("origin: idle database connection failed:", err.message));
  return { db: drizzle({ client: pool, ...DRIZZLE_OPTIONS }), pool };
}
