import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/**
 * The handle every query goes through. PGlite and the Neon Pool both produce one, so handlers, the seed
 * and the tests share one code path whatever the driver.
 */
export type Database = PgDatabase<PgQueryResultHKT>;

/** Options every `drizzle(...)` call passes, so the SQL names match the generated migrations. */
export const DRIZZLE_OPTIONS = { casing: "snake_case" } as const;

/** The database could not answer in time or at all; the client may retry. */
export class DatabaseUnavailable extends Error {
  override name = "DatabaseUnavailable";
}

/** The SQLSTATE of a Postgres error, looking through the wrappers drizzle and the drivers add. */
export function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code: unknown = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

// Connection exceptions, resource exhaustion, operator intervention (shutdown, statement timeout) and
// lost serialization races: the same request may well succeed a moment later.
const RETRYABLE_SQLSTATE = /^(08|53|57|40001|40P01)/;

function isUnavailability(err: unknown): boolean {
  if (err instanceof DatabaseUnavailable) return true;
  const state = sqlState(err);
  if (state !== undefined) return RETRYABLE_SQLSTATE.test(state);
  // No SQLSTATE: the connection itself failed (socket closed, WebSocket refused, pool timeout). A
  // programming error is not that, and must surface as a 500 to be fixed rather than retried.
  return !(err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof SyntaxError);
}

/**
 * Runs one database operation within `timeoutMs`. Past it, or when the connection fails, the caller gets
 * `DatabaseUnavailable` (a retryable 503) instead of a hang. The abandoned operation may still finish
 * later; every write is idempotent on the pass's `jti`, so the client's retry finds what it wrote.
 */
export async function withinBudget<T>(timeoutMs: number, operation: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailable(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const work = operation();
  // The losing promise of the race must not become an unhandled rejection.
  work.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (isUnavailability(err)) {
      throw err instanceof DatabaseUnavailable ? err : new DatabaseUnavailable("the database failed", { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
