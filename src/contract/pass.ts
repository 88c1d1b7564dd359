import { errors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { checkJwtDirectly, directRules, joseCode, type SignatureCheck } from "./direct-jwt.js";
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

// One wrapper per key lookup, made once: the direct check remembers keys per lookup function.
const kidRequired = new WeakMap<JWTVerifyGetKey, JWTVerifyGetKey>();

/**
 * Keys rotate, and the edge names the signing key in every pass: a pass without `kid` is not one the edge
 * signed, and refusing it keeps a key set of one key from quietly accepting it by elimination.
 */
function requireKid(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  let named = kidRequired.get(keys);
  if (!named) {
    named = (header, token) => {
      if (typeof header.kid !== "string" || header.kid === "") throw new PassWithoutKid();
      return keys(header, token);
    };
    kidRequired.set(keys, named);
  }
  return named;
}

/**
 * Verifies a pass: the options above, a `kid` in the header that `keys` knows, claims of the contract's
 * shape, and a lifetime no longer than PASS_TTL_SECONDS. Never throws, so no pass can produce a 5xx.
 *
 * Every booking verifies a pass, so a pass as the edge signs it is checked without jose's general path
 * (src/contract/direct-jwt.ts), its signature by `signatureCheck`: WebCrypto unless given (the Node
 * origin gives node:crypto's, src/origin/node-signature.ts). Anything else, and any pass whose claims
 * fail there, goes through jose's jwtVerify, which then decides and says why.
 */
export async function checkPass(token: string, keys: JWTVerifyGetKey, expected: PassExpectations, signatureCheck?: SignatureCheck): Promise<PassCheck> {
  if (token.length > PASS_MAX_LENGTH) return { ok: false, code: "ERR_PASS_TOO_LONG" };
  const options = passVerifyOptions(expected);
  const named = requireKid(keys);
  const direct = await checkJwtDirectly(token, named, directRules(options), signatureCheck);
  if (direct && !direct.ok) return direct;
  try {
    const payload = direct ? direct.payload : (await jwtVerify(token, named, options)).payload;
    const claims = passClaims.safeParse(payload);
    if (!claims.success) return { ok: false, code: "ERR_PASS_CLAIMS" };
    if (outlivesPassLifetime(claims.data, expected.passTtlSeconds)) return { ok: false, code: "ERR_PASS_LIFETIME" };
    return { ok: true, pass: claims.data };
  } catch (error) {
    return { ok: false, code: joseCode(error), error };
  }
}

export { joseCode };
