import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey } from "jose";
import { checkBookingAccess, namesBookingAccess, type BookingAccessClaims } from "../contract/booking-access.js";
import type { SignatureCheck } from "../contract/direct-jwt.js";
import { checkPass, PASS_ALG, type PassClaims, type PassExpectations } from "../contract/pass.js";
import type { PassKeySource } from "./config.js";

/**
 * What the edge signs and the origin trusts: a pass (admitted from the line), or booking access (a
 * citizen who signed in again to reach the booking they hold; src/contract/booking-access.ts).
 */
export type Credential = { kind: "pass"; pass: PassClaims } | { kind: "access"; access: BookingAccessClaims };
export type CredentialVerification = { ok: true; credential: Credential } | { ok: false; reason: string };
/** Checks a pass or booking access and says why it is refused; it never throws, so no token can produce a 5xx. */
export type CredentialVerifier = (token: string) => Promise<CredentialVerification>;

/** Where the edge's public keys come from, and what the contract's check expects of a pass. */
export interface PassVerifierOptions extends PassExpectations {
  keys: PassKeySource;
  /** How a pass's signature is checked; WebCrypto unless given (the Node entry gives node:crypto's). */
  signatureCheck?: SignatureCheck;
}

// The edge rotates keys by adding the new one to its JWKS before signing with it, so ten minutes of
// caching is safe; an unknown `kid` still triggers a refetch, at most every 30 s, so a forged `kid`
// cannot make the origin hammer the edge.
const REMOTE_JWKS_OPTIONS = { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 3_000 };

function keySet(source: PassKeySource): JWTVerifyGetKey {
  return source.kind === "remote"
    ? createRemoteJWKSet(new URL(source.url), REMOTE_JWKS_OPTIONS)
    : createLocalJWKSet(source.jwks);
}

function refusal(code: string, err: unknown, what: string): string {
  switch (code) {
    case "ERR_PASS_TOO_LONG":
      return `${what} is malformed`;
    case "ERR_PASS_CLAIMS":
      return `${what}'s claims are malformed`;
    case "ERR_PASS_LIFETIME":
      return `${what} claims a longer life than it is given`;
    case "ERR_PASS_NO_KID":
      return `${what} names no signing key`;
    case "ERR_JWT_EXPIRED":
      return `${what} has expired`;
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      if (!(err instanceof errors.JWTClaimValidationFailed)) return `${what} could not be verified`;
      const { claim, reason } = err;
      if (reason === "missing") return `${what} lacks the "${claim}" claim`;
      if (claim === "nbf" || claim === "iat") return `${what} is not valid yet`;
      if (claim === "iss" || claim === "aud") return `${what} was not issued for this service`;
      return `${what}'s "${claim}" claim is not valid`;
    }
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return `${what} must be signed with ${PASS_ALG}`;
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return `${what}'s signature is not valid`;
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return `${what} is malformed`;
    default:
      return `${what} could not be verified`;
  }
}

// Failures that are the origin's own (the edge's key set unreachable) rather than the pass's: still a
// 401 to the client, but an operator needs to hear about them.
const OPERATOR_FACING = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"]);

/**
 * Verifies passes and booking access with the contract's checks (the edge's gate uses the same), saying
 * why one is refused. The two share the edge's keys; each check refuses the other kind.
 */
export function createCredentialVerifier(options: PassVerifierOptions): CredentialVerifier {
  const keys = keySet(options.keys);
  return async (token) => {
    const access = namesBookingAccess(token);
    const check = access ? await checkBookingAccess(token, keys, options) : await checkPass(token, keys, options, options.signatureCheck);
    if (check.ok) return { ok: true, credential: "access" in check ? { kind: "access", access: check.access } : { kind: "pass", pass: check.pass } };
    if (check.error !== undefined && (!(check.error instanceof errors.JOSEError) || OPERATOR_FACING.has(check.code))) {
      console.error("origin: pass verification failed on our side:", check.error);
    }
    return { ok: false, reason: refusal(check.code, check.error, access ? "the booking access" : "the pass") };
  };
}
