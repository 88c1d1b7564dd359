import type { MiddlewareHandler } from "hono";
import { BOOKING_ACCESS_COOKIE, namesBookingAccess, type BookingAccessClaims } from "../../contract/booking-access.js";
import { PASS_COOKIE, type PassClaims } from "../../contract/pass.js";
import { presentedCredential, type PresentedCredential } from "../../http/credentials.js";
import { fail } from "../../http/errors.js";
import { edgeConfig } from "../config.js";
import { verifyBookingAccess } from "./booking-access.js";
import { verifyPass } from "./pass.js";

/**
 * What a request through the booking gate presents: a pass (admitted from the line: books, and reads,
 * moves and cancels its citizen's booking), or booking access (signed in again after the pass expired:
 * the booking only, never a new one). Either is verified here and again by the origin.
 */
export type GateCredential = { kind: "pass"; pass: PassClaims } | { kind: "access"; access: BookingAccessClaims };
export type GateVariables = { credential: GateCredential; credentialToken: string };

const ASK_FOR_A_PASS = { "www-authenticate": "Bearer" };
const REFUSE_THE_TOKEN = { "www-authenticate": 'Bearer error="invalid_token"' };

/**
 * A bearer token of either kind; else the pass cookie; else the booking-access cookie. A live pass wins
 * over booking access: it can do all that access can.
 */
function presented(c: Parameters<MiddlewareHandler>[0]): PresentedCredential {
  const pass = presentedCredential(c, PASS_COOKIE);
  return pass.kind === "none" ? presentedCredential(c, BOOKING_ACCESS_COOKIE) : pass;
}

/** Admits a request only with a valid pass or booking access; 401 otherwise, before anything is forwarded. */
export const requireGateCredential: MiddlewareHandler<{ Bindings: Env; Variables: GateVariables }> = async (c, next) => {
  const credential = presented(c);
  if (credential.kind === "none") {
    throw fail(401, "invalid_token", "a pass is required: wait for your turn in the queue", { headers: ASK_FOR_A_PASS });
  }
  if (credential.kind === "malformed") {
    throw fail(401, "invalid_token", "the Authorization header must be: Bearer <pass>", { headers: REFUSE_THE_TOKEN });
  }
  const config = edgeConfig(c.env);
  if (namesBookingAccess(credential.token)) {
    const check = await verifyBookingAccess(config, credential.token);
    if (!check.ok) throw fail(401, "invalid_token", "the booking access is not valid or has expired; sign in again", { headers: REFUSE_THE_TOKEN });
    c.set("credential", { kind: "access", access: check.access });
  } else {
    const check = await verifyPass(config, credential.token);
    if (!check.ok) throw fail(401, "invalid_token", "the pass is not valid or has expired", { headers: REFUSE_THE_TOKEN });
    c.set("credential", { kind: "pass", pass: check.pass });
  }
  c.set("credentialToken", credential.token);
  await next();
};
