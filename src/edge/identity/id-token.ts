import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { checkJwtDirectly, directRules } from "../../contract/direct-jwt.js";
import { ID_TOKEN_REQUIRED_CLAIMS, idTokenClaims } from "../../contract/identity.js";
import { MAX_ID_TOKEN_LENGTH } from "../../contract/queue.js";
import type { IdentityProviderConfig } from "../config.js";
import { joseCode } from "../tokens/pass.js";

/**
 * The only way a citizen enters the line: an id_token the identity provider signed, verified here with
 * jose against the provider's published keys. Nothing typed by a client is trusted; the citizen is the
 * provider's (`iss`, `sub`) and the cohort comes from the provider's `birthdate` claim.
 */

/**
 * Asymmetric algorithms only: with a symmetric one (HS256) the provider's *public* key would become a
 * signing secret anyone could use, and `none` signs nothing.
 */
export const ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"];
/** The provider's clock and ours differ a little; a token issued "now" must not be refused as from the future. */
const CLOCK_TOLERANCE_SECONDS = 10;
// Keys are cached for ten minutes, and an unknown `kid` refetches at most every 30 s, so a flood of
// tokens with invented kids cannot make the edge hammer the provider.
const REMOTE_JWKS_OPTIONS = { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 3_000 };

/** A citizen the provider vouched for: who they are at the provider, and the birth date it holds. */
export interface VerifiedCitizen {
  issuer: string;
  subject: string;
  birthdate: string;
}

export type IdentityCheck =
  | { ok: true; citizen: VerifiedCitizen }
  /** `refused`: the token is not good (the client's doing); `unavailable`: the provider's keys could not be had. */
  | { ok: false; problem: "refused" | "unavailable"; code: string };

// Per isolate, keyed on the configuration's key source, so the remote set's cache lives across requests.
const keySets = new WeakMap<IdentityProviderConfig["keys"], JWTVerifyGetKey>();

/** The verifier for a key source (the identity provider's, or Cloudflare Access's for operators). */
export function keySet(keys: IdentityProviderConfig["keys"]): JWTVerifyGetKey {
  let set = keySets.get(keys);
  if (!set) {
    set = keys.kind === "remote" ? createRemoteJWKSet(new URL(keys.url), REMOTE_JWKS_OPTIONS) : createLocalJWKSet(keys.jwks);
    keySets.set(keys, set);
  }
  return set;
}

// Failures of a fetched key set (unreachable, broken, a network error), not of the token.
const KEY_SET_SIDE = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC", "ERR_UNKNOWN"]);

/**
 * Whether a failed verification was the key set's doing rather than the token's: the answer is then "try
 * again shortly", not "sign in again". Only a fetched set can fail so; with inline keys every failure is
 * the token's. The identity provider's keys and Cloudflare Access's are judged alike.
 */
export function keySetFailed(keys: IdentityProviderConfig["keys"], err: unknown): boolean {
  return keys.kind === "remote" && KEY_SET_SIDE.has(joseCode(err));
}

/**
 * Verifies an id_token: signature by a key the provider published, an allowed algorithm, `iss`, `aud` =
 * our client id, `exp`, `iat` no older than the configured maximum, `sub` and a real `birthdate`, and the
 * `nonce` of the browser flow when one is expected. Never throws.
 *
 * Every join verifies one, so a token in the common form (a header of `alg`, `kid` and `typ`) is checked
 * without jose's general path (src/contract/direct-jwt.ts), with the same rules; any other, and any whose
 * claims fail there, goes through jose's jwtVerify, which then decides and says why.
 */
export async function verifyIdToken(idp: IdentityProviderConfig, token: string, expected: { nonce?: string } = {}): Promise<IdentityCheck> {
  if (token.length > MAX_ID_TOKEN_LENGTH) return { ok: false, problem: "refused", code: "ERR_TOO_LONG" };
  const options: JWTVerifyOptions = {
    algorithms: ID_TOKEN_ALGORITHMS,
    issuer: idp.issuer,
    audience: idp.clientId,
    requiredClaims: [...ID_TOKEN_REQUIRED_CLAIMS],
    maxTokenAge: idp.maxAgeSeconds,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };
  let payload: unknown;
  try {
    const direct = await checkJwtDirectly(token, keySet(idp.keys), directRules(options));
    if (direct && !direct.ok) throw direct.error;
    payload = direct ? direct.payload : (await jwtVerify(token, keySet(idp.keys), options)).payload;
  } catch (err) {
    const code = joseCode(err);
    if (keySetFailed(idp.keys, err)) {
      console.error(`identity provider keys unavailable (${code}):`, err instanceof Error ? err.message : err);
      return { ok: false, problem: "unavailable", code };
    }
    return { ok: false, problem: "refused", code };
  }
  const claims = idTokenClaims.safeParse(payload);
  if (!claims.success) return { ok: false, problem: "refused", code: "ERR_ID_TOKEN_CLAIMS" };
  if (expected.nonce !== undefined && claims.data.nonce !== expected.nonce) return { ok: false, problem: "refused", code: "ERR_NONCE_MISMATCH" };
  return { ok: true, citizen: { issuer: claims.data.iss, subject: claims.data.sub, birthdate: claims.data.birthdate } };
}
