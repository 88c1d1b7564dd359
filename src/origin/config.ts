import { z } from "zod";

/** Defaults shared with the edge's wrangler.toml, so a pass the local edge signs verifies here. */
export const DEFAULT_PASS_ISSUER = "https://waiting-room.example";
export const DEFAULT_PASS_AUDIENCE = "booking-origin";
/** wrangler.toml's PASS_TTL_SECONDS. */
export const DEFAULT_PASS_TTL_SECONDS = 900;
/** Where `npm start` serves the edge by default; its public keys are at this address. */
export const DEFAULT_PASS_JWKS_URL = "http://127.0.0.1:8787/.well-known/jwks.json";

// An empty variable (`FOO=` in a shell or an .env file) means "not set", not "set to nothing".
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

const jwk = z.looseObject({ kty: z.string(), kid: z.string().optional() });
const jwksJson = z.string().transform((text, ctx) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not JSON" });
    return z.NEVER;
  }
  const result = z.object({ keys: z.array(jwk).min(1) }).safeParse(parsed);
  if (!result.success) {
    ctx.addIssue({ code: "custom", message: 'expected a JWKS: {"keys":[{"kty":...}]}' });
    return z.NEVER;
  }
  return result.data;
});

const hostPort = z.string().regex(/^[\w.-]+:\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:5433");

const originEnv = z.object({
  DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/ })),
  NEON_WS_PROXY: optional(hostPort),
  PGLITE_DIR: optional(z.string().min(1)),
  PASS_JWKS_URL: optional(z.url({ protocol: /^https?$/ })),
  PASS_JWKS: optional(jwksJson),
  PASS_ISSUER: optional(z.string().min(1)),
  PASS_AUDIENCE: optional(z.string().min(1)),
  // The edge's PASS_TTL_SECONDS; a pass claiming a longer life than this is refused.
  PASS_TTL_SECONDS: optional(z.coerce.number().int().min(1).max(86_400)),
  PORT: optional(z.coerce.number().int().min(1).max(65535)),
  // A bound on each database operation; past it the client gets a retryable 503 rather than a hang.
  DB_TIMEOUT_MS: optional(z.coerce.number().int().min(50).max(120_000)),
});

export type PassKeySource = { kind: "remote"; url: string } | { kind: "inline"; jwks: { keys: Array<{ kty: string }> } };

export interface OriginConfig {
  /** Unset: the embedded PGlite database in `.data/pglite`. */
  databaseUrl: string | undefined;
  /** Where the embedded database lives when DATABASE_URL is unset; undefined: `.data/pglite`. */
  pgliteDir: string | undefined;
  /** A WebSocket-to-TCP bridge for a plain PostgreSQL server (Neon itself needs none). */
  neonWsProxy: string | undefined;
  passKeys: PassKeySource;
  passIssuer: string;
  passAudience: string;
  passTtlSeconds: number;
  port: number;
  dbTimeoutMs: number;
}

/** Thrown at start when a variable is malformed; the message names every bad variable. */
export class OriginConfigError extends Error {
  override name = "OriginConfigError";
}

/** Parses the origin's environment once; a bad value fails here, naming the variable. */
export function parseOriginConfig(env: Record<string, unknown>): OriginConfig {
  const result = originEnv.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new OriginConfigError(`bad origin environment:\n${lines.join("\n")}`);
  }
  const e = result.data;
  if (e.PASS_JWKS && e.PASS_JWKS_URL) {
    throw new OriginConfigError("bad origin environment:\n  PASS_JWKS, PASS_JWKS_URL: set one, not both");
  }
  return {
    databaseUrl: e.DATABASE_URL,
    neonWsProxy: e.NEON_WS_PROXY,
    pgliteDir: e.PGLITE_DIR,
    passKeys: e.PASS_JWKS
      ? { kind: "inline", jwks: e.PASS_JWKS }
      : { kind: "remote", url: e.PASS_JWKS_URL ?? DEFAULT_PASS_JWKS_URL },
    passIssuer: e.PASS_ISSUER ?? DEFAULT_PASS_ISSUER,
    passAudience: e.PASS_AUDIENCE ?? DEFAULT_PASS_AUDIENCE,
    passTtlSeconds: e.PASS_TTL_SECONDS ?? DEFAULT_PASS_TTL_SECONDS,
    port: e.PORT ?? 8788,
    dbTimeoutMs: e.DB_TIMEOUT_MS ?? 5000,
  };
}
