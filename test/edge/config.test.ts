import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, parseEdgeConfig } from "../../src/edge/config.js";

const good = env as unknown as Record<string, unknown>;

function problemWith(overrides: Record<string, unknown>): string {
  try {
    parseEdgeConfig({ ...good, ...overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected the configuration to be refused");
}

describe("configuration", () => {
  it("parses the bindings into numbers, flags and cohorts", () => {
    const config = parseEdgeConfig({ ...good, PAUSED: "TRUE", ADMIT_PER_MINUTE: "0.5" });
    expect(config.paused).toBe(true);
    expect(config.admitPerMinute).toBe(0.5);
    expect(config.cohorts.map((c) => c.id)).toEqual(["55-59", "53-54", "50-52"]);
  });

  it("fails loudly, naming the binding, instead of falling back", () => {
    expect(problemWith({ ADMIT_PER_MINUTE: "fast" })).toMatch(/ADMIT_PER_MINUTE/);
    expect(problemWith({ MAX_ACTIVE: "-3" })).toMatch(/MAX_ACTIVE/);
    expect(problemWith({ SHARDS: undefined })).toMatch(/SHARDS/);
    expect(problemWith({ SHARDS: "16", MAX_ACTIVE: "8" })).toMatch(/MAX_ACTIVE must be at least SHARDS/);
    expect(problemWith({ PAUSED: "maybe" })).toMatch(/PAUSED/);
    expect(problemWith({ COHORTS: "[{" })).toMatch(/COHORTS/);
    expect(problemWith({ COHORTS: JSON.stringify([{ id: "a", label: { ko: "가", en: "A" }, birthYears: [1960, 1970], opensAt: "2021-01-01T00:00:00Z" }, { id: "b", label: { ko: "나", en: "B" }, birthYears: [1965, 1975], opensAt: "2021-01-01T00:00:00Z" }]) })).toMatch(/overlap/);
    expect(problemWith({ PASS_SIGNING_KEYS: "[]" })).toMatch(/PASS_SIGNING_KEYS/);
    expect(problemWith({ PASS_SIGNING_KEYS: JSON.stringify([{ kty: "EC", crv: "P-256", x: "a", y: "b", kid: "no-private-part" }]) })).toMatch(/PASS_SIGNING_KEYS/);
    expect(problemWith({ CITIZEN_KEY_SECRET: "short" })).toMatch(/CITIZEN_KEY_SECRET/);
    expect(problemWith({ ORIGIN_URL: "not a url" })).toMatch(/ORIGIN_URL/);
  });
});
