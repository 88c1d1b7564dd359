import { base64url, errors, jwtVerify, type CompactJWSHeaderParameters, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { z } from "zod";

/**
 * The pass: the only thing the origin trusts. An ES256 JWT signed at the edge once a citizen's turn
 * has come; the edge's booking gate and the origin both verify it, with the one check below, so the two
 * can never disagree about which passes are good.
 */
export const PASS_ALG = "ES256";
/** The cookie that carries the pass for the page (HttpOnly, path /api); apps send `Authorization: Bearer`. */
export const PASS_COOKIE = "wr_pass";
/** Claims every pass carries, beyond what `jwtVerify` checks for `iss`/`aud`/`exp`. */
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

/** A pass-verification key as the edge publishes it: the public half of an ES256 key, named by `kid`. */
export const passPublicJwk = z.object({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string().min(1),
  y: z.string().min(1),
  kid: z.string().min(1),
  alg: z.literal(PASS_ALG),
  use: z.literal("sig"),
});

/** `GET /.well-known/jwks.json`: every key a live pass may be signed with, the newest (signing) one first. */
export const passJwks = z.object({ keys: z.array(passPublicJwk).min(1) });

/**
 * How far the verifier's clock may disagree with the signer's. The edge signs in one place (the status
 * route, wherever the citizen's request lands) and the gate and the origin verify on other machines, each
 * with its own clock; NTP keeps servers within well under a second, and `iat`/`exp` are whole seconds, so
 * 5 s absorbs a poorly synced machine and the rounding without refusing a pass signed "now". It lets an
 * expired pass live at most 5 s more, under 1% of a 900 s pass: far less than a stolen pass would need.
 */
export const PASS_CLOCK_SKEW_SECONDS = 5;

/**
 * Clocks differ and `iat`/`exp` are whole seconds, so a pass may span its lifetime plus this. Anything
 * longer was not signed by an edge honouring PASS_TTL_SECONDS: a stolen signing key, or a bug.
 */
export const PASS_LIFETIME_TOLERANCE_SECONDS = 5;

/** A pass longer than this is refused before it is parsed: no edge signs one anywhere near it. */
export const PASS_MAX_LENGTH = 4096;

/** What a verifier must know that the pass itself cannot tell it: who signs passes, for whom, for how long. */
export interface PassExpectations {
  issuer: string;
  audience: string;
  /** The edge's PASS_TTL_SECONDS. */
  passTtlSeconds: number;
}

/**
 * The one set of verify options: ES256 only, this issuer and audience, every claim the contract
 * requires, the clock skew above, and an `iat` neither in the future nor older than a pass can live.
 */
export function passVerifyOptions(expected: PassExpectations): JWTVerifyOptions {
  return {
    algorithms: [PASS_ALG],
    issuer: expected.issuer,
    audience: expected.audience,
    requiredClaims: [...PASS_REQUIRED_CLAIMS],
    clockTolerance: PASS_CLOCK_SKEW_SECONDS,
    maxTokenAge: expected.passTtlSeconds + PASS_LIFETIME_TOLERANCE_SECONDS,
  };
}

/** Whether a pass claims a longer life than the configured `PASS_TTL_SECONDS` allows. */
export function outlivesPassLifetime(claims: Pick<PassClaims, "iat" | "exp">, passTtlSeconds: number): boolean {
  return claims.exp - claims.iat > passTtlSeconds + PASS_LIFETIME_TOLERANCE_SECONDS;
}

/**
 * Why a pass was refused: a jose error code (`ERR_JWT_EXPIRED`, …) or one of ours (`ERR_PASS_…`), and the
 * error itself when there was one, for a verifier that says more (which claim) or logs its own failures.
 */
export type PassCheck = { ok: true; pass: PassClaims } | { ok: false; code: string; error?: unknown };

/** A JOSE error of our own, so callers branch on its code like on jose's. */
export class PassWithoutKid extends errors.JOSEError {
  static override code = "ERR_PASS_NO_KID";
  override code = "ERR_PASS_NO_KID";
  constructor() {
    super("the pass names no signing key (kid)");
  }
}

/**
 * Keys rotate, and the edge names the signing key in every pass: a pass without `kid` is not one the edge
 * signed, and refusing it keeps a key set of one key from quietly accepting it by elimination.
 */
function requireKid(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  return (header, token) => {
    if (typeof header.kid !== "string" || header.kid === "") throw new PassWithoutKid();
    return keys(header, token);
  };
}

/**
 * Checks an ES256 signature (IEEE P1363, r‖s) over a compact JWS's signing input, with the key `keys`
 * resolved for its header. WebCrypto by default, which the edge's runtime does natively. The Node origin
 * passes node:crypto's synchronous verify instead (src/origin/node-signature.ts): Node's WebCrypto runs
 * each verify as a thread-pool job whose promise glue costs its main thread more than the verify itself.
 */
export type PassSignatureCheck = (key: CryptoKey, signature: Uint8Array, signingInput: Uint8Array) => boolean | Promise<boolean>;

export const webCryptoSignatureCheck: PassSignatureCheck = (key, signature, signingInput) =>
  crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signingInput);

/**
 * Verifies a pass: the options above, a `kid` in the header that `keys` knows, claims of the contract's
 * shape, and a lifetime no longer than PASS_TTL_SECONDS. Never throws, so no pass can produce a 5xx.
 *
 * A pass as the edge signs it is checked directly (`checkSignedAsTheEdgeSigns`); anything else, and any
 * pass whose claims fail there, goes through jose's `jwtVerify`, which then decides and says why.
 */
