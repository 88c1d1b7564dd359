import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors.js";

/** Request bodies are small JSON objects; anything bigger is refused before it is read in full. */
export const MAX_BODY_BYTES = 8 * 1024;

async function readLimited(c: Context): Promise<string> {
  const declared = Number(c.req.header("Content-Length"));
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const body = c.req.raw.body;
  if (body === null) return "";
  // Content-Length may be absent (chunked) or wrong, so the limit is also enforced while reading.
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "bad_json", "the body is not UTF-8");
  }
}

function tooLarge(): ApiError {
  return new ApiError(413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
}

/** Reads a JSON body and validates it: 415 if not JSON, 413 if too big, 400 if malformed or invalid. */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new ApiError(415, "unsupported_media_type", "the body must be application/json");
  }
  const text = await readLimited(c);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_json", "the body is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "(body)").join(", ");
    throw new ApiError(400, "invalid_request", `the body is not valid: ${where}`);
  }
  return parsed.data;
}
