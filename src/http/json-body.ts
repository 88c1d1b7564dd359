import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { z } from "zod";
import { ApiError, describeIssues, fail } from "./errors.js";

/** Request bodies are small JSON documents; anything larger is refused before it is read in full. */
export const MAX_BODY_BYTES = 8 * 1024;

const tooLarge = () => fail(413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);

/** Refuses a body whose declared length is over the limit, before any handler runs. */
export const limitBody: MiddlewareHandler = async (c, next) => {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  await next();
};

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads the body as UTF-8 text, never more than MAX_BODY_BYTES of it. A body with a declared length (at
 * most the limit, as `limitBody` made sure) is read in one piece: HTTP framing ends it at that length, so
 * it cannot grow past the limit. A body without one (chunked) is read a chunk at a time and refused as soon
 * as it passes the limit.
 */
async function readLimited(c: Context): Promise<string> {
  const request = c.req.raw;
  if (!request.body) return "";
  let bytes: Uint8Array;
  try {
    bytes = request.headers.has("content-length") ? new Uint8Array(await request.arrayBuffer()) : await readChunked(request.body);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The client stopped sending before the body was complete (or the body stream broke).
    throw fail(400, "invalid_request", "the body ended before it was complete");
  }
  if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge();
  try {
    return utf8.decode(bytes);
  } catch {
    throw fail(400, "bad_json", "the body is not valid UTF-8");
  }
}

async function readChunked(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return all;
}

/** Reads a JSON body and validates it: 415 if not JSON, 413 if too big, 400 if malformed or invalid. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw fail(415, "unsupported_media_type", "send the body as application/json");
  const text = await readLimited(c);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail(400, "bad_json", "the body is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw fail(400, "invalid_request", describeIssues(parsed.error));
  return parsed.data;
}

/**
 * A bearer token from `Authorization`, else the named cookie. An Authorization header that is not a
 * well-formed Bearer gives "" (presented but unusable), so callers can say what is wrong.
 */
export function bearerOrCookie(c: Context, cookie: string): string | undefined {
  const auth = c.req.header("authorization");
  if (auth !== undefined) {
    const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(auth);
    return m?.[1] ?? "";
  }
  return getCookie(c, cookie);
}
