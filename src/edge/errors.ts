import type { Context } from "hono";
import { internalErrorResponse, knownErrorResponse, notFoundResponse } from "../http/errors.js";

/** The edge's `onError`: deliberate refusals keep their shape; anything else is a 500 without details. */
export function onError(err: Error, c: Context): Response {
  return knownErrorResponse(err) ?? internalErrorResponse(`edge ${c.req.method} ${new URL(c.req.url).pathname}`, err);
}

export function notFound(c: Context): Response {
  return notFoundResponse(c.req.method, new URL(c.req.url).pathname);
}
