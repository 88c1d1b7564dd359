import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/**
 * The provider's secrets, generated on first run into the state folder and reused afterwards: a relying
 * party that cached the JWKS, a browser holding a session cookie and a citizen's `sub` all stay valid
 * across restarts. The folder is git-ignored local state (.data/ by default); deleting it starts over
 * with new keys and new subjects.
 */

/** A private RSA key as a JWK: RS256 is what every OpenID relying party must accept. */
const rsaPrivateJwk = z.object({
  kty: z.literal("RSA"),
  n: z.string().min(1),
  e: z.string().min(1),
  d: z.string().min(1),
  p: z.string().min(1),
  q: z.string().min(1),
  dp: z.string().min(1),
  dq: z.string().min(1),
  qi: z.string().min(1),
  kid: z.string().min(1),
  alg: z.literal("RS256"),
  use: z.literal("sig"),
});
export type RsaPrivateJwk = z.infer<typeof rsaPrivateJwk>;

const secretsFile = z.object({
  signingKey: rsaPrivateJwk,
  /** Keys that sign the provider's cookies (Koa keygrip), newest first. */
  cookieKeys: z.array(z.string().min(32)).min(1),
  /** HMAC key that turns a phone number into an opaque `sub`. */
  subjectSecret: z.string().min(32),
});
export type IdpSecrets = z.infer<typeof secretsFile>;

const SECRETS_NAME = "secrets.json";

/** Writes through a temporary file and a rename, so a crash never leaves half a file behind. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

async function generateSecrets(): Promise<IdpSecrets> {
  const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  // The kid is the key's thumbprint: stable for the key, different for any other.
  const kid = await calculateJwkThumbprint(jwk);
  return {
    signingKey: rsaPrivateJwk.parse({ ...jwk, kid, alg: "RS256", use: "sig" }),
    cookieKeys: [randomBytes(32).toString("base64url")],
    subjectSecret: randomBytes(32).toString("base64url"),
  };
}

/** The secrets in `stateDir`, created there on first run. A damaged file stops the provider, named. */
export async function loadOrCreateSecrets(stateDir: string): Promise<{ secrets: IdpSecrets; created: boolean }> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, SECRETS_NAME);
  if (existsSync(path)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      throw new Error(`${path} is not JSON; delete it to generate new provider keys`);
    }
    const parsed = secretsFile.safeParse(raw);
    if (!parsed.success) throw new Error(`${path} is not a provider secrets file; delete it to generate new keys`);
    return { secrets: parsed.data, created: false };
  }
  const secrets = await generateSecrets();
  writeFileAtomic(path, `${JSON.stringify(secrets, null, 2)}\n`);
  return { secrets, created: true };
}
