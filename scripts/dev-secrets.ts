import { exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

/**
 * Local secrets for development and tests: a fresh ES256 signing key, a citizen-key secret, the edge's
 * client secret at the identity provider, the secret the pre-queue draw seeds derive from and the
 * operator-login secret. They are
 * generated, never committed; production secrets come from `wrangler secret put`. The Web Push key pair
 * too: the public key as PushManager.subscribe takes it (base64url of the 65-byte uncompressed point),
 * the private one as its 32-byte scalar.
 */
export async function generateSigningJwk(kid = `dev-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { kty: "EC" as const, crv: "P-256" as const, x: jwk.x!, y: jwk.y!, d: jwk.d!, kid };
}

/** A VAPID key pair (RFC 8292) as the VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY secrets hold it. */
export async function generateVapidKeys(): Promise<{ VAPID_PUBLIC_KEY: string; VAPID_PRIVATE_KEY: string }> {
  const { x, y, d } = await generateSigningJwk();
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(x, "base64url"), Buffer.from(y, "base64url")]);
  return { VAPID_PUBLIC_KEY: point.toString("base64url"), VAPID_PRIVATE_KEY: d };
}

/** The secrets `npm start` and the edge tests generate. */
export type DevSecretName = "PASS_SIGNING_KEYS" | "CITIZEN_KEY_SECRET" | "IDP_CLIENT_SECRET" | "DRAW_SECRET" | "OPERATOR_SECRET" | "VAPID_PUBLIC_KEY" | "VAPID_PRIVATE_KEY";

export async function generateDevSecrets(): Promise<Record<DevSecretName, string>> {
  return {
    ...(await generateVapidKeys()),
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