export async function checkPass(
  token: string,
  keys: JWTVerifyGetKey,
  expected: PassExpectations,
  signatureCheck: PassSignatureCheck = webCryptoSignatureCheck,
): Promise<PassCheck> {
  if (token.length > PASS_MAX_LENGTH) return { ok: false, code: "ERR_PASS_TOO_LONG" };
  const direct = await checkSignedAsTheEdgeSigns(token, requireKid(keys), expected, signatureCheck);
  if (direct) return direct;
  try {
    const { payload } = await jwtVerify(token, requireKid(keys), passVerifyOptions(expected));
    return contractClaims(payload, expected);
  } catch (error) {
    return { ok: false, code: joseCode(error), error };
  }
}

/** The contract's shape and lifetime, once the signature and jose's claim rules hold. */
function contractClaims(payload: unknown, expected: PassExpectations): PassCheck {
  const claims = passClaims.safeParse(payload);
  if (!claims.success) return { ok: false, code: "ERR_PASS_CLAIMS" };
  if (outlivesPassLifetime(claims.data, expected.passTtlSeconds)) return { ok: false, code: "ERR_PASS_LIFETIME" };
  return { ok: true, pass: claims.data };
}

/** Three base64url parts, the last of 86 characters: the 64 bytes of an ES256 signature, unpadded. */
const COMPACT_ES256 = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})$/;
/** The header members the edge writes (`signPass`): with no others, none of jose's header rules can apply. */
const EDGE_HEADER_MEMBERS = new Set(["alg", "kid", "typ"]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

/** A JWS part's JSON object, as jose reads one (strict UTF-8, a top-level object), or undefined. */
function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(base64url.decode(part)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isEs256VerifyKey(key: unknown): key is CryptoKey {
  if (typeof CryptoKey === "undefined" || !(key instanceof CryptoKey)) return false;
  const algorithm = key.algorithm as { name?: string; namedCurve?: string };
  return key.type === "public" && algorithm.name === "ECDSA" && algorithm.namedCurve === "P-256" && key.usages.includes("verify");
}

/** jose's failing conditions for `passVerifyOptions`' claims (its validateClaimsSet), none of them missed. */
function claimsHold(claims: Record<string, unknown>, expected: PassExpectations): boolean {
  if (!PASS_REQUIRED_CLAIMS.every((claim) => Object.hasOwn(claims, claim))) return false;
  const { iss, aud, iat, nbf, exp } = claims;
  if (iss !== expected.issuer) return false;
  if (!(aud === expected.audience || (Array.isArray(aud) && aud.includes(expected.audience)))) return false;
  if (typeof iat !== "number" || typeof nbf !== "number" || typeof exp !== "number") return false;
  const now = Math.floor(Date.now() / 1000);
  const age = now - iat;
  return (
    nbf <= now + PASS_CLOCK_SKEW_SECONDS &&
    exp > now - PASS_CLOCK_SKEW_SECONDS &&
    age - PASS_CLOCK_SKEW_SECONDS <= expected.passTtlSeconds + PASS_LIFETIME_TOLERANCE_SECONDS &&
    age >= -PASS_CLOCK_SKEW_SECONDS
  );
}

/**
 * Every booking verifies a pass, and jose's general path (WebCrypto's job and promises, its header, key
 * and claim machinery) costs the origin more than the signature itself. A token shaped exactly as the
 * edge signs a pass (compact, base64url, a header of `alg` ES256, `kid` and `typ` only, an ES256-sized
 * signature) is checked here: the key from `keys` as jose would ask for it, the signature by
 * `signatureCheck`, and jose's claim rules. It accepts only what jwtVerify accepts: for such a header none
 * of jose's header rules (crit, b64, algorithms) can refuse, the key and signing input are the ones jose
 * would use, and the claim conditions are jose's. A key lookup that throws or a bad signature is refused
 * here with the error jose would raise at the same step. Anything else returns undefined, and jose decides:
 * another header, a key that is not an ES256 public key, a payload that is not an object, or claims that
 * fail (an expired pass, a wrong audience), whose refusal jose words.
 */
async function checkSignedAsTheEdgeSigns(
  token: string,
  keys: JWTVerifyGetKey,
  expected: PassExpectations,
  signatureCheck: PassSignatureCheck,
): Promise<PassCheck | undefined> {
  const parts = COMPACT_ES256.exec(token);
  if (!parts) return undefined;
  const [, protectedHeader, payload, signature] = parts as unknown as [string, string, string, string];
  const header = jsonObject(protectedHeader);
  if (!header || header.alg !== PASS_ALG || !Object.keys(header).every((member) => EDGE_HEADER_MEMBERS.has(member))) return undefined;
  let key: unknown;
  try {
    key = await keys(header as CompactJWSHeaderParameters, { protected: protectedHeader, payload, signature });
  } catch (error) {
    return { ok: false, code: joseCode(error), error };
  }
  if (!isEs256VerifyKey(key)) return undefined;
  let verified: boolean;
  try {
    verified = await signatureCheck(key, base64url.decode(signature), encoder.encode(`${protectedHeader}.${payload}`));
  } catch {
    return undefined;
  }
  if (!verified) return { ok: false, code: errors.JWSSignatureVerificationFailed.code, error: new errors.JWSSignatureVerificationFailed() };
  const claims = jsonObject(payload);
  if (!claims || !claimsHold(claims, expected)) return undefined;
  return contractClaims(claims, expected);
}

/** jose errors carry a stable `code`; branch on it, never on message text. */
export function joseCode(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return "ERR_UNKNOWN";
}
