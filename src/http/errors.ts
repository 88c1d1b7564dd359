import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { Booking } from "../contract/booking.js";
import type { ErrorBody, ErrorCode } from "../contract/errors.js";

/**
 * The one error shape, shared by the edge and the origin: every refusal leaves as
 * `{"error":{"code","message"}}` (plus the one field a client may need to act on), never a stack.
 */

export interface ErrorExtras {
  /** When a cohort opens, and which cohort it is (`cohort_not_open`). */
  opensAt?: string;
  cohort?: string;
  /** How long to wait before retrying (`unavailable`); also sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** The booking the citizen already holds (`already_booked`), or the cancelled one (`booking_cancelled`). */
  booking?: Booking;
  headers?: Record<string, string>;
}

/** An error answer's parts, for a server that writes them itself (the Node front of `npm start`'s edge). */
export interface ErrorAnswer {
  status: ContentfulStatusCode;
  headers: Record<string, string>;
  body: string;
}

/** The one error shape's status, headers and body; `errorResponse` wraps them in a Response. */
export function errorAnswer(status: ContentfulStatusCode, code: ErrorCode, message: string, extras: ErrorExtras = {}): ErrorAnswer {
  const error: ErrorBody["error"] = { code, message };
  if (extras.opensAt !== undefined) error.opensAt = extras.opensAt;
  if (extras.cohort !== undefined) error.cohort = extras.cohort;
  if (extras.retryAfterSeconds !== undefined) error.retryAfterSeconds = extras.retryAfterSeconds;
  if (extras.booking !== undefined) error.booking = extras.booking;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };
  if (extras.retryAfterSeconds !== undefined) headers["retry-after"] = String(extras.retryAfterSeconds);
  return { status, headers: { ...headers, ...extras.headers }, body: JSON.stringify({ error }) };
}

export function errorResponse(status: ContentfulStatusCode, code: ErrorCode, message: string, extras: ErrorExtras = {}): Response {
  const answer = errorAnswer(status, code, message, extras);
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

/** A refusal the client caused or can act on; handlers throw it and `onError` answers with its response. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly extras: ErrorExtras = {},
  ) {
    super(status, { message });
  }

  override getResponse(): Response {
    return errorResponse(this.status as ContentfulStatusCode, this.code, this.message, this.extras);
  }
}

/** Shorthand for `new ApiError(...)`, for `throw fail(...)`. */
export function fail(status: ContentfulStatusCode, code: ErrorCode, message: string, extras: ErrorExtras = {}): ApiError {
  return new ApiError(status, code, message, extras);
}

/** A query string zod refused: 400, naming every refused parameter. */
export function badQuery(error: z.ZodError): ApiError {
  const fields = error.issues.map((i) => i.path.map(String).join(".")).join(", ");
  return new ApiError(400, "invalid_request", `bad query parameter: ${fields}`);
}

/** A zod failure as one readable sentence naming the field. */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "the request is not valid";
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
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

/** The response for an error we raised on purpose (or Hono did, for a client's mistake); else undefined. */
export function knownErrorResponse(err: Error): Response | undefined {
  if (err instanceof ApiError) return err.getResponse();
  if (err instanceof HTTPException && err.status < 500) {
    return errorResponse(err.status as ContentfulStatusCode, CODE_FOR_STATUS[err.status] ?? "invalid_request", err.message || "the request was refused");
  }
  return undefined;
}

/** The answer when something unexpected broke: logged with its stack, reported without it. */
export function internalErrorResponse(where: string, err: unknown): Response {
  console.error(`${where}: unexpected error:`, err);
  return errorResponse(500, "internal", "something went wrong on our side; please try again");
}

export function notFoundResponse(method: string, path: string): Response {
  return errorResponse(404, "not_found", `no such endpoint: ${method} ${path}`);
}
