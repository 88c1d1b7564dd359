import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cohortPolicy, ConfigError, parseEdgeConfig } from "../../src/edge/config.js";

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
    const config = parseEdgeConfig({ ...good, PAUSED: "TRUE", ADMIT_PER_MINUTE: "0.5", ADMIT_FLOOR_PER_MINUTE: "0.1" });
    expect(config.paused).toBe(true);
    expect(config.admitPerMinute).toBe(0.5);
    expect(config.cohorts.map((c) => c.id)).toEqual(["55-59", "53-54", "50-52", "pq-now", "pq-later", "pq-opened", "pq-line", "paused"]);
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

  it("turns Web Push on with both VAPID keys and a subject, off with neither, and refuses half or malformed keys", () => {
    expect(parseEdgeConfig(good).push).toEqual({ publicKey: good.VAPID_PUBLIC_KEY, privateKey: good.VAPID_PRIVATE_KEY, subject: "mailto:waiting-room@example.org" });
    expect(parseEdgeConfig({ ...good, VAPID_PUBLIC_KEY: "", VAPID_PRIVATE_KEY: undefined }).push).toBeNull();
    expect(problemWith({ VAPID_PRIVATE_KEY: "" })).toMatch(/VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY/);
    expect(problemWith({ VAPID_PUBLIC_KEY: String(good.VAPID_PUBLIC_KEY).slice(0, 60) })).toMatch(/VAPID_PUBLIC_KEY must be the 65-byte/);
    expect(problemWith({ VAPID_PRIVATE_KEY: `${String(good.VAPID_PRIVATE_KEY)}AA` })).toMatch(/VAPID_PRIVATE_KEY must be the 32-byte/);
    expect(problemWith({ VAPID_SUBJECT: "ops@example.org" })).toMatch(/VAPID_SUBJECT must be a mailto/);
    expect(problemWith({ VAPID_SUBJECT: "" })).toMatch(/VAPID_SUBJECT is required/);
  });

  it("takes the autopilot's targets and floor from its bindings, and refuses values it could not act on", () => {
    const config = parseEdgeConfig({ ...good, AUTOPILOT: "false", ADMIT_FLOOR_PER_MINUTE: "12.5", ORIGIN_TARGET_P95_MS: "800", ORIGIN_MAX_ERROR_SHARE: "0.02" });
    expect(config.autopilot).toEqual({ enabled: false, floorPerMinute: 12.5, targetP95Ms: 800, maxErrorShare: 0.02, timeScale: 1 });
    // The test-only time scale: unset or empty is 1; anything else must be a positive number.
    expect(parseEdgeConfig({ ...good, AUTOPILOT_TIME_SCALE: "20" }).autopilot.timeScale).toBe(20);
    expect(parseEdgeConfig({ ...good, AUTOPILOT_TIME_SCALE: "" }).autopilot.timeScale).toBe(1);
    expect(problemWith({ AUTOPILOT_TIME_SCALE: "fast" })).toMatch(/AUTOPILOT_TIME_SCALE must be a number/);
    expect(parseEdgeConfig({ ...good, AUTOPILOT: "yes" }).autopilot.enabled).toBe(true);

    expect(problemWith({ AUTOPILOT: "sometimes" })).toMatch(/AUTOPILOT must be true or false/);
    expect(problemWith({ AUTOPILOT: undefined })).toMatch(/AUTOPILOT/);
    // A floor of 0 would let a sick origin stall the line for good.
    expect(problemWith({ ADMIT_FLOOR_PER_MINUTE: "0" })).toMatch(/ADMIT_FLOOR_PER_MINUTE must be above 0/);
    expect(problemWith({ ADMIT_FLOOR_PER_MINUTE: "slow" })).toMatch(/ADMIT_FLOOR_PER_MINUTE must be a number/);
    expect(parseEdgeConfig({ ...good, ADMIT_PER_MINUTE: "60", ADMIT_FLOOR_PER_MINUTE: "60" }).autopilot.floorPerMinute).toBe(60);
    // A rate lowered below the default floor takes the floor down with it instead of refusing to start.
    expect(parseEdgeConfig({ ...good, ADMIT_PER_MINUTE: "3", ADMIT_FLOOR_PER_MINUTE: "6" }).autopilot.floorPerMinute).toBe(3);
    expect(problemWith({ ORIGIN_TARGET_P95_MS: "1.5s" })).toMatch(/ORIGIN_TARGET_P95_MS must be a whole number/);
    expect(problemWith({ ORIGIN_TARGET_P95_MS: "0" })).toMatch(/ORIGIN_TARGET_P95_MS must be at least 1/);
    // A share is a decimal between 0 and 1: a percentage written as 1 (meaning 1%) would be refused, not read as 100%.
    expect(problemWith({ ORIGIN_MAX_ERROR_SHARE: "1" })).toMatch(/ORIGIN_MAX_ERROR_SHARE must be below 1/);
    expect(problemWith({ ORIGIN_MAX_ERROR_SHARE: "0" })).toMatch(/ORIGIN_MAX_ERROR_SHARE must be above 0/);
    expect(problemWith({ ORIGIN_MAX_ERROR_SHARE: "5%" })).toMatch(/ORIGIN_MAX_ERROR_SHARE must be a share between 0 and 1/);
    expect(problemWith({ ORIGIN_MAX_ERROR_SHARE: undefined })).toMatch(/ORIGIN_MAX_ERROR_SHARE/);
  });

  it("takes the identity provider from its bindings, and refuses a provider it could not trust", () => {
    const remote = parseEdgeConfig({ ...good, IDP_JWKS: "", IDP_JWKS_URL: "https://idp.example/jwks", IDP_MAX_AGE_SECONDS: undefined });
    expect(remote.identity).toMatchObject({ keys: { kind: "remote", url: "https://idp.example/jwks" }, maxAgeSeconds: 3600 });
    expect(parseEdgeConfig(good).identity.keys.kind).toBe("inline");

    expect(problemWith({ IDP_ISSUER: undefined })).toMatch(/IDP_ISSUER/);
    // Plain http would let anyone on the path forge the provider's answers; only a provider on this machine may use it.
    expect(problemWith({ IDP_ISSUER: "http://idp.example" })).toMatch(/IDP_ISSUER must be https/);
    expect(parseEdgeConfig({ ...good, IDP_ISSUER: "http://127.0.0.1:8789" }).identity.issuer).toBe("http://127.0.0.1:8789");
    expect(problemWith({ IDP_CLIENT_ID: "" })).toMatch(/IDP_CLIENT_ID/);
    expect(problemWith({ IDP_CLIENT_SECRET: undefined })).toMatch(/IDP_CLIENT_SECRET/);
    expect(problemWith({ IDP_JWKS_URL: "https://idp.example/jwks" })).toMatch(/set exactly one/);
    expect(problemWith({ IDP_JWKS: "", IDP_JWKS_URL: "" })).toMatch(/set exactly one/);
    expect(problemWith({ IDP_JWKS: "{not json" })).toMatch(/IDP_JWKS/);
    expect(problemWith({ IDP_JWKS: JSON.stringify({ keys: [] }) })).toMatch(/IDP_JWKS/);
    expect(problemWith({ IDP_MAX_AGE_SECONDS: "an hour" })).toMatch(/IDP_MAX_AGE_SECONDS/);
  });

  it("takes a cohort's own admitPerMinute, maxActive and paused over the global bindings, and refuses bad ones", () => {
    const cohorts = (overrides: Record<string, unknown>) =>
      JSON.stringify([{ id: "a", label: { ko: "가", en: "A" }, birthYears: [1960, 1970], opensAt: "2021-01-01T00:00:00Z", ...overrides }, { id: "b", label: { ko: "나", en: "B" }, birthYears: [1971, 1975], opensAt: "2021-01-01T00:00:00Z" }]);
    const config = parseEdgeConfig({ ...good, ADMIT_PER_MINUTE: "60", MAX_ACTIVE: "8", PAUSED: "false", COHORTS: cohorts({ admitPerMinute: 6.5, maxActive: 40, paused: true }) });
    expect(cohortPolicy(config, "a")).toEqual({ admitPerMinute: 6.5, maxActive: 40, paused: true });
    expect(cohortPolicy(config, "b")).toEqual({ admitPerMinute: 60, maxActive: 8, paused: false });
    // An override says what the cohort does, either way: false runs a cohort while PAUSED stops the rest.
    const running = parseEdgeConfig({ ...good, PAUSED: "true", COHORTS: cohorts({ paused: false }) });
    expect([cohortPolicy(running, "a").paused, cohortPolicy(running, "b").paused]).toEqual([false, true]);

    expect(problemWith({ COHORTS: cohorts({ admitPerMinute: 0 }) })).toMatch(/admitPerMinute must be above 0/);
    expect(problemWith({ COHORTS: cohorts({ admitPerMinute: "60" }) })).toMatch(/COHORTS/);
    expect(problemWith({ COHORTS: cohorts({ maxActive: 2.5 }) })).toMatch(/maxActive/);
    expect(problemWith({ SHARDS: "4", COHORTS: cohorts({ maxActive: 3 }) })).toMatch(/maxActive must be at least SHARDS/);
    expect(problemWith({ COHORTS: cohorts({ paused: "yes" }) })).toMatch(/COHORTS/);
  });

  it("takes Cloudflare Access for operators when both its bindings are set, and then refuses the local login", () => {
    const access = parseEdgeConfig({ ...good, ACCESS_TEAM_DOMAIN: "https://myteam.cloudflareaccess.com/", ACCESS_AUD: "aud-1" }).operators;
    expect(access).toEqual({
      access: { issuer: "https://myteam.cloudflareaccess.com", audience: "aud-1", keys: { kind: "remote", url: "https://myteam.cloudflareaccess.com/cdn-cgi/access/certs" } },
      localSecret: null,
    });
    expect(parseEdgeConfig({ ...good, ACCESS_TEAM_DOMAIN: "", ACCESS_AUD: "" }).operators).toEqual({ access: null, localSecret: good.OPERATOR_SECRET });
    expect(parseEdgeConfig({ ...good, OPERATOR_SECRET: undefined }).operators).toEqual({ access: null, localSecret: null });
    expect(problemWith({ ACCESS_TEAM_DOMAIN: "myteam.cloudflareaccess.com" })).toMatch(/set both/);
    expect(problemWith({ ACCESS_AUD: "aud-1" })).toMatch(/set both/);
    expect(problemWith({ ACCESS_TEAM_DOMAIN: "not a host", ACCESS_AUD: "aud-1" })).toMatch(/ACCESS_TEAM_DOMAIN/);
    expect(problemWith({ ACCESS_TEAM_DOMAIN: "t.cloudflareaccess.com", ACCESS_AUD: "a", ACCESS_JWKS: "{}" })).toMatch(/ACCESS_JWKS/);
    expect(problemWith({ OPERATOR_SECRET: "short" })).toMatch(/OPERATOR_SECRET/);
  });
});
