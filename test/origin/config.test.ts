import { describe, expect, it } from "vitest";
import { ConfigError, parseDatabaseConfig, parseOriginConfig } from "../../src/origin/config.js";

/** What the edge decides and the origin must be told: without any one of these the origin does not start. */
const passSettings = {
  PASS_JWKS_URL: "http://127.0.0.1:8787/.well-known/jwks.json",
  PASS_ISSUER: "https://waiting-room.example",
  PASS_AUDIENCE: "booking-origin",
  PASS_TTL_SECONDS: "900",
};

function problemWith(env: Record<string, unknown>): string {
  try {
    parseOriginConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected the environment to be refused");
}

describe("the origin's environment", () => {
  it("given the edge's pass settings, defaults only what is its own: the embedded database, its time budget and port 8788", () => {
    const config = parseOriginConfig(passSettings);

    expect(config).toEqual({
      databaseUrl: undefined,
      pgliteDir: undefined,
      neonWsProxy: undefined,
      dbTimeoutMs: 5000,
      port: 8788,
      passes: {
        keys: { kind: "remote", url: "http://127.0.0.1:8787/.well-known/jwks.json" },
        issuer: "https://waiting-room.example",
        audience: "booking-origin",
        passTtlSeconds: 900,
      },
    });
  });

  it("reads every variable it is given", () => {
    const jwks = { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y", kid: "k1" }] };
    const config = parseOriginConfig({
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      NEON_WS_PROXY: "127.0.0.1:5433",
      PGLITE_DIR: "/tmp/elsewhere",
      PASS_JWKS: JSON.stringify(jwks),
      PASS_ISSUER: "https://edge.example",
      PASS_AUDIENCE: "origin",
      // An unquoted wrangler var arrives as a number.
      PASS_TTL_SECONDS: 600,
      PORT: "9000",
      DB_TIMEOUT_MS: "1500",
    });

    expect(config).toEqual({
      databaseUrl: "postgres://postgres@127.0.0.1:5432/test",
      neonWsProxy: "127.0.0.1:5433",
      pgliteDir: "/tmp/elsewhere",
      dbTimeoutMs: 1500,
      port: 9000,
      passes: { keys: { kind: "inline", jwks }, issuer: "https://edge.example", audience: "origin", passTtlSeconds: 600 },
    });
  });

  it.each(["PASS_ISSUER", "PASS_AUDIENCE", "PASS_TTL_SECONDS"])("refuses to start without %s, naming it, instead of assuming the local edge's value", (name) => {
    expect(problemWith({ ...passSettings, [name]: undefined })).toMatch(new RegExp(`^bad origin environment: .*${name} is required`));
    // An empty variable is an unset one.
    expect(problemWith({ ...passSettings, [name]: "" })).toMatch(`${name} is required`);
  });

  it("refuses to start without the edge's keys, or with two sources of them", () => {
    const { PASS_JWKS_URL: _url, ...noKeys } = passSettings;
    expect(problemWith(noKeys)).toMatch("PASS_JWKS_URL or PASS_JWKS: set exactly one");
    expect(problemWith({ ...passSettings, PASS_JWKS: '{"keys":[{"kty":"EC"}]}' })).toMatch("PASS_JWKS_URL or PASS_JWKS: set exactly one");
  });

  it("names every missing setting at once", () => {
    const message = problemWith({});
    for (const name of ["PASS_ISSUER", "PASS_AUDIENCE", "PASS_TTL_SECONDS", "PASS_JWKS_URL"]) expect(message).toContain(name);
  });

  it.each([
    ["DATABASE_URL", { DATABASE_URL: "mysql://localhost/db" }],
    ["NEON_WS_PROXY", { NEON_WS_PROXY: "ws://127.0.0.1:5433" }],
    ["PASS_JWKS", { PASS_JWKS_URL: undefined, PASS_JWKS: "{not json" }],
    ["PASS_JWKS", { PASS_JWKS_URL: undefined, PASS_JWKS: '{"keys":[]}' }],
    ["PASS_JWKS_URL", { PASS_JWKS_URL: "ftp://edge/jwks" }],
    ["PASS_TTL_SECONDS", { PASS_TTL_SECONDS: "a while" }],
    ["PASS_TTL_SECONDS", { PASS_TTL_SECONDS: "0" }],
    ["PORT", { PORT: "eighty" }],
    ["DB_TIMEOUT_MS", { DB_TIMEOUT_MS: "0" }],
  ])("fails at start naming %s when it is bad", (name, env) => {
    expect(problemWith({ ...passSettings, ...env })).toContain(name);
  });

  it("lets the seed start with the database settings alone", () => {
    expect(parseDatabaseConfig({ DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" })).toEqual({
      databaseUrl: "postgres://postgres@127.0.0.1:5432/test",
      pgliteDir: undefined,
      neonWsProxy: undefined,
      dbTimeoutMs: 5000,
    });
    expect(() => parseDatabaseConfig({ DB_TIMEOUT_MS: "soon" })).toThrow("DB_TIMEOUT_MS");
  });
});
