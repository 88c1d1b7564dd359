import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey } from "jose";
import { checkPass, PASS_ALG, type PassClaims, type PassExpectations } from "../contract/pass.js";
import type { PassKeySource } from "./config.js";

export type PassVerification = { ok: true; pass: PassClaims } | { ok: false; reason: string };
/** Checks a pass and says why it is refused; it never throws, so no pass can produce a 5xx. */
export type PassVerifier = (token: string) => Promise<PassVerification>;

/** Where the edge's public keys come from, and what the contract's check expects of a pass. */
export interface PassVerifierOptions extends PassExpectations {
  keys: PassKeySource;
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

function refusal(code: string, err: unknown): string {
  switch (code) {
    case "ERR_PASS_TOO_LONG":
      return "the pass is malformed";
    case "ERR_PASS_CLAIMS":
      return "the pass's claims are malformed";
    case "ERR_PASS_LIFETIME":
      return "the pass claims a longer life than passes are given";
    case "ERR_PASS_NO_KID":
      return "the pass names no signing key";
    case "ERR_JWT_EXPIRED":
      return "the pass has expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      if (!(err instanceof errors.JWTClaimValidationFailed)) return "the pass could not be verified";
      const { claim, reason } = err;
      if (reason === "missing") return `the pass lacks the "${claim}" claim`;
      if (claim === "nbf" || claim === "iat") return "the pass is not valid yet";
      if (claim === "iss" || claim === "aud") return "the pass was not issued for this service";
      return `the pass's "${claim}" claim is not valid`;
    }
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return `the pass must be signed with ${PASS_ALG}`;
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "the pass's signature is not valid";
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return "the pass is malformed";
    default:
      return "the pass could not be verified";
  }
}

// Failures that are the origin's own (the edge's key set unreachable) rather than the pass's: still a
// 401 to the client, but an operator needs to hear about them.
const OPERATOR_FACING = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"]);

/** Verifies passes with the contract's one check (the edge's gate uses the same), saying why one is refused. */
export function createPassVerifier(options: PassVerifierOptions): PassVerifier {
  const keys = keySet(options.keys);
  return async (token) => {
    const check = await checkPass(token, keys, options);
    if (check.ok) return check;
    if (check.error !== undefined && (!(check.error instanceof errors.JOSEError) || OPERATOR_FACING.has(check.code))) {
      console.error("origin: pass verification failed on our side:", check.error);
    }
    return { ok: false, reason: refusal(check.code, check.error) };
  };
}
