import { jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { protectedHeaderOf } from "./direct-jwt.js";
import { joseCode, PASS_ALG, PASS_CLOCK_SKEW_SECONDS, PASS_LIFETIME_TOLERANCE_SECONDS, PASS_MAX_LENGTH, PassWithoutKid, type PassExpectations } from "./pass.js";

/**
 * Booking access: what a citizen whose pass has expired gets by signing in again, to read, change or
 * cancel the booking they already hold, without waiting in the line again. It is not a pass and can never
 * act as one: its JOSE `typ` is its own, it carries no place in the line (`shard`, `seq`), which every
 * pass must, and a pass's check refuses it for that; the edge and the origin each verify it with the
 * check below and allow it only what its `scope` names. It is signed with the pass keys (the origin
 * already trusts their JWKS) and lives a short time.
 */
export const BOOKING_ACCESS_TYP = "booking-access+jwt";
/** The one scope there is: the citizen's own booking in the cohort named, to read, change and cancel. */
export const BOOKING_ACCESS_SCOPE = "booking:manage";
/** The cookie that carries it for the page (HttpOnly, path /api); apps send `Authorization: Bearer`. */
export const BOOKING_ACCESS_COOKIE = "wr_booking_access";
/** Long enough to choose another slot and confirm; a citizen who needs longer signs in again. */
export const BOOKING_ACCESS_TTL_SECONDS = 600;
export const BOOKING_ACCESS_REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "cohort", "scope"] as const;

export const bookingAccessClaims = z.object({
  iss: z.string().min(1),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** The citizen key, as in a pass: whose booking this reaches. */
  sub: z.string().min(16).max(128),
  jti: z.string().min(8).max(64),
  cohort: z.string().min(1).max(32),
  scope: z.literal(BOOKING_ACCESS_SCOPE),
  iat: z.number().int(),
  nbf: z.number().int(),
  exp: z.number().int(),
});
export type BookingAccessClaims = z.infer<typeof bookingAccessClaims>;

/**
 * Whether a token names itself booking access in its protected header (before it is verified: only to
 * choose which check runs, which then decides). The header is read as jose's decodeProtectedHeader reads
 * it, from the direct check's memory of headers, so a pass's header is decoded once for both.
 */
export function namesBookingAccess(token: string): boolean {
  const typ = protectedHeaderOf(token)?.typ;
  return typeof typ === "string" && typ.toLowerCase() === BOOKING_ACCESS_TYP;
}

export type BookingAccessCheck = { ok: true; access: BookingAccessClaims } | { ok: false; code: string; error?: unknown };

/**
 * Verifies booking access: ES256 with a known `kid`, its own `typ`, the pass issuer and audience, every
 * claim above, and a lifetime no longer than BOOKING_ACCESS_TTL_SECONDS. Never throws.
 */
export async function checkBookingAccess(token: string, keys: JWTVerifyGetKey, expected: Pick<PassExpectations, "issuer" | "audience">): Promise<BookingAccessCheck> {
  if (token.length > PASS_MAX_LENGTH) return { ok: false, code: "ERR_PASS_TOO_LONG" };
  try {
    const { payload } = await jwtVerify(
      token,
      (header, t) => {
        if (typeof header.kid !== "string" || header.kid === "") throw new PassWithoutKid();
        return keys(header, t);
      },
      {
        algorithms: [PASS_ALG],
        typ: BOOKING_ACCESS_TYP,
        issuer: expected.issuer,
        audience: expected.audience,
        requiredClaims: [...BOOKING_ACCESS_REQUIRED_CLAIMS],
        clockTolerance: PASS_CLOCK_SKEW_SECONDS,
        maxTokenAge: BOOKING_ACCESS_TTL_SECONDS + PASS_LIFETIME_TOLERANCE_SECONDS,
      },
    );
    const claims = bookingAccessClaims.safeParse(payload);
    if (!claims.success) return { ok: false, code: "ERR_PASS_CLAIMS" };
    if (claims.data.exp - claims.data.iat > BOOKING_ACCESS_TTL_SECONDS + PASS_LIFETIME_TOLERANCE_SECONDS) return { ok: false, code: "ERR_PASS_LIFETIME" };
    return { ok: true, access: claims.data };
  } catch (error) {
    return { ok: false, code: joseCode(error), error };
  }
}
