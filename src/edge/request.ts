import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { z } from "zod";
import { describeIssues, fail } from "./errors.js";

/** Request bodies are small JSON documents; anything larger is refused before it is read in full. */
export const MAX_BODY_BYTES = 8 * 1024;

/** Refuses oversized bodies by their declared length and by what actually arrives. */
export const limitBody: MiddlewareHandler = async (c, next) => {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    throw fail(413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
  }
  await next();
};

async function readCapped(c: Context): Promise<string> {
  const body = c.req.raw.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw fail(413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(all);
  } catch {
    throw fail(400, "bad_json", "the body is not valid UTF-8");
  }
}

/** Reads a JSON body and validates it; every failure is a 4xx in the one error shape. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw fail(415, "unsupported_media_type", "send the body as application/json");
  }
  const text = await readCapped(c);
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

/** A bearer token from `Authorization`, else the named cookie. */
export function bearerOrCookie(c: Context, cookie: string): string | undefined {
  const auth = c.req.header("authorization");
  if (auth !== undefined) {
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(auth);
    return m?.[1] ?? "";
  }
  return getCookie(c, cookie);
}
