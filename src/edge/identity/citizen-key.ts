/**
 * Raw identity never leaves the edge: the queue, the passes and the origin only ever see the citizen key,
 * an HMAC under CITIZEN_KEY_SECRET of who the identity provider says the citizen is (`iss` and `sub` of a
 * verified id_token). The same person always maps to the same key (so joins are idempotent and the origin
 * can enforce one booking per cohort), and without the secret the key says nothing about who they are.
 */

const encoder = new TextEncoder();
// Labels keep the secret's uses apart: no identity string can make a citizen key equal a derived key.
const CITIZEN_LABEL = "citizen-key/v1:";
const TICKET_KEY_LABEL = "ticket-signing-key/v1";
const LOGIN_STATE_KEY_LABEL = "login-state-key/v1";

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

async function hmac(secret: string, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(message)));
}

// V8's own base64 (Uint8Array.prototype.toBase64, Uint8Array.fromBase64), which workerd has: this file runs
// only there. A join encodes or decodes four times (key, shard, tag, ticket), and node:buffer's Buffer, a
// JavaScript layer over the same native code, allocated a wrapper each time. Typed here because
// TypeScript's ES2023 library does not describe them yet.
type NativeBase64Options = { alphabet: "base64url"; omitPadding?: boolean };
const ENCODE: NativeBase64Options = { alphabet: "base64url", omitPadding: true };
const DECODE: NativeBase64Options = { alphabet: "base64url" };
const nativeBase64 = Uint8Array as unknown as { fromBase64(text: string, options: NativeBase64Options): Uint8Array };

export function base64url(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(options: NativeBase64Options): string }).toBase64(ENCODE);
}

/** Decodes base64url; throws a SyntaxError on a character outside the alphabet (keys come from `citizenKey`). */
export function base64urlDecode(s: string): Uint8Array {
  return nativeBase64.fromBase64(s, DECODE);
}

/**
 * The citizen key of a verified citizen: base64url of HMAC-SHA256(secret, iss + "|" + sub). The issuer is
 * part of it, so a subject of another provider can never collide with one of ours.
 */
export async function citizenKey(secret: string, citizen: { issuer: string; subject: string }): Promise<string> {
  return base64url(await hmac(secret, `${CITIZEN_LABEL}${citizen.issuer}|${citizen.subject}`));
}

/** The citizen's shard: the key is already uniformly random, so its first 32 bits are a fair hash. */
export function shardOf(key: string, shards: number): number {
  const bytes = base64urlDecode(key);
  const n = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return n % shards;
}

// Derived once per isolate and secret: deriving is an HMAC, but it sat on every join and poll.
const derivedKeys = new Map<string, Promise<Uint8Array>>();

function derivedKey(secret: string, label: string): Promise<Uint8Array> {
  const id = `${label}\u0000${secret}`;
  let key = derivedKeys.get(id);
  if (!key) {
    key = hmac(secret, label);
    derivedKeys.set(id, key);
  }
  return key;
}

/**
 * A short number standing for a citizen key in the shard's lookup index: 48 bits of the key (not the 32
 * that pick the shard, which all tickets of a shard share in part). An 8-byte integer index is a fraction
 * of a 43-character text one; a tag collision only means two rows to compare by the full key.
 */
export function citizenTag(key: string): number {
  const b = base64urlDecode(key);
  return ((b[4]! * 2 ** 40) + (b[5]! * 2 ** 32) + (((b[6]! << 24) | (b[7]! << 16) | (b[8]! << 8) | b[9]!) >>> 0));
}

const ticketKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The symmetric key that signs queue tickets; tickets are read only by the edge, so HMAC suffices.
 * Derived and imported once per isolate and secret: every join signs a ticket and every poll verifies
 * one, and handing jose raw bytes would import them again each time.
 */
export function ticketSigningKey(secret: string): Promise<CryptoKey> {
  let key = ticketKeys.get(secret);
  if (!key) {
    key = derivedKey(secret, TICKET_KEY_LABEL).then((raw) =>
      crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
    );
    ticketKeys.set(secret, key);
  }
  return key;
}

/** The key that encrypts a sign-in in progress (state, nonce, PKCE verifier) into its cookie. */
export function loginStateKey(secret: string): Promise<Uint8Array> {
  return derivedKey(secret, LOGIN_STATE_KEY_LABEL);
}

/** A fresh random ticket id, also the pass's `jti` and so the booking's idempotency key. */
export function newTicketId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}
