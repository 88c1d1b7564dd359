import { z } from "zod";

/**
 * The pass: the only thing the origin trusts. An ES256 JWT signed at the edge once a citizen's turn
 * has come; the origin verifies it on its own with the edge's public keys (JWKS).
 */
export const PASS_ALG = "ES256";
/** The cookie that carries the pass for the page (HttpOnly, path /api); apps send `Authorization: Bearer`. */
export const PASS_COOKIE = "wr_pass";
/** Claims the origin insists on, beyond what `jwtVerify` checks for `iss`/`aud`/`exp`. */
export const PASS_REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "cohort", "shard", "seq"] as const;

export const passClaims = z.object({
  iss: z.string().min(1),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** The citizen key: HMAC of the identity, never the identity itself. */
  sub: z.string().min(16).max(128),
  /** The ticket id; one ticket gets one pass, so it is also the booking's idempotency key. */
  jti: z.string().min(8).max(64),
  cohort: z.string().min(1).max(32),
  shard: z.number().int().nonnegative(),
  seq: z.number().int().positive(),
  iat: z.number().int(),
  nbf: z.number().int(),
  exp: z.number().int(),
});
export type PassClaims = z.infer<typeof passClaims>;

/**
 * Clocks differ and `iat`/`exp` are whole seconds, so a pass may span its lifetime plus this. Anything
 * longer was not signed by an edge honouring PASS_TTL_SECONDS: a stolen signing key, or a bug.
 */
export const PASS_LIFETIME_TOLERANCE_SECONDS = 5;

/** Whether a pass claims a longer life than the configured `PASS_TTL_SECONDS` allows. */
export function outlivesPassLifetime(claims: Pick<PassClaims, "iat" | "exp">, passTtlSeconds: number): boolean {
  return claims.exp - claims.iat > passTtlSeconds + PASS_LIFETIME_TOLERANCE_SECONDS;
}
