import { randomUUID } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { BOOKING_ACCESS_SCOPE, BOOKING_ACCESS_TTL_SECONDS, BOOKING_ACCESS_TYP } from "../../../src/contract/booking-access.js";
import type { PassClaims } from "../../../src/contract/pass.js";

export const ISSUER = "https://waiting-room.test";
export const AUDIENCE = "booking-origin-test";
export const COHORT = "55-59";
/** The lifetime the edge gives passes in these tests (wrangler.toml's PASS_TTL_SECONDS). */
export const PASS_TTL_SECONDS = 900;

/** A signing key made for one test file; private keys are never written anywhere. */
export interface PassKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  jwks: { keys: Array<JWK & { kty: string }> };
}

export async function makePassKeys(): Promise<PassKeys> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `test-${randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { kid, privateKey, publicKey, publicJwk, jwks: { keys: [{ ...publicJwk, kty: publicJwk.kty ?? "EC" }] } };
}

export function newCitizen(): string {
  return `citizen-${randomUUID()}`;
}

/** Claims the edge would put in a pass for a fresh citizen; override any to test a refusal. */
export function passClaimsFor(overrides: Partial<Record<keyof PassClaims, unknown>> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: newCitizen(),
    jti: randomUUID(),
    cohort: COHORT,
    shard: 0,
    seq: 1,
    iat: now,
    nbf: now,
    exp: now + PASS_TTL_SECONDS,
    ...overrides,
  };
}

/** Signs a pass as the edge does: ES256 with `kid` in the header. */
export function signPass(keys: PassKeys, claims: Record<string, unknown> = passClaimsFor()): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: "JWT" }).sign(keys.privateKey);
}

/** The public key as PEM text: what an attacker would use as an HMAC secret in the HS256 confusion. */
export function publicKeyPem(keys: PassKeys): Promise<string> {
  return exportSPKI(keys.publicKey);
}

/** Booking access as the edge signs it for a citizen who signed in again; override any claim or the header's `typ`. */
export function signAccess(keys: PassKeys, sub: string, overrides: Record<string, unknown> = {}, typ: string = BOOKING_ACCESS_TYP): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, aud: AUDIENCE, sub, jti: randomUUID(), cohort: COHORT, scope: BOOKING_ACCESS_SCOPE, iat: now, nbf: now, exp: now + BOOKING_ACCESS_TTL_SECONDS, ...overrides };
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: keys.kid, typ }).sign(keys.privateKey);
}
