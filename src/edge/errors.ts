import type { Context } from "hono";
import { internalErrorResponse, knownErrorResponse, notFoundResponse } from "../http/errors.js";

/*
 * Not every answer at the edge's address comes from this Worker. workerd's own HTTP server refuses some
 * requests before any Worker code runs, in plain text, and nothing here can shape them: a Content-Length
 * that is not a number (`-1`, `abc`, `1, 1`), an absolute-form or `*` request target, a Host that names no
 * host, and CONNECT get a bare 500; an unknown method a 501; headers over 128 KB a 431; an empty Host a
 * 400. Deployed, Cloudflare's front end parses HTTP before the Worker and answers such requests itself.
 * Static files are served by the platform's asset handler ahead of the Worker (wrangler.toml [assets]),
 * so a POST to one is that handler's bare 405.
 */

/** The edge's `onError`: deliberate refusals keep their shape; anything else is a 500 without details. */
export function onError(err: Error, c: Context): Response {
  return errorAnswer(err, c.req.raw);
}

/** `onError`'s answer, for a route answered ahead of the app (`edgeFetch`, src/edge/app.ts). */
export function errorAnswer(err: Error, request: Request): Response {
  return knownErrorResponse(err) ?? internalErrorResponse(`edge ${request.method} ${new URL(request.url).pathname}`, err);
}

export function notFound(c: Context): Response {
  return notFoundResponse(c.req.method, new URL(c.req.url).pathname);
}
