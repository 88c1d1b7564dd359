/**
 * CITIZEN_KEY_SECRET and what is derived from it: the citizen key (identity/citizen-key.ts), the key that
 * signs queue tickets (tokens/ticket.ts) and the key that seals a sign-in in progress
 * (identity/sign-in.ts). Each use hashes under its own label, listed together here so they stay apart: no
 * identity string can make a citizen key equal a derived key.
 */

const LABELS = {
  citizenKey: "citizen-key/v1:",
  ticketSigningKey: "ticket-signing-key/v1",
  loginStateKey: "login-state-key/v1",
} as const;
export type SecretUse = keyof typeof LABELS;

const encoder = new TextEncoder();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** HMAC-SHA256 under the secret of `use`'s label followed by `message`. */
export async function keyedHash(secret: string, use: SecretUse, message = ""): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${LABELS[use]}${message}`)));
}

// Derived once per isolate and secret: deriving is an HMAC, and every join and poll needs a derived key.
const derivedKeys = new Map<string, Promise<Uint8Array>>();

/** The raw key derived from the secret for `use`: the HMAC of its label alone. */
export function derivedKey(secret: string, use: Exclude<SecretUse, "citizenKey">): Promise<Uint8Array> {
  const id = `${use}\u0000${secret}`;
  let key = derivedKeys.get(id);
  if (!key) {
    key = keyedHash(secret, use);
    derivedKeys.set(id, key);
  }
  return key;
}
