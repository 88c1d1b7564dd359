import type { Context } from "hono";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../contract/errors.js";
import { ApiError, errorResponse, internalErrorResponse, knownErrorResponse, notFoundResponse } from "../http/errors.js";
import { DatabaseUnavailable } from "./db/database.js";

export { ApiError };

/** A refused or missing pass; `WWW-Authenticate` tells the client a Bearer token is what is wanted. */
export function invalidToken(message: string, passPresented: boolean): ApiError {
  return new ApiError(401, "invalid_token", message, {
    headers: { "WWW-Authenticate": passPresented ? 'Bearer error="invalid_token"' : "Bearer" },
  });
}

// The driver's innermost message ("Connection terminated unexpectedly"), without the query and its
// parameters that drizzle's wrapper would print.
function rootCause(cause: unknown): string {
  let e = cause;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? `: ${e.message}` : "";
}

/** The app's one error handler: every failure leaves as `{"error":{"code","message"}}`, never a stack. */
export function answerError(err: Error, c: Context): Response {
  return errorAnswer(err, c.req.raw);
}

/** `answerError`'s answer, for the booking answered ahead of the app (`originFetch`, src/origin/app.ts). */
export function errorAnswer(err: Error, request: Request): Response {
  const known = knownErrorResponse(err);
  if (known) return known;
  if (err instanceof DatabaseUnavailable) {
    console.error(`origin: database unavailable: ${err.message}${rootCause(err.cause)}`);
    return errorResponse(503, "unavailable", "bookings are briefly unavailable; try again shortly", { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
  }
  return internalErrorResponse(`origin ${request.method} ${new URL(request.url).pathname}`, err);
}

/** The answer for a path or method the API does not have. */
export function answerNotFound(c: Context): Response {
  return notFoundResponse(c.req.method, new URL(c.req.url).pathname);
}
