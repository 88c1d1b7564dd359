import { errors, type CompactJWSHeaderParameters, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { decodeBase64url } from "./base64url.js";

/**
 * A signed JWT checked without jose's general path, for the two checks the surge path makes on every
 * request of its kind: the id_token of every join (src/edge/identity/id-token.ts) and the pass of every
 * booking (src/contract/pass.ts). jose's jwtVerify handles every JWS form, header rule and key kind, and
 * on the common token that machinery (its awaits, key preparation, option validation, claim validator)
 * costs about as much as the signature arithmetic itself.
 *
 * The check here takes only the common form, a compact JWS whose protected header holds nothing but
 * `alg`, `kid` and `typ`, and accepts only what jwtVerify would accept with the same options: for such a
 * header none of jose's header rules (crit, b64, algorithms beyond the allowed) can refuse, the key comes
 * from the same lookup called as jose calls it (or is the one it gave for the same header at most
 * KEY_REMEMBERED_MS ago), the signing input and the signature bytes are the ones
 * jose would verify, and the claim conditions are jose's validateClaimsSet's for these options. It
 * refuses, with the error jose would raise at the same step, a key lookup that throws and a signature that
 * does not verify. For anything else (another form or header, a key jose would refuse or prepare, a
 * payload that is not an object, claims that fail) it returns undefined, and the caller asks jwtVerify,
 * which decides and says why.
 */

/** The signature algorithms checked directly, as JWS names them. */
export type DirectAlgorithm = "ES256" | "RS256" | "PS256";

/** The subset of jwtVerify's options these checks use, with the same meaning. */
export interface DirectJwtRules {
  algorithms: readonly string[];
  issuer: string;
  audience: string;
  requiredClaims: readonly string[];
  /** Seconds. */
  clockTolerance: number;
  /** Seconds. */
  maxTokenAge: number;
}

/** jwtVerify's options as the direct check takes them (the same values, so the two cannot differ). */
export function directRules(options: JWTVerifyOptions): DirectJwtRules {
  const { algorithms, issuer, audience, requiredClaims, clockTolerance, maxTokenAge } = options;
  if (!algorithms || typeof issuer !== "string" || typeof audience !== "string" || typeof clockTolerance !== "number" || typeof maxTokenAge !== "number") {
    throw new TypeError("the direct check takes one issuer and audience, an algorithm list and numeric times");
  }
  return { algorithms, issuer, audience, requiredClaims: requiredClaims ?? [], clockTolerance, maxTokenAge };
}

/**
 * Checks a signature over a compact JWS's signing input with the key the lookup gave (an allowed
 * algorithm's key, already checked to be one jose would use as it is). WebCrypto unless another is given.
 */
export type SignatureCheck = (alg: DirectAlgorithm, key: CryptoKey, signature: Uint8Array, signingInput: Uint8Array) => boolean | Promise<boolean>;

const WEBCRYPTO_PARAMS: Record<DirectAlgorithm, Parameters<SubtleCrypto["verify"]>[0]> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
};

export const webCryptoSignatureCheck: SignatureCheck = (alg, key, signature, signingInput) =>
  crypto.subtle.verify(WEBCRYPTO_PARAMS[alg], key, signature, signingInput);

export type DirectVerdict = { ok: true; payload: Record<string, unknown> } | { ok: false; code: string; error: unknown };

