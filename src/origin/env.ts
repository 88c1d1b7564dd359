import type { Database } from "./db/database.js";
import type { Credential, CredentialVerifier } from "./pass-verifier.js";

/** What a request's handlers can read: the database handle and, behind the credential check, the credential. */
export type OriginEnv = { Variables: { db: Database; credential: Credential } };

/** Hands the runtime work that may finish after the answer is sent (a Worker's `ctx.waitUntil`). */
export type Background = (work: Promise<unknown>) => void;

/** Everything the app needs from outside; the Node and Worker entries each build one. */
export interface OriginDeps {
  /**
   * The database for one request. On Node this is one long-lived pool; a Worker opens a Pool per
   * request (a WebSocket cannot outlive the request that opened it) and ends it in `done`, handing the
   * ending to `background` so the answer need not wait for it.
   */
  database: (background: Background) => { db: Database; done?: () => void };
  verifyCredential: CredentialVerifier;
  /** Bound on each database operation before the client gets a retryable 503. */
  dbTimeoutMs: number;
  /** The clock, for "slots from now on"; tests may fix it. */
  now?: () => Date;
}

/** Runs `work` with the request's database handle, and lets the handle go (`done`) however `work` ends. */
export async function withDatabase<T>(deps: OriginDeps, background: Background, work: (db: Database) => Promise<T>): Promise<T> {
  const { db, done } = deps.database(background);
  try {
    return await work(db);
  } finally {
    done?.();
  }
}
