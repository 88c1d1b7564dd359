import type { Context } from "hono";
import { SignJWT } from "jose";
import { BOOKING_ACCESS_COOKIE, BOOKING_ACCESS_SCOPE, BOOKING_ACCESS_TTL_SECONDS, BOOKING_ACCESS_TYP, checkBookingAccess, type BookingAccessCheck } from "../../contract/booking-access.js";
import { PASS_ALG } from "../../contract/pass.js";
import { fail } from "../../http/errors.js";
import { enforceLimit } from "../abuse-limits.js";
import { cohortForBirthYear, type EdgeConfig } from "../config.js";
import { citizenKey } from "../identity/citizen-key.js";
import type { VerifiedCitizen } from "../identity/id-token.js";
import { newTicketId } from "./ticket.js";
import { signingKey, verificationKeys } from "./pass.js";

/**
 * Booking access (src/contract/booking-access.ts), signed at the edge for a citizen who signed in again
 * to change or cancel their booking: their citizen key and cohort, the one scope, and a short life.
 */
export async function signBookingAccess(config: EdgeConfig, citizen: { sub: string; cohort: string }, now: number): Promise<{ token: string; exp: number }> {
  const { kid, key } = await signingKey(config);
  const iat = Math.floor(now / 1000);
  const exp = iat + BOOKING_ACCESS_TTL_SECONDS;
  const token = await new SignJWT({ cohort: citizen.cohort, scope: BOOKING_ACCESS_SCOPE })
    .setProtectedHeader({ alg: PASS_ALG, kid, typ: BOOKING_ACCESS_TYP })
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setSubject(citizen.sub)
    .setJti(newTicketId())
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .sign(key);
  return { token, exp };
}

/** Verifies booking access with the contract's one check, as the origin does. Never throws. */
export async function verifyBookingAccess(config: EdgeConfig, token: string): Promise<BookingAccessCheck> {
  return checkBookingAccess(token, await verificationKeys(config), { issuer: config.issuer, audience: config.audience });
}

/**
 * Gives a citizen who signed in again booking access for their cohort, in an HttpOnly cookie sent only to
 * /api, without joining the line. Whether they hold a booking is the origin's to say (404
 * booking_not_found to the page's first read). Each grant counts against the citizen's join limit: it is
 * a sign-in like any other.
 */
export async function grantBookingAccess(c: Context<{ Bindings: Env }>, config: EdgeConfig, citizen: VerifiedCitizen): Promise<void> {
  const cohort = cohortForBirthYear(config, Number(citizen.birthdate.slice(0, 4)));
  if (!cohort) throw fail(403, "not_eligible", "no cohort is open for booking for this birth date");
  const sub = await citizenKey(config.citizenKeySecret, citizen);
  await enforceLimit(c.env, "join", sub);
  const { token } = await signBookingAccess(config, { sub, cohort: cohort.id }, Date.now());
  c.header("set-cookie", `${BOOKING_ACCESS_COOKIE}=${token}; Max-Age=${BOOKING_ACCESS_TTL_SECONDS}; Path=/api; HttpOnly; Secure; SameSite=Lax`, { append: true });
}
