import { jwtVerify, SignJWT } from "jose";

/** The operator session's cookie; here, beside the session it carries, so scripts can name it too. */
export const OPERATOR_COOKIE = "wr_operator";

/**
 * The local operator login, for a machine without Cloudflare Access: `npm start` signs a one-time login
 * code with OPERATOR_SECRET and prints it as a link; the edge checks it, spends it (src/edge/operators/operator-logins.ts
 * remembers spent codes) and hands back a session, signed with the same secret, in an HttpOnly cookie.
 * Both are HS256 JWTs with audiences of their own, so a code is never accepted as a session or the reverse.
 * Pure jose, no Worker API: scripts/start.ts mints codes with this very module.
 */

const ISSUER = "waiting-room-edge";
const LOGIN_AUDIENCE = "waiting-room-operator-login";
const SESSION_AUDIENCE = "waiting-room-operator-session";
const ALGORITHMS = ["HS256"];

/** How long a printed link works: long enough to copy it from the console, short enough that an old log is useless. */
export const LOGIN_CODE_TTL_SECONDS = 30 * 60;
/** An operator's shift; then the console asks for a new link. */
export const OPERATOR_SESSION_TTL_SECONDS = 8 * 60 * 60;
/** A code or session longer than this is not one of ours; refused before any cryptography. */
const MAX_TOKEN_LENGTH = 1_024;

const keyOf = (secret: string) => new TextEncoder().encode(secret);

/** A one-time login code: its `jti` is what the edge spends; it expires after LOGIN_CODE_TTL_SECONDS. */
export function mintLoginCode(secret: string, now = Date.now()): Promise<string> {
  return sign(secret, LOGIN_AUDIENCE, LOGIN_CODE_TTL_SECONDS, now, (jwt) => jwt.setJti(crypto.randomUUID()));
}

/** A login code's id and expiry if it is ours and still good (not yet checked for reuse); else null. */
export async function readLoginCode(secret: string, code: string): Promise<{ id: string; expiresAt: number } | null> {
  const payload = await verified(secret, code, LOGIN_AUDIENCE, ["jti", "exp"]);
  return payload && typeof payload.jti === "string" && typeof payload.exp === "number" ? { id: payload.jti, expiresAt: payload.exp * 1000 } : null;
}

/** A session for the operator who spent a login code. */
export function mintOperatorSession(secret: string, now = Date.now()): Promise<string> {
  return sign(secret, SESSION_AUDIENCE, OPERATOR_SESSION_TTL_SECONDS, now, (jwt) => jwt.setSubject("local operator"));
}

function sign(secret: string, audience: string, ttlSeconds: number, now: number, claims: (jwt: SignJWT) => SignJWT): Promise<string> {
  const iat = Math.floor(now / 1000);
  const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuer(ISSUER).setAudience(audience).setIssuedAt(iat).setExpirationTime(iat + ttlSeconds);
  return claims(jwt).sign(keyOf(secret));
}

export async function isOperatorSession(secret: string, session: string): Promise<boolean> {
  return (await verified(secret, session, SESSION_AUDIENCE, ["sub", "exp"])) !== null;
}

async function verified(secret: string, token: string, audience: string, requiredClaims: string[]) {
  if (token.length > MAX_TOKEN_LENGTH) return null;
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: ALGORITHMS, issuer: ISSUER, audience, requiredClaims });
    return payload;
  } catch {
    // Any failure (forged, expired, another audience, not a JWT at all) is the same answer: not an operator.
    return null;
  }
}