/** Three base64url parts, none empty. */
const COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
/** The header members checked directly: with no others, none of jose's header rules can apply. */
const PLAIN_HEADER_MEMBERS = new Set(["alg", "kid", "typ"]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

/** A JWS part's JSON object, as jose reads one (strict UTF-8, a top-level object), or undefined. */
function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(decodeBase64url(part)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/*
 * In a surge every token from one signer carries the same protected header, character for character, so
 * its decoding and the key the lookup gives for it are remembered by that text. Each memory is a Map kept
 * in insertion order and bounded: past HEADERS_REMEMBERED the oldest entry goes, so headers made up by a
 * client only push out others (which are then decoded and looked up again, as without memory), and a
 * header longer than any signer writes is never kept.
 */
const HEADERS_REMEMBERED = 64;
const LONGEST_HEADER_REMEMBERED = 512;

function remember<V>(memory: Map<string, V>, protectedHeader: string, value: V): void {
  if (protectedHeader.length > LONGEST_HEADER_REMEMBERED) return;
  memory.delete(protectedHeader);
  memory.set(protectedHeader, value);
  if (memory.size > HEADERS_REMEMBERED) memory.delete(memory.keys().next().value!);
}

/** A protected header as decoded (frozen: it is shared by every token that carries it). */
export type ProtectedHeader = Readonly<Record<string, unknown>>;

/** Decoded protected headers by their text; decoding depends on the text alone. */
const decodedHeaders = new Map<string, ProtectedHeader>();

function decodedHeader(protectedHeader: string): ProtectedHeader | undefined {
  let header = decodedHeaders.get(protectedHeader);
  if (!header) {
    const decoded = jsonObject(protectedHeader);
    if (!decoded) return undefined;
    header = Object.freeze(decoded);
    remember(decodedHeaders, protectedHeader, header);
  }
  return header;
}

/**
 * The protected header a token carries, exactly as jose's decodeProtectedHeader reads it (the first of 3
 * or 5 parts, strict UTF-8, a JSON object), or undefined where that throws; before the token is verified,
 * so only to choose which check runs. Remembered with the direct check's own decoding, so a token whose
 * header is checked directly next is decoded once.
 */
export function protectedHeaderOf(token: string): ProtectedHeader | undefined {
  const first = token.indexOf(".");
  if (first <= 0) return undefined;
  let parts = 2;
  for (let dot = token.indexOf(".", first + 1); dot !== -1; dot = token.indexOf(".", dot + 1)) parts++;
  return parts === 3 || parts === 5 ? decodedHeader(token.slice(0, first)) : undefined;
}

/**
 * How long a key the lookup gave is used for its header without asking the lookup again. A fetched key set
 * (createRemoteJWKSet) itself keeps the keys it fetched for its cacheMaxAge (ten minutes at the edge and the
 * origin) before it notices one was withdrawn, so revoking a key already waits up to that long; 30 s more
 * is well inside it, and after 30 s the lookup is asked again, which lets a fetched set refresh as it
 * would have. An inline key set never changes.
 */
export const KEY_REMEMBERED_MS = 30_000;

/** A header the direct check takes, and the key its lookup gave, usable until `until` (ms). */
interface RememberedKey {
  alg: DirectAlgorithm;
  key: CryptoKey;
  until: number;
}

/** Per key lookup (its function: a lookup chooses by the protected header alone, as jose's key sets do). */
const rememberedKeys = new WeakMap<JWTVerifyGetKey, Map<string, RememberedKey>>();

function isDirectAlgorithm(alg: unknown): alg is DirectAlgorithm {
  return alg === "ES256" || alg === "RS256" || alg === "PS256";
}

/** Whether jose would verify `alg` with `key` as it is (its key-type, curve, hash and RSA size checks). */
function usableAsIs(alg: DirectAlgorithm, key: unknown): key is CryptoKey {
  if (typeof CryptoKey === "undefined" || !(key instanceof CryptoKey)) return false;
  if (key.type !== "public" || !key.usages.includes("verify")) return false;
  const algorithm = key.algorithm as { name?: string; namedCurve?: string; hash?: { name?: string }; modulusLength?: number };
  if (alg === "ES256") return algorithm.name === "ECDSA" && algorithm.namedCurve === "P-256";
  const name = alg === "RS256" ? "RSASSA-PKCS1-v1_5" : "RSA-PSS";
  return algorithm.name === name && algorithm.hash?.name === "SHA-256" && (algorithm.modulusLength ?? 0) >= 2048;
}

/** None of validateClaimsSet's failing conditions for `rules` holds (each of them is checked). */
function claimsHold(claims: Record<string, unknown>, rules: DirectJwtRules): boolean {
  // maxTokenAge, audience and issuer make iat, aud and iss required too.
  for (const claim of [...rules.requiredClaims, "iat", "aud", "iss"]) if (!Object.hasOwn(claims, claim)) return false;
  const { iss, aud, iat, nbf, exp } = claims;
  if (iss !== rules.issuer) return false;
  if (!(aud === rules.audience || (Array.isArray(aud) && aud.includes(rules.audience)))) return false;
  if (typeof iat !== "number") return false;
  if (nbf !== undefined && typeof nbf !== "number") return false;
  if (exp !== undefined && typeof exp !== "number") return false;
  const now = Math.floor(Date.now() / 1000);
  const tolerance = rules.clockTolerance;
  if (nbf !== undefined && nbf > now + tolerance) return false;
  if (exp !== undefined && exp <= now - tolerance) return false;
  const age = now - iat;
  return age - tolerance <= rules.maxTokenAge && age >= -tolerance;
}

/** jose errors carry a stable `code` (ours are shaped alike); branch on it, never on message text. */
export function joseCode(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : "ERR_UNKNOWN";
}

/**
 * See the module's comment. undefined: not taken here; ask jwtVerify. The key for a header is remembered
 * per `keys` for `keyRememberedMs` (KEY_REMEMBERED_MS), so `keys` must choose by the protected header alone,
 * as jose's key sets do, and be the same function from one token to the next for the memory to serve.
 */
export async function checkJwtDirectly(
  token: string,
  keys: JWTVerifyGetKey,
  rules: DirectJwtRules,
  signatureCheck: SignatureCheck = webCryptoSignatureCheck,
  keyRememberedMs: number = KEY_REMEMBERED_MS,
): Promise<DirectVerdict | undefined> {
  const parts = COMPACT.exec(token);
  if (!parts) return undefined;
  const [, protectedHeader, payload, signature] = parts as unknown as [string, string, string, string];
  const now = Date.now();
  let remembered = rememberedKeys.get(keys)?.get(protectedHeader);
  if (!remembered || remembered.until <= now || !rules.algorithms.includes(remembered.alg)) {
    const header = decodedHeader(protectedHeader);
    if (!header || !Object.keys(header).every((member) => PLAIN_HEADER_MEMBERS.has(member))) return undefined;
    const alg = header.alg;
    if (!isDirectAlgorithm(alg) || !rules.algorithms.includes(alg)) return undefined;
    let key: unknown;
    try {
      key = await keys(header as CompactJWSHeaderParameters, { protected: protectedHeader, payload, signature });
    } catch (error) {
      // Not remembered: the next token asks the lookup again, as jose would.
      return { ok: false, code: joseCode(error), error };
    }
    if (!usableAsIs(alg, key)) return undefined;
    remembered = { alg, key, until: now + keyRememberedMs };
    let memory = rememberedKeys.get(keys);
    if (!memory) rememberedKeys.set(keys, (memory = new Map()));
    remember(memory, protectedHeader, remembered);
  }
  let verified: boolean;
  try {
    verified = await signatureCheck(remembered.alg, remembered.key, decodeBase64url(signature), encoder.encode(`${protectedHeader}.${payload}`));
  } catch {
    return undefined;
  }
  if (!verified) {
    const error = new errors.JWSSignatureVerificationFailed();
    return { ok: false, code: error.code, error };
  }
  const claims = jsonObject(payload);
  if (!claims || !claimsHold(claims, rules)) return undefined;
  return { ok: true, payload: claims };
}
