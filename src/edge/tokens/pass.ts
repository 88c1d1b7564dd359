import { errors, importJWK, SignJWT, type CryptoKey as JoseKey, type JWK, type JWTVerifyGetKey } from "jose";
import { checkPass, joseCode, PASS_ALG, type PassCheck, type PassClaims } from "../../contract/pass.js";
import type { EdgeConfig, SigningJwk } from "../config.js";

/**
 * Passes: short-lived ES256 JWTs the edge signs once a citizen's turn has come. The origin trusts nothing
 * else. Keys rotate: PASS_SIGNING_KEYS lists private keys newest first; the newest signs, and all of them
 * are published in the JWKS so passes signed just before a rotation still verify.
 */

interface LoadedKeys {
  signing: { kid: string; key: JoseKey | Uint8Array };
  /** The public keys by kid, as a jose key lookup: one function, so the direct check's memory of keys serves. */
  verification: JWTVerifyGetKey;
  jwks: { keys: JWK[] };
}

const loaded = new WeakMap<SigningJwk[], Promise<LoadedKeys>>();

async function load(keys: SigningJwk[]): Promise<LoadedKeys> {
  const byKid = new Map<string, JoseKey | Uint8Array>();
  const publicKeys: JWK[] = [];
  for (const jwk of keys) {
    // The public half only: never publish `d`.
    const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: jwk.kid, alg: PASS_ALG, use: "sig" };
    byKid.set(jwk.kid, await importJWK(publicJwk, PASS_ALG));
    publicKeys.push(publicJwk);
  }
  const newest = keys[0]!;
  const signingKey = await importJWK({ ...newest, alg: PASS_ALG }, PASS_ALG);
  const verification: JWTVerifyGetKey = (header) => {
    const key = header.kid === undefined ? undefined : byKid.get(header.kid);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };
  return { signing: { kid: newest.kid, key: signingKey }, verification, jwks: { keys: publicKeys } };
}

function keysOf(config: EdgeConfig): Promise<LoadedKeys> {
  let keys = loaded.get(config.signingKeys);
  if (!keys) {
    keys = load(config.signingKeys);
    loaded.set(config.signingKeys, keys);
  }
  return keys;
}

/** The public keys as a JWKS document. */
export async function publicJwks(config: EdgeConfig): Promise<{ keys: JWK[] }> {
  return (await keysOf(config)).jwks;
}

/**
 * What the edge decides about a pass; the issuer, audience and `nbf` (= `iat`) come from its configuration
 * and the signing. `iat` is fixed at first claim, so that every re-issue of the pass says the same.
 */
export type PassFields = Pick<PassClaims, "sub" | "jti" | "cohort" | "shard" | "seq" | "iat" | "exp">;

export async function signPass(config: EdgeConfig, p: PassFields): Promise<string> {
  const { signing } = await keysOf(config);
  return new SignJWT({ cohort: p.cohort, shard: p.shard, seq: p.seq })
    .setProtectedHeader({ alg: PASS_ALG, kid: signing.kid, typ: "JWT" })
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setSubject(p.sub)
    .setJti(p.jti)
    .setIssuedAt(p.iat)
    .setNotBefore(p.iat)
    .setExpirationTime(p.exp)
    .sign(signing.key);
}

/** The newest signing key and its kid: what signs passes, and booking access (tokens/booking-access.ts). */
export async function signingKey(config: EdgeConfig): Promise<{ kid: string; key: JoseKey | Uint8Array }> {
  return (await keysOf(config)).signing;
}

/** The public keys this edge signs with, by kid, as a jose key lookup. */
export async function verificationKeys(config: EdgeConfig): Promise<JWTVerifyGetKey> {
  return (await keysOf(config)).verification;
}

/**
 * Verifies a pass with the contract's one check, exactly as the origin does, against the keys this edge
 * signs with. Never throws on bad input; the failure's code is kept for logs.
 */
export async function verifyPass(config: EdgeConfig, token: string): Promise<PassCheck> {
  return checkPass(token, await verificationKeys(config), { issuer: config.issuer, audience: config.audience, passTtlSeconds: config.passTtlSeconds });
}

// The id_token and ticket checks branch on jose codes too.
export { joseCode };
