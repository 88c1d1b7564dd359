import type { Context } from "hono";
import { parse } from "hono/utils/cookie";

/**
 * What a request presents as its credential (a pass or a ticket): nothing at all, an `Authorization`
 * header that is not a usable Bearer token, or a token to verify. "None" and "malformed" are told apart
 * so the answer can say what is wrong: a 401 asking for a token, or one saying the header is broken.
 */
export type PresentedCredential = { kind: "none" } | { kind: "malformed" } | { kind: "token"; token: string };

// RFC 6750's b64token: a JWT's characters and a few more; one space after the scheme, more tolerated.
const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;

/**
 * The Bearer token from `Authorization`, else the named cookie (the page's way). A header, when present,
 * wins even if malformed: a client that sends one meant it, and a cookie must not quietly stand in.
 * An empty cookie is a cleared one, so it counts as none.
 */
export function presentedCredential(c: Context, cookie: string): PresentedCredential {
  return credentialIn(c.req.raw.headers, cookie);
}

/** `presentedCredential` from a request's headers, for a route answered without a Hono context. */
export function credentialIn(headers: Headers, cookie: string): PresentedCredential {
  const auth = headers.get("authorization");
  if (auth !== null) {
    const token = BEARER.exec(auth)?.[1];
    return token === undefined ? { kind: "malformed" } : { kind: "token", token };
  }
  // As hono/cookie's getCookie reads one cookie.
  const cookies = headers.get("cookie");
  const fromCookie = cookies ? parse(cookies, cookie)[cookie] : undefined;
  return fromCookie === undefined || fromCookie === "" ? { kind: "none" } : { kind: "token", token: fromCookie };
}
