import { importJWK, jwtVerify, SignJWT, type CryptoKey as JoseKey, type JWK } from "jose";
import { outlivesPassLifetime, PASS_ALG, PASS_REQUIRED_CLAIMS, passClaims, type PassClaims } from "../contract/pass.js";
import type { EdgeConfig, SigningJwk } from "./config.js";

/**
 * Passes: short-lived ES256 JWTs the edge signs once a citizen's turn has come. The origin trusts nothing
 * else. Keys rotate: PASS_SIGNING_KEYS lists private keys newest first; the newest signs, and all of them
 * are published in the JWKS so passes signed just before a rotation still verify.
 */

interface LoadedKeys {
  signing: { kid: string; key: JoseKey | Uint8Array };
  /** Public keys by kid, for verification. */
  byKid: Map<string, JoseKey | Uint8Array>;
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
  return { signing: { kid: newest.kid, key: signingKey }, byKid, jwks: { keys: publicKeys } };
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

export type PassCheck = { ok: true; pass: PassClaims } | { ok: false; code: string };

/**
 * Verifies a pass exactly as the origin does: ES256 only, a known kid, issuer, audience, time claims,
 * every required claim, and a lifetime no longer than PASS_TTL_SECONDS. Never throws on bad input; the failure's jose code is kept for logs.
 */
export async function verifyPass(config: EdgeConfig, token: string): Promise<PassCheck> {
  if (token.length > 4096) return { ok: false, code: "ERR_TOO_LONG" };
  const { byKid } = await keysOf(config);
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid === undefined ? undefined : byKid.get(header.kid);
        if (!key) throw Object.assign(new Error("unknown kid"), { code: "ERR_JWKS_NO_MATCHING_KEY" });
        return key;
      },
      { algorithms: [PASS_ALG], issuer: config.issuer, audience: config.audience, requiredClaims: [...PASS_REQUIRED_CLAIMS] },
    );
    const claims = passClaims.safeParse(payload);
    if (!claims.success) return { ok: false, code: "ERR_PASS_CLAIMS" };
    if (outlivesPassLifetime(claims.data, config.passTtlSeconds)) return { ok: false, code: "ERR_PASS_LIFETIME" };
    return { ok: true, pass: claims.data };
  } catch (err) {
    return { ok: false, code: joseCode(err) };
  }
}

/** jose errors carry a stable `code`; branch on it, never on message text. */
export function joseCode(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return "ERR_UNKNOWN";
}
