import { base64url } from "jose";

/**
 * base64url text decoded to the bytes jose's base64url.decode gives, throwing where it throws. Where the
 * runtime has Uint8Array.fromBase64 (workerd) jose uses it and so does this; where it lacks it (Node before
 * 25, the origin) jose decodes through atob and a loop over a binary string, several µs for a token's
 * signature and payload, and Node's Buffer decodes the same text natively. Buffer is lenient where atob is
 * not (other characters, padding, a length of 4n+1), so only text of base64url characters alone and of
 * another length goes to it, where the two decode alike; the rest goes to jose.
 */
export function decodeBase64url(text: string): Uint8Array {
  return nodeBuffer && text.length % 4 !== 1 && BASE64URL_ONLY.test(text) ? nodeBuffer.from(text, "base64url") : base64url.decode(text);
}

const BASE64URL_ONLY = /^[A-Za-z0-9_-]*$/;

interface NodeBuffer {
  from(text: string, encoding: "base64url"): Uint8Array;
}

const nodeBuffer: NodeBuffer | undefined =
  typeof (Uint8Array as { fromBase64?: unknown }).fromBase64 === "function" ? undefined : (globalThis as { Buffer?: NodeBuffer }).Buffer;
