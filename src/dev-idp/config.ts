import { isAbsolute, resolve } from "node:path";
import { z } from "zod";

/**
 * The development provider's settings, read once from the environment. `npm start` sets them so that
 * the provider and the edge agree (client id, secret, the edge's callback addresses); a bad value stops
 * the provider at start with the variable's name instead of failing a login later.
 */

export class IdpConfigError extends Error {
  override name = "IdpConfigError";
}

const redirectUri = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).refine((u) => !u.includes("#"), "must not have a fragment");

const env = z.object({
  IDP_PORT: z
    .string()
    .trim()
    .regex(/^\d+$/, "must be a port number")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535"))
    .default(8789),
  IDP_CLIENT_ID: z.string().trim().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'").default("waiting-room-edge"),
  // client_secret_basic puts the secret in a header; 32 characters keeps a guessed secret out of reach.
  IDP_CLIENT_SECRET: z.string({ error: "is required (npm start takes it from .dev.vars)" }).min(32, "must be at least 32 characters"),
  // The bearer secret of POST /dev/id-tokens: without it, the door that mints tokens for any number is shut.
  DEV_IDP_MINT_SECRET: z.string({ error: "is required (npm start takes it from .dev.vars)" }).min(32, "must be at least 32 characters"),
  IDP_REDIRECT_URIS: z
    .string({ error: "is required: the edge's /auth/callback addresses, comma-separated" })
    .transform((s) => s.split(",").map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(redirectUri).min(1, "must list at least one URL")),
  IDP_STATE_DIR: z.string().trim().min(1).default(".data/dev-idp"),
});

export interface IdpConfig {
  port: number;
  /** `http://127.0.0.1:<port>`: the `iss` of every token and the base of every endpoint. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** What POST /dev/id-tokens requires as `Authorization: Bearer <secret>`. */
  mintSecret: string;
  redirectUris: string[];
  /** Absolute path of the folder holding keys and the phone registry. */
  stateDir: string;
}

/** Parses the provider's environment; throws IdpConfigError naming the first bad variable. */
export function parseIdpConfig(source: Record<string, string | undefined>, cwd = process.cwd()): IdpConfig {
  const picked = Object.fromEntries(Object.keys(env.shape).map((k) => [k, source[k] === "" ? undefined : source[k]]));
  const parsed = env.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path[0] !== undefined ? String(issue.path[0]) : "environment";
    throw new IdpConfigError(`${name} ${issue?.message ?? "is not valid"}`);
  }
  const e = parsed.data;
  return {
    port: e.IDP_PORT,
    issuer: `http://127.0.0.1:${e.IDP_PORT}`,
    clientId: e.IDP_CLIENT_ID,
    clientSecret: e.IDP_CLIENT_SECRET,
    mintSecret: e.DEV_IDP_MINT_SECRET,
    redirectUris: e.IDP_REDIRECT_URIS,
    stateDir: isAbsolute(e.IDP_STATE_DIR) ? e.IDP_STATE_DIR : resolve(cwd, e.IDP_STATE_DIR),
  };
}
