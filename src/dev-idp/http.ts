import type { IncomingMessage, ServerResponse } from "node:http";
import { declaredLength, readWithin } from "../http/body-limit.js";
import { ApiError } from "../http/errors.js";

/**
 * Small request/response helpers for the provider's own routes (the login pages and /dev/id-tokens),
 * which sit beside oidc-provider's Koa app on the same Node server.
 */

/** A refusal the client caused: answered with its status and never logged as a fault. */
export class ClientProblem extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415,
    readonly code: string,
    message: string,
    /** For a 405: the methods the route answers, sent as `Allow`. */
    readonly allow?: string,
    /** For a 401: the `WWW-Authenticate` challenge. */
    readonly challenge?: string,
  ) {
    super(message);
  }
}

/**
 * The body, through the project's one body limit (src/http/body-limit.ts): a declared length over the
 * limit or malformed is refused before reading, and the bytes are counted as they arrive. The iterator
 * leaves the request stream open when the read stops early, so the refusal can still be written; the
 * answer then closes the connection (see app.ts) rather than read the rest.
 */
async function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  try {
    declaredLength(req.headers["content-length"], limitBytes);
    const bytes = await readWithin(req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>, limitBytes);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 400 || err.status === 413)) throw new ClientProblem(err.status, err.code, err.message);
    throw err;
  }
}

function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/** An HTML form post (application/x-www-form-urlencoded). */
export async function readForm(req: IncomingMessage, limitBytes = 8 * 1024): Promise<URLSearchParams> {
  if (mediaType(req) !== "application/x-www-form-urlencoded") {
    throw new ClientProblem(415, "unsupported_media_type", "send the form as application/x-www-form-urlencoded");
  }
  return new URLSearchParams(await readBody(req, limitBytes));
}

/** A JSON body, parsed but not yet validated: callers run it through their zod schema. */
export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  if (mediaType(req) !== "application/json") throw new ClientProblem(415, "unsupported_media_type", "send JSON (content-type: application/json)");
  const text = await readBody(req, limitBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ClientProblem(400, "bad_json", "the body is not JSON");
  }
}

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  // No scripts at all; inline style only. No form-action: after the last form the browser is redirected
  // on to the relying party, which form-action would block.
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...PAGE_HEADERS, "content-length": Buffer.byteLength(html) });
  res.end(html);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The error shape of the edge and the origin, `{"error":{"code","message"}}`, so scripts handle one shape. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/** 303 See Other: after a form post the browser follows with a GET. */
export function seeOther(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, "cache-control": "no-store", "content-length": 0 });
  res.end();
}
