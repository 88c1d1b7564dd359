import { describe, expect, it } from "vitest";
import { parseOriginConfig } from "../../src/origin/config.js";

describe("the origin's environment", () => {
  it("defaults to the embedded database, the local edge's keys and port 8788", () => {
    const config = parseOriginConfig({});

    expect(config).toMatchObject({
      databaseUrl: undefined,
      passKeys: { kind: "remote", url: "http://127.0.0.1:8787/.well-known/jwks.json" },
      passIssuer: "https://waiting-room.example",
      passAudience: "booking-origin",
      port: 8788,
      dbTimeoutMs: 5000,
    });
  });

  it("reads every variable it is given", () => {
    const config = parseOriginConfig({
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      NEON_WS_PROXY: "127.0.0.1:5433",
      PGLITE_DIR: "/tmp/elsewhere",
      PASS_JWKS: JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y", kid: "k1" }] }),
      PASS_ISSUER: "https://edge.example",
      PASS_AUDIENCE: "origin",
      PORT: "9000",
      DB_TIMEOUT_MS: "1500",
    });

    expect(config).toMatchObject({
      databaseUrl: "postgres://postgres@127.0.0.1:5432/test",
      neonWsProxy: "127.0.0.1:5433",
      pgliteDir: "/tmp/elsewhere",
      passKeys: { kind: "inline" },
      passIssuer: "https://edge.example",
      passAudience: "origin",
      port: 9000,
      dbTimeoutMs: 1500,
    });
  });

  it.each([
    ["DATABASE_URL", { DATABASE_URL: "mysql://localhost/db" }],
    ["NEON_WS_PROXY", { NEON_WS_PROXY: "ws://127.0.0.1:5433" }],
    ["PASS_JWKS", { PASS_JWKS: "{not json" }],
    ["PASS_JWKS", { PASS_JWKS: '{"keys":[]}' }],
    ["PASS_JWKS_URL", { PASS_JWKS_URL: "ftp://edge/jwks" }],
    ["PORT", { PORT: "eighty" }],
    ["DB_TIMEOUT_MS", { DB_TIMEOUT_MS: "0" }],
    ["PASS_JWKS_URL", { PASS_JWKS: '{"keys":[{"kty":"EC"}]}', PASS_JWKS_URL: "http://edge/jwks" }],
  ])("fails at start naming %s when it is bad", (name, env) => {
    expect(() => parseOriginConfig(env)).toThrow(name);
  });
});
