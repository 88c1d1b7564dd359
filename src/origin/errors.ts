import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorBody, ErrorCode } from "../contract/errors.js";
import type { Booking } from "../contract/booking.js";
import { DatabaseUnavailable } from "./db/database.js";

/** How long a client should wait before retrying after a 503; short, since the edge paces admissions. */
export const RETRY_AFTER_SECONDS = 2;

interface ApiErrorExtras {
  booking?: Booking;
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
}

/** An answer the client caused or can act on, carried to `app.onError` as one JSON error shape. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly extras: ApiErrorExtras = {},
  ) {
    super(status, { message });
  }
}

/** A refused or missing pass; `WWW-Authenticate` tells the client a Bearer token is what is wanted. */
export function invalidToken(message: string, passPresented: boolean): ApiError {
  return new ApiError(401, "invalid_token", message, {
    headers: { "WWW-Authenticate": passPresented ? 'Bearer error="invalid_token"' : "Bearer" },
  });
}

function respond(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string, extras: ApiErrorExtras = {}) {
  const body: ErrorBody = { error: { code, message } };
  if (extras.booking !== undefined) body.error.booking = extras.booking;
  if (extras.retryAfterSeconds !== undefined) body.error.retryAfterSeconds = extras.retryAfterSeconds;
  return c.json(body, status, extras.headers ?? {});
}

// Codes for the HTTPExceptions that Hono's own middleware may throw.
const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "invalid_token",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

// The driver's innermost message ("Connection terminated unexpectedly"), without the query and its
// parameters that drizzle's wrapper would print.
function rootCause(cause: unknown): string {
  let e = cause;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? `: ${e.message}` : "";
}

/** The app's one error handler: every failure leaves as `{"error":{"code","message"}}`, never a stack. */
export function answerError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return respond(c, err.status, err.code, err.message, err.extras);
  if (err instanceof DatabaseUnavailable) {
    console.error(`origin: database unavailable: ${err.message}${rootCause(err.cause)}`);
    return respond(c, 503, "unavailable", "bookings are briefly unavailable; try again shortly", {
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
    });
  }
  if (err instanceof HTTPException && err.status < 500) {
    const code = CODE_FOR_STATUS[err.status] ?? "invalid_request";
    return respond(c, err.status, code, err.message || "the request was refused");
  }
  console.error("origin: unexpected error:", err);
  return respond(c, 500, "internal", "something went wrong on our side");
}

/** The answer for a path or method the API does not have. */
export function answerNotFound(c: Context): Response {
  return respond(c, 404, "not_found", "no such resource");
}
