import { importJWK, SignJWT, type JWK } from "jose";
import { base64url, base64urlDecode } from "../base64url.js";

/**
 * Web Push as the push services take it: the message encrypted for the subscription with aes128gcm
 * (RFC 8291 over RFC 8188), and the request signed with VAPID (RFC 8292). WebCrypto and jose only, so it
 * runs in workerd as it is.
 */

/** A browser's push subscription, as PushSubscription.toJSON() gives it (keys base64url). */
export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** The application server's VAPID key pair, as the VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY secrets hold it. */
export interface VapidKeys {
  /** base64url of the 65-byte uncompressed P-256 point: PushManager.subscribe's applicationServerKey. */
  publicKey: string;
  /** base64url of the 32-byte private scalar (the JWK's `d`). */
  privateKey: string;
  /** `mailto:` or `https:` where the push service can reach the operator (RFC 8292 `sub`). */
  subject: string;
}

/** RFC 8188's record size: one record holds any Web Push message (at most 4096 bytes). */
const RECORD_SIZE = 4096;
const encoder = new TextEncoder();

/** The private JWK of a VAPID key pair given as base64url: the 65-byte public point and the 32-byte scalar. */
export function vapidPrivateJwk(publicKey: string, privateKey: string): JWK {
  const point = base64urlDecode(publicKey);
  return { kty: "EC", crv: "P-256", x: base64url(point.subarray(1, 33)), y: base64url(point.subarray(33, 65)), d: privateKey };
}

async function hkdf(salt: Uint8Array, ikm: Uint8Array | CryptoKey, info: Uint8Array, bytes: number): Promise<Uint8Array> {
  const key = ikm instanceof Uint8Array ? await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]) : ikm;
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The message body for one subscription (RFC 8291 section 3.4): the RFC 8188 header (salt, record size,
 * the sender's ephemeral public key) and the single record. `salt` and `sender` are fresh for every
 * message unless given, which only a check against the RFC's own example does.
 */
export async function encryptForSubscription(
  target: Pick<PushTarget, "p256dh" | "auth">,
  plaintext: Uint8Array,
  given: { salt?: Uint8Array; sender?: CryptoKeyPair } = {},
): Promise<Uint8Array> {
  const uaPublic = base64urlDecode(target.p256dh);
  const authSecret = base64urlDecode(target.auth);
  const salt = given.salt ?? crypto.getRandomValues(new Uint8Array(16));
  const sender = given.sender ?? ((await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair);
  const asPublic = new Uint8Array((await crypto.subtle.exportKey("raw", sender.publicKey)) as ArrayBuffer);
  const uaKey = await crypto.subtle.importKey("raw", uaPublic, { name: "ECDH", namedCurve: "P-256" }, false, []);
  // WebCrypto's member is `public`; workerd's types spell it `$public` (a reserved word in its IDL).
  const ecdh = { name: "ECDH", public: uaKey } as unknown as SubtleCryptoDeriveKeyAlgorithm;
  const ecdhSecret = new Uint8Array(await crypto.subtle.deriveBits(ecdh, sender.privateKey, 256));
  const ikm = await hkdf(authSecret, ecdhSecret, concat(encoder.encode("WebPush: info\0"), uaPublic, asPublic), 32);
  const prk = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const cek = await hkdf(salt, prk, encoder.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, prk, encoder.encode("Content-Encoding: nonce\0"), 12);
  const aes = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
  // The last (and only) record ends with the delimiter 0x02 and no padding.
  const record = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, aes, concat(plaintext, new Uint8Array([2]))));
  const header = new Uint8Array(21 + asPublic.length);
  header.set(salt, 0);
  new DataView(header.buffer).setUint32(16, RECORD_SIZE);
  header[20] = asPublic.length;
  header.set(asPublic, 21);
  return concat(header, record);
}

/** RFC 8292's Authorization header for one push service: a JWT for its origin, good for `ttlSeconds` (at most 24 h). */
export async function vapidAuthorization(endpoint: string, keys: VapidKeys, now: number, ttlSeconds = 12 * 3600): Promise<string> {
  const key = await importJWK(vapidPrivateJwk(keys.publicKey, keys.privateKey), "ES256");
  const jwt = await new SignJWT({ sub: keys.subject })
    .setProtectedHeader({ alg: "ES256", typ: "JWT" })
    .setAudience(new URL(endpoint).origin)
    .setExpirationTime(Math.floor(now / 1000) + ttlSeconds)
    .sign(key);
  return `vapid t=${jwt}, k=${keys.publicKey}`;
}

export interface PushOptions {
  /** How long the push service keeps the message for a device that is offline (seconds). */
  ttlSeconds: number;
  urgency: "very-low" | "low" | "normal" | "high";
  /** A message with the same topic replaces an undelivered one at the push service. */
  topic?: string;
}

/** The request that delivers `payload` (JSON) to one subscription through its push service. */
export async function pushRequest(target: PushTarget, payload: unknown, keys: VapidKeys, options: PushOptions, now: number): Promise<Request> {
  const body = await encryptForSubscription(target, encoder.encode(JSON.stringify(payload)));
  const headers: Record<string, string> = {
    authorization: await vapidAuthorization(target.endpoint, keys, now),
    "content-encoding": "aes128gcm",
    "content-type": "application/octet-stream",
    ttl: String(options.ttlSeconds),
    urgency: options.urgency,
  };
  if (options.topic) headers.topic = options.topic;
  return new Request(target.endpoint, { method: "POST", headers, body });
}
