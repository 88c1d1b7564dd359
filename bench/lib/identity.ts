/**
 * The identity provider of the Miniflare benchmarks. A join now carries an id_token that the edge
 * verifies (jose, RS256, iss, aud, iat age, `sub`, `birthdate`), so the bench plays the provider: one
 * RS256 key pair per bench process, its public JWKS handed to the edge as the inline `IDP_JWKS` binding,
 * and id_tokens minted here, before any measured load, in the shape the development provider
 * (src/dev-idp) issues. Minting is never measured.
 *
 * Citizen i is always the same person (same `sub`, phone number and birth date), so index ranges give
 * distinct citizens. Every run starts a fresh edge (new Durable Object storage, new rate-limit state), so
 * one pool of tokens serves every run of a bench process; within one edge, callers take disjoint ranges.
 */
import { createHash } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import { IdTokenMinter } from "../../src/dev-idp/id-tokens.js";
import type { RsaPrivateJwk } from "../../src/dev-idp/state.js";

/** A birth date in the 55-59 cohort of wrangler.toml, which opened in 2021. */
export const BIRTH_DATE = "1964-05-17";

/** The bench's own issuer: no edge outside a benchmark trusts it. */
export const BENCH_ISSUER = "https://bench-idp.invalid";
export const BENCH_CLIENT_ID = "waiting-room-edge";

/** The edge refuses id_tokens older than IDP_MAX_AGE_SECONDS (3600 by default): re-mint well before. */
const REMINT_AFTER_MS = 30 * 60_000;
/** Tokens signed at once: Node's WebCrypto signs on its thread pool, so batches use both cores. */
const BATCH = 256;

interface Provider {
  /** The development provider's own minter, so bench tokens carry exactly the claims its tokens do. */
  minter: IdTokenMinter;
  jwks: string;
}

let provider: Promise<Provider> | undefined;
let pool: string[] = [];
let poolMintedAt = 0;
let minting: Promise<void> = Promise.resolve();
let mintedMs = 0;
let mintedTokens = 0;

function keys(): Promise<Provider> {
  provider ??= (async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const kid = `bench-${Date.now().toString(36)}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
    // Generated just above as an RSA key, so every private member is there.
    const signingKey = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" } as RsaPrivateJwk;
    return { minter: new IdTokenMinter(signingKey, BENCH_ISSUER, BENCH_CLIENT_ID), jwks: JSON.stringify({ keys: [jwk] }) };
  })();
  return provider;
}

/**
 * The bindings that point the edge at this provider, on top of wrangler.toml's: the inline JWKS, its
 * issuer and client id. `IDP_JWKS_URL` is cleared so the edge takes the inline keys (it takes one or the
 * other); the client secret comes from the freshly generated secrets, as for `npm start`.
 */
export async function identityBindings(): Promise<Record<string, string>> {
  const { jwks } = await keys();
  return { IDP_JWKS: jwks, IDP_JWKS_URL: "", IDP_ISSUER: BENCH_ISSUER, IDP_CLIENT_ID: BENCH_CLIENT_ID };
}

/** Citizen i: an opaque 43-character `sub` (as the development provider's HMAC) and a Korean mobile number. */
export function citizen(i: number): { sub: string; phoneNumber: string; birthdate: string } {
  return {
    sub: createHash("sha256").update(`bench-citizen|${i}`).digest("base64url"),
    phoneNumber: `+8210${String(i % 100_000_000).padStart(8, "0")}`,
    birthdate: BIRTH_DATE,
  };
}

/**
 * id_tokens of citizens `first` … `first + count - 1`, minted on first use and kept for the process.
 * Every token has the same length (fixed-length `sub` and phone number), so request bodies do too.
 */
export async function idTokens(first: number, count: number): Promise<string[]> {
  const step = minting.then(async () => {
    if (pool.length > 0 && Date.now() - poolMintedAt > REMINT_AFTER_MS) pool = [];
    if (pool.length === 0) poolMintedAt = Date.now();
    const p = await keys();
    const now = Math.floor(poolMintedAt / 1000);
    const t0 = performance.now();
    while (pool.length < first + count) {
      const from = pool.length;
      const n = Math.min(BATCH, first + count - from);
      pool.push(...(await Promise.all(Array.from({ length: n }, (_, k) => p.minter.mint(citizen(from + k), now)))));
      mintedTokens += n;
    }
    mintedMs += performance.now() - t0;
  });
  minting = step.catch(() => {});
  await step;
  return pool.slice(first, first + count);
}

/** The JSON body of a join with the given id_token. */
export function joinBody(idToken: string): string {
  return JSON.stringify({ idToken });
}

/** What minting cost this process so far (reported, never part of a figure). */
export function mintingStats(): { tokens: number; seconds: number } {
  return { tokens: mintedTokens, seconds: Math.round(mintedMs) / 1000 };
}
