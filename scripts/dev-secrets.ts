import { exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

/**
 * Local secrets for development and tests: a fresh ES256 signing key, a citizen-key secret, the edge's
 * client secret at the identity provider, the secret the pre-queue draw seeds derive from and the
 * operator-login secret. They are
 * generated, never committed; production secrets come from `wrangler secret put`.
 */
export async function generateSigningJwk(kid = `dev-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { kty: "EC" as const, crv: "P-256" as const, x: jwk.x!, y: jwk.y!, d: jwk.d!, kid };
}

export async function generateDevSecrets(): Promise<{ PASS_SIGNING_KEYS: string; CITIZEN_KEY_SECRET: string; IDP_CLIENT_SECRET: string; DRAW_SECRET: string; OPERATOR_SECRET: string }> {
  return {
    PASS_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]),
    CITIZEN_KEY_SECRET: randomBytes(32).toString("base64url"),
    // The edge's client secret at the identity provider; the development provider registers the same value.
    IDP_CLIENT_SECRET: randomBytes(32).toString("base64url"),
    // Each cohort's draw seed is an HMAC of its id under this; a fresh one per checkout (or test run)
    // means a fresh, unpredictable draw.
    DRAW_SECRET: randomBytes(32).toString("base64url"),
    // Signs the one-time operator login links `npm start` prints, and the operator sessions they open.
    OPERATOR_SECRET: randomBytes(32).toString("base64url"),
  };
}

/**
 * The development provider's mint secret: POST /dev/id-tokens answers only `Authorization: Bearer <it>`.
 * The provider's alone, never an edge binding: whoever holds it can sign in as any number not yet used at
 * the login page.
 */
export function generateMintSecret(): string {
  return randomBytes(32).toString("base64url");
}
