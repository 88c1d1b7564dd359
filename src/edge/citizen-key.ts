/**
 * Raw identity never leaves the edge: the queue, the passes and the origin only ever see the citizen key,
 * an HMAC of the identity under CITIZEN_KEY_SECRET. The same person always maps to the same key (so joins
 * are idempotent and the origin can enforce one booking per cohort), and without the secret the key says
 * nothing about who they are.
 */

const encoder = new TextEncoder();
// Labels keep the secret's uses apart: no identity string can make a citizen key equal a derived key.
const CITIZEN_LABEL = "citizen-key/v1:";
const TICKET_KEY_LABEL = "ticket-signing-key/v1";

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

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function base64urlDecode(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

/** The citizen key for an identity: base64url of HMAC-SHA256 under the secret. */
export async function citizenKey(secret: string, identity: string): Promise<string> {
  return base64url(await hmac(secret, CITIZEN_LABEL + identity));
}

/** The citizen's shard: the key is already uniformly random, so its first 32 bits are a fair hash. */
export function shardOf(key: string, shards: number): number {
  const bytes = base64urlDecode(key);
  const n = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return n % shards;
}

/** The symmetric key that signs queue tickets; tickets are read only by the edge, so HMAC suffices. */
export async function ticketSigningKey(secret: string): Promise<Uint8Array> {
  return hmac(secret, TICKET_KEY_LABEL);
}

/** A fresh random ticket id, also the pass's `jti` and so the booking's idempotency key. */
export function newTicketId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}
