import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ErrorBody, ErrorCode } from "../contract/errors.js";

/**
 * Every refusal leaves the edge in one JSON shape, `{"error":{"code","message"}}`. Handlers throw
 * `fail(...)`; `onError` turns anything else into a 500 without leaking what went wrong.
 */

type Extra = Omit<ErrorBody["error"], "code" | "message">;

export function errorResponse(
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  extra: Extra = {},
  headers: Record<string, string> = {},
): Response {
  const body: ErrorBody = { error: { code, message, ...extra } };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** An HTTPException carrying the error-shaped response. */
export function fail(
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  extra: Extra = {},
  headers: Record<string, string> = {},
): HTTPException {
  return new HTTPException(status, { res: errorResponse(status, code, message, extra, headers), message });
}

/** A zod failure as one readable sentence naming the field. */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "the request is not valid";
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    // Hono's own exceptions (e.g. from middleware) carry plain text; give them the one shape too.
    if (res.headers.get("content-type")?.includes("application/json")) return res;
    return errorResponse(err.status as ContentfulStatusCode, err.status === 413 ? "payload_too_large" : "invalid_request", err.message || "bad request");
  }
  // The stack stays in the log; the client learns only that it was our fault.
  console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
  return errorResponse(500, "internal", "something went wrong on our side; please try again");
}

export function notFound(c: Context): Response {
  return errorResponse(404, "not_found", `no such endpoint: ${c.req.method} ${new URL(c.req.url).pathname}`);
}
