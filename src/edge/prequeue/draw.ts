/**
 * The pre-queue draw, in pure WebCrypto so that the shard, the Worker and anyone's verifier
 * (scripts/verify-draw.ts, on Node) compute exactly the same numbers.
 *
 * The scheme is commit-then-reveal. Each cohort has a seed, HMAC-SHA256(DRAW_SECRET, "draw-seed:" +
 * cohort): fixed by the secret before anyone can join, unknowable without it. From the pre-queue's start
 * the edge publishes the commitment SHA-256(seed); at the opening it reveals the seed, and anyone can
 * check that it hashes to what was committed. A pre-queue ticket's draw value is HMAC-SHA256(seed,
 * ticket id), and each shard orders its pre-queue by draw value, smallest first. The ticket id is random
 * and chosen by the shard at the join, and the seed is fixed before it, so nobody (the operator
 * included, short of changing the secret, which would change the commitment) can steer a value.
 */

const encoder = new TextEncoder();
const SEED_LABEL = "draw-seed:";

/** A draw value or commitment: 64 lowercase hex digits (256 bits). */
export const DRAW_HEX = /^[0-9a-f]{64}$/;

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(hex)) throw new Error("not lowercase hex");
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

async function hmac(key: Uint8Array, message: string): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, encoder.encode(message)));
}

/** The cohort's draw seed: HMAC-SHA256(DRAW_SECRET, "draw-seed:" + cohort), as hex. Secret until the opening. */
export async function drawSeed(drawSecret: string, cohort: string): Promise<string> {
  return toHex(await hmac(encoder.encode(drawSecret), `${SEED_LABEL}${cohort}`));
}

/** What is published before the pre-queue starts: SHA-256 of the seed's bytes, as hex. */
export async function drawCommitment(seedHex: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", fromHex(seedHex))));
}

/** A ticket's draw value: HMAC-SHA256(seed, ticket id), as hex. Smaller values go first. */
export async function drawValue(seedHex: string, ticketId: string): Promise<string> {
  return toHex(await hmac(fromHex(seedHex), ticketId));
}

/**
 * The 0-based rank of `value` in a list sorted ascending (as the edge publishes it), or -1 when it is not
 * in it. Hex strings of one length sort as the numbers they spell, so string order is draw order.
 */
export function rankOf(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === value ? lo : -1;
}

// The seed of a cohort is derived once per isolate: every pre-queue join and status poll needs it.
const seeds = new Map<string, Promise<string>>();

/** `drawSeed`, remembered per secret and cohort. */
export function cohortSeed(drawSecret: string, cohort: string): Promise<string> {
  const id = `${cohort}\u0000${drawSecret}`;
  let seed = seeds.get(id);
  if (!seed) {
    seed = drawSeed(drawSecret, cohort);
    if (seeds.size >= 256) seeds.delete(seeds.keys().next().value!);
    seeds.set(id, seed);
  }
  return seed;
}
