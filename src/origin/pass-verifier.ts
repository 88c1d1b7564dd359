import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { outlivesPassLifetime, PASS_ALG, PASS_REQUIRED_CLAIMS, passClaims, type PassClaims } from "../contract/pass.js";
import type { PassKeySource } from "./config.js";

export type PassVerification = { ok: true; pass: PassClaims } | { ok: false; reason: string };
/** Checks a pass and says why it is refused; it never throws, so no pass can produce a 5xx. */
export type PassVerifier = (token: string) => Promise<PassVerification>;

export interface PassVerifierOptions {
  keys: PassKeySource;
  issuer: string;
  audience: string;
  /** The edge's PASS_TTL_SECONDS: a pass claiming a longer life is refused. */
  passTtlSeconds: number;
}

// The edge rotates keys by adding the new one to its JWKS before signing with it, so ten minutes of
// caching is safe; an unknown `kid` still triggers a refetch, at most every 30 s, so a forged `kid`
// cannot make the origin hammer the edge.
const REMOTE_JWKS_OPTIONS = { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 3_000 };
// The edge and the origin keep separate clocks; a pass signed "now" must not be refused as not yet
// valid because the origin's clock is a second behind.
const CLOCK_TOLERANCE_SECONDS = 5;

function keySet(source: PassKeySource): JWTVerifyGetKey {
  return source.kind === "remote"
    ? createRemoteJWKSet(new URL(source.url), REMOTE_JWKS_OPTIONS)
    : createLocalJWKSet(source.jwks);
}

function refusal(err: unknown): string {
  if (!(err instanceof errors.JOSEError)) return "the pass could not be verified";
  switch (err.code) {
    case "ERR_JWT_EXPIRED":
      return "the pass has expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const { claim, reason } = err as errors.JWTClaimValidationFailed;
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

/** Verifies passes: ES256 only, this issuer and audience, every claim the contract requires. */
export function createPassVerifier(options: PassVerifierOptions): PassVerifier {
  const keys = keySet(options.keys);
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        algorithms: [PASS_ALG],
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: [...PASS_REQUIRED_CLAIMS],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const claims = passClaims.safeParse(payload);
      if (!claims.success) return { ok: false, reason: "the pass's claims are malformed" };
      if (outlivesPassLifetime(claims.data, options.passTtlSeconds)) return { ok: false, reason: "the pass claims a longer life than passes are given" };
      return { ok: true, pass: claims.data };
    } catch (err) {
      if (!(err instanceof errors.JOSEError) || OPERATOR_FACING.has(err.code)) {
        console.error("origin: pass verification failed on our side:", err);
      }
      return { ok: false, reason: refusal(err) };
    }
  };
}
