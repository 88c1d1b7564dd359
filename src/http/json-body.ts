import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { declaredLength, readBody } from "./body-limit.js";
import { describeIssues, fail } from "./errors.js";

/**
 * Refuses a body whose declared length is over the limit (413) or malformed (400) before any handler
 * runs, so a route can refuse before it spends anything on the request (verifying a pass, a token).
 * `readBody` checks the declared length again and counts the bytes as they arrive, so a route without
 * this middleware is bounded all the same.
 */
export const limitBody: MiddlewareHandler = async (c, next) => {
  declaredLength(c.req.header("content-length"));
  await next();
};

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Reads a JSON body and validates it: 415 if not JSON, 413 if too big, 400 if malformed or invalid. */
export function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  return requestJson(c.req.raw, schema);
}

/** `jsonBody` of a bare Request, for a route answered without a Hono context. */
export async function requestJson<S extends z.ZodType>(request: Request, schema: S): Promise<z.infer<S>> {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw fail(415, "unsupported_media_type", "send the body as application/json");
  const bytes = await readBody(request);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw fail(400, "bad_json", "the body is not valid UTF-8");
  }
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
