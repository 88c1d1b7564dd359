import type { MiddlewareHandler } from "hono";
import { BOOKING_ACCESS_COOKIE } from "../../contract/booking-access.js";
import { PASS_COOKIE } from "../../contract/pass.js";
import { credentialIn } from "../../http/credentials.js";
import type { OriginDeps, OriginEnv } from "../env.js";
import { ApiError, invalidToken } from "../errors.js";
import type { Credential } from "../pass-verifier.js";

/**
 * Lets a request through only with a pass, or booking access, the edge signed: `c.var.credential` is
 * then the verified claims. The origin checks it again although the edge already did, because the
 * origin trusts nothing else. What each kind may do is the routes' to check (`citizenOf`, `passOnly`).
 */
export function requireCredential(deps: OriginDeps): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    c.set("credential", await verifiedCredential(c.req.raw.headers, deps));
    await next();
  };
}

/**
 * The verified credential the headers present (the pass, else booking access, each as bearer or cookie);
 * refusals are thrown as 401 invalid_token. `requireCredential`'s check, for the booking answered ahead
 * of the app too (routes/book.ts).
 */
export async function verifiedCredential(headers: Headers, deps: OriginDeps): Promise<Credential> {
  const pass = credentialIn(headers, PASS_COOKIE);
  const credential = pass.kind === "none" ? credentialIn(headers, BOOKING_ACCESS_COOKIE) : pass;
  if (credential.kind === "none") throw invalidToken("a pass is required", false);
  if (credential.kind === "malformed") throw invalidToken("the Authorization header must be: Bearer <pass>", true);
  const verdict = await deps.verifyCredential(credential.token);
  if (!verdict.ok) throw invalidToken(verdict.reason, true);
  return verdict.credential;
}

/** The citizen and cohort a credential speaks for: either kind reaches that citizen's booking in that cohort. */
export function citizenOf(credential: Credential): { sub: string; cohort: string } {
  return credential.kind === "pass" ? credential.pass : credential.access;
}

/** Booking access reaches a booking already made; only a pass, from the line, makes one. */
export function insufficientScope(): ApiError {
  return new ApiError(403, "insufficient_scope", "booking access reaches the booking you hold; to book, sign in and join the line", {
    headers: { "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="booking"' },
  });
}
