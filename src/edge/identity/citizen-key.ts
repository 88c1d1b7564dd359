import { base64url, base64urlDecode } from "../base64url.js";
import { keyedHash } from "./citizen-secret.js";

/**
 * Raw identity never leaves the edge: the queue, the passes and the origin only ever see the citizen key,
 * an HMAC under CITIZEN_KEY_SECRET of who the identity provider says the citizen is (`iss` and `sub` of a
 * verified id_token). The same person always maps to the same key (so joins are idempotent and the origin
 * can enforce one booking per cohort), and without the secret the key says nothing about who they are.
 */

/**
 * The citizen key of a verified citizen: base64url of HMAC-SHA256(secret, iss + "|" + sub). The issuer is
 * part of it, so a subject of another provider can never collide with one of ours.
 */
export async function citizenKey(secret: string, citizen: { issuer: string; subject: string }): Promise<string> {
  return base64url(await keyedHash(secret, "citizenKey", `${citizen.issuer}|${citizen.subject}`));
}

/** The citizen's shard: the key is already uniformly random, so its first 32 bits are a fair hash. */
export function shardOf(key: string, shards: number): number {
  const bytes = base64urlDecode(key);
  const n = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return n % shards;
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
