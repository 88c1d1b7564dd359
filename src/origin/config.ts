import { z } from "zod";
import type { PassExpectations } from "../contract/pass.js";
import { jsonBinding, jwksDocument, parseBindings, type JwksDocument } from "../http/bindings.js";

export { ConfigError } from "../http/bindings.js";

/**
 * The origin's environment, parsed once. What a pass must say (issuer, audience, lifetime) and where the
 * edge's keys are is the edge's to decide, so the origin takes no default for any of it: a copy of the
 * edge's values here would drift from them silently, and every pass would be refused, or worse, passes of
 * another edge accepted. Only settings that are the origin's own keep a default (the database, its time
 * budget, the port), each said why below.
 */

// An empty variable (`FOO=` in a shell or an .env file) means "not set", not "set to nothing".
const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? undefined : v), schema);

const required = (name: string) => unsetIfEmpty(z.string({ error: `${name} is required` }).min(1));

// A number may arrive as text (process.env, a quoted var) or as a number (an unquoted wrangler var).
const wholeNumber = (name: string, min: number, max: number) =>
  z.union([z.string(), z.number()], { error: `${name} is required` }).pipe(
    z.coerce.number<string | number>({ error: `${name} must be a whole number` }).int(`${name} must be a whole number`)
      .min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`),
  );

const hostPort = z.string().regex(/^[\w.-]+:\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:5433");

/** Where the database is, and how long an operation on it may take: all the seed needs. */
const databaseEnv = z.object({
  // Unset: the embedded PGlite database, so `npm run origin` works on a machine with nothing installed.
  DATABASE_URL: unsetIfEmpty(z.url({ protocol: /^postgres(ql)?$/, error: "DATABASE_URL must be a postgres:// URL" }).optional()),
  NEON_WS_PROXY: unsetIfEmpty(hostPort.optional()),
  PGLITE_DIR: unsetIfEmpty(z.string().min(1).optional()),
  // A bound on each database operation; past it the client gets a retryable 503 rather than a hang. The
  // origin's own budget (the edge gives up on the origin after 8 s), so it keeps a default.
  DB_TIMEOUT_MS: unsetIfEmpty(wholeNumber("DB_TIMEOUT_MS", 50, 120_000).default(5000)),
});

const passJwks = jsonBinding("PASS_JWKS is not set", "PASS_JWKS must be a JSON JWKS").pipe(
  z.object(jwksDocument.shape, { error: 'PASS_JWKS must be a JWKS: {"keys":[{"kty":...}]}' }),
);

const originEnv = databaseEnv
  .extend({
    PASS_JWKS_URL: unsetIfEmpty(z.url({ protocol: /^https?$/, error: "PASS_JWKS_URL must be an http(s) URL" }).optional()),
    PASS_JWKS: unsetIfEmpty(passJwks.optional()),
    PASS_ISSUER: required("PASS_ISSUER"),
    PASS_AUDIENCE: required("PASS_AUDIENCE"),
    // The edge's PASS_TTL_SECONDS; a pass claiming a longer life than this is refused.
    PASS_TTL_SECONDS: unsetIfEmpty(wholeNumber("PASS_TTL_SECONDS", 1, 86_400)),
    // Where this process listens on Node (a Worker has no port). The origin's own, so it keeps a default:
    // the edge's ORIGIN_URL must point here, but a mismatch shows at once as the edge's 503, never as a
    // wrong verdict on a pass.
    PORT: unsetIfEmpty(wholeNumber("PORT", 1, 65_535).default(8788)),
  })
  // The edge's keys come from exactly one place, so nobody wonders which one is in force. Checked even
  // when other variables are bad (`when`), so one start names every missing setting.
  .refine((e) => (e.PASS_JWKS_URL === undefined) !== (e.PASS_JWKS === undefined), {
    message: "PASS_JWKS_URL or PASS_JWKS: set exactly one (the edge's public keys)",
    path: ["PASS_JWKS_URL"],
    when: (payload) => typeof payload.value === "object" && payload.value !== null,
  });

export type PassKeySource = { kind: "remote"; url: string } | { kind: "inline"; jwks: JwksDocument };

export interface DatabaseConfig {
  /** Unset: the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** Where the embedded database lives when DATABASE_URL is unset; undefined: `.data/pglite`. */
  pgliteDir: string | undefined;
  /** A WebSocket-to-TCP bridge for a plain PostgreSQL server (Neon itself needs none). */
  neonWsProxy: string | undefined;
  dbTimeoutMs: number;
}

export interface OriginConfig extends DatabaseConfig {
  /** What the pass check needs: the edge's keys and what its passes say. */
  passes: PassExpectations & { keys: PassKeySource };
  port: number;
}

function databaseConfig(e: z.infer<typeof databaseEnv>): DatabaseConfig {
  return { databaseUrl: e.DATABASE_URL, pgliteDir: e.PGLITE_DIR, neonWsProxy: e.NEON_WS_PROXY, dbTimeoutMs: e.DB_TIMEOUT_MS };
}

/** The database settings alone, for `npm run db:seed`, which verifies no pass. Throws ConfigError. */
export function parseDatabaseConfig(env: Record<string, unknown>): DatabaseConfig {
  return databaseConfig(parseBindings(databaseEnv, env, "origin environment"));
}

/** Parses the origin's environment once; a missing or bad variable throws ConfigError naming it. */
export function parseOriginConfig(env: Record<string, unknown>): OriginConfig {
  const e = parseBindings(originEnv, env, "origin environment");
  return {
    ...databaseConfig(e),
    passes: {
      keys: e.PASS_JWKS ? { kind: "inline", jwks: e.PASS_JWKS } : { kind: "remote", url: e.PASS_JWKS_URL! },
      issuer: e.PASS_ISSUER,
      audience: e.PASS_AUDIENCE,
      passTtlSeconds: e.PASS_TTL_SECONDS,
    },
    port: e.PORT,
  };
}
