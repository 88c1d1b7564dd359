import { createHmac } from "node:crypto";

/**
 * The `sub` of a citizen: base64url HMAC-SHA256 of their E.164 number under a secret that never leaves the
 * state folder. Stable per number (the edge keys a place on iss + sub), opaque to anyone holding a token
 * (a sub does not reveal the number, and a number cannot be turned into a sub without the secret).
 */
export function subjectFor(subjectSecret: string, e164: string): string {
  return createHmac("sha256", subjectSecret).update(e164).digest("base64url");
}
