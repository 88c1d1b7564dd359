import { ApiError, fail } from "./errors.js";

/**
 * The one body limit, for every body the project reads: the edge's join route and booking gate, the
 * origin's routes, the development provider's own forms and JSON. Two checks, each enough on its own:
 *
 * - the declared length (`Content-Length`) is checked before a byte is read, so an honest large body is
 *   refused at once and a malformed one (`-1`, `abc`, `1e3`, `1, 2`) is a 400, never a 500;
 * - the bytes are counted as they arrive and refused as soon as they pass the limit, whatever was
 *   declared (chunked bodies declare nothing, and a Request built in-process is not bounded by framing),
 *   so no reader ever holds more than the limit plus one chunk.
 */

/** Request bodies are small JSON documents (a token, a slot id); 8 KB leaves room for growth. */
export const MAX_BODY_BYTES = 8 * 1024;

export function bodyTooLarge(limit = MAX_BODY_BYTES): ApiError {
  return fail(413, "payload_too_large", `the body must be at most ${limit} bytes`);
}

// Digits only: Number() would take "1e3", " 0x10 ", "" and "Infinity"; a length is a plain decimal.
const DECIMAL = /^[0-9]+$/;

/**
 * The length a request declares for its body: undefined when it declares none; a 400 when the header is
 * not one non-negative decimal integer; a 413 when it is over `limit`.
 */
export function declaredLength(header: string | null | undefined, limit = MAX_BODY_BYTES): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (!DECIMAL.test(value)) throw fail(400, "invalid_request", "Content-Length must be a non-negative integer");
  // Compared as a number only after the digits check; a length of more than 15 significant digits is
  // over any limit (and past what a double holds exactly).
  const significant = value.replace(/^0+(?=[0-9])/, "");
  if (significant.length > 15 || Number(significant) > limit) throw bodyTooLarge(limit);
  return Number(significant);
}

/** A body as it arrives: a web stream (Workers, Hono on Node) or Node's own chunks (`req.iterator(...)`). */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Reads a body chunk by chunk, never holding more than `limit` bytes: past it the read stops and a 413 is
 * thrown at once (the rest is never read here). A body that breaks off before its end is a 400.
 */
export async function readWithin(source: BodySource | null, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  if (source === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const take = (chunk: Uint8Array): boolean => {
    size += chunk.byteLength;
    if (size > limit) return false;
    chunks.push(chunk);
    return true;
  };
  try {
    if (source instanceof ReadableStream) {
      const reader = source.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!take(value)) {
          // Left unread rather than cancelled: the runtime discards the rest once the answer is sent.
          // Under `wrangler dev` a cancel reaches its proxy as a failed request to the Worker, which it
          // answers with a 503 "restarted" (or, for a GET, a 500 carrying a stack) instead of our 413.
          reader.releaseLock();
          throw bodyTooLarge(limit);
        }
      }
    } else {
      // Leaving the loop ends the iteration; the caller decides what happens to the rest of the stream.
      for await (const chunk of source) if (!take(chunk)) throw bodyTooLarge(limit);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The client stopped sending before the body was complete, or the connection broke.
    throw fail(400, "invalid_request", "the body ended before it was complete");
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return all;
}

/**
 * A request's body, read within the limit: the declared length first (refused before reading), then the
 * bytes as they arrive.
 */
export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = declaredLength(request.headers.get("content-length"), limit);
  if (declared === undefined) return readWithin(request.body, limit);
  // A body within its declared length (checked above against the limit) is read in one native call, far
  // cheaper on the join path than a chunk-by-chunk loop. `request.body` is not touched on this path: in workerd reading it makes a ReadableStream
  // object, and a request without a body reads as empty anyway. The length is still checked after the
  // read, since a Request built in-process is not bound by HTTP framing to what its header declares.
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await request.arrayBuffer());
  } catch {
    throw fail(400, "invalid_request", "the body ended before it was complete");
  }
  if (bytes.byteLength > limit) throw bodyTooLarge(limit);
  return bytes;
}

