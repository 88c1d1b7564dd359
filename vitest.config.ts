import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { exportJWK, generateKeyPair } from "jose";
import { defineConfig } from "vitest/config";
import { cohortsBinding, NOT_OPEN_YET } from "./scripts/cohorts.js";
import { generateDevSecrets } from "./scripts/dev-secrets.js";

// Fresh secrets for every run: no private key is ever committed, and tests cannot depend on one.
const edgeSecrets = await generateDevSecrets();

// The edge tests play the identity provider: they sign id_tokens with this key, whose public half the
// edge trusts through the IDP_JWKS binding, exactly as it trusts a national provider's published keys.
const testIdpKey = await (async () => {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = `test-idp-${Date.now().toString(36)}`;
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "RS256" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" },
  };
})();

/** The edge's bindings under test: small numbers, so tests can reason about every admission. */
const edgeTestBindings = {
  ...edgeSecrets,
  ADMIT_PER_MINUTE: "60",
  MAX_ACTIVE: "8",
  SHARDS: "4",
  PASS_TTL_SECONDS: "900",
  CLAIM_WINDOW_SECONDS: "120",
  // Most tests move a shard's clock minutes on without polling, as nobody's page would; the presence
  // tests (test/edge/presence.test.ts) move it past this hour to find people away.
  PRESENCE_SECONDS: "3600",
  PAUSED: "false",
  // Each shard its own line unless a test makes it keep one line with its cohort's others (test-queue-shard.ts).
  TEST_SHARDS_ALONE: "true",
  // Nothing listens here: edge tests prove the gate refuses without ever needing an origin.
  ORIGIN_URL: "http://127.0.0.1:9",
  IDP_ISSUER: "https://idp.test",
  IDP_CLIENT_ID: "waiting-room-edge-test",
  IDP_JWKS_URL: "",
  IDP_JWKS: JSON.stringify({ keys: [testIdpKey.publicJwk] }),
  IDP_MAX_AGE_SECONDS: "3600",
  COHORTS: JSON.stringify([
    ...(JSON.parse(cohortsBinding(["55-59", "53-54", "50-52"], { "50-52": NOT_OPEN_YET })) as unknown[]),
    // Pre-queues (test/edge/prequeue.test.ts, draw.test.ts): one taking joins now and opening in 2099, one
    // not yet taking joins, and one that opened in 2021, whose shards the tests set back in time to join.
    { id: "pq-now", label: { ko: "사전 대기", en: "Pre-queue now" }, birthYears: [1950, 1953], prequeueOpensAt: "2021-07-01T00:00:00Z", opensAt: "2099-07-01T00:00:00Z" },
    { id: "pq-later", label: { ko: "사전 대기 예정", en: "Pre-queue later" }, birthYears: [1954, 1956], prequeueOpensAt: "2099-06-01T00:00:00Z", opensAt: "2099-07-01T00:00:00Z" },
    { id: "pq-opened", label: { ko: "사전 대기 종료", en: "Pre-queue opened" }, birthYears: [1957, 1960], prequeueOpensAt: "2021-07-01T10:00:00Z", opensAt: "2021-07-01T11:00:00Z" },
    // Its shards keep one line through its coordinator (test/edge/cohort-draw.test.ts, the only test that uses it).
    { id: "pq-line", label: { ko: "사전 대기 한 줄", en: "Pre-queue, one line" }, birthYears: [1930, 1935], prequeueOpensAt: "2021-07-01T10:00:00Z", opensAt: "2021-07-01T11:00:00Z" },
    // Open but paused by its own override while the global PAUSED is false: the others keep admitting.
    { id: "paused", label: { ko: "일시 중지", en: "Paused" }, birthYears: [1940, 1949], opensAt: "2021-07-01T20:00:00+09:00", paused: true, admitPerMinute: 6 },
  ]),
};

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          // The test Worker (test/workers/edge-test.ts): the production app and QueueShard plus the tests'
          // clock, counters and fault hook, with wrangler.toml's bindings.
          cloudflareTest({
            wrangler: { configPath: "./wrangler.test.toml" },
            miniflare: { bindings: edgeTestBindings },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
          provide: { idpSigningJwk: testIdpKey.privateJwk },
          // The push services the queue's consumer sends to (test/edge/push.test.ts), on this machine.
          globalSetup: ["test/edge/push-services-setup.ts"],
          // Serves the Worker's evaluated entry from the isolate instead of asking Node on every call.
          setupFiles: ["test/edge/setup.ts"],
        },
      },
      {
        test: {
          name: "origin",
          include: ["test/origin/**/*.test.ts"],
          // Starts the WebSocket-to-TCP bridge the Neon driver needs to reach a plain PostgreSQL.
          globalSetup: ["test/origin/support/global-setup.ts"],
          environment: "node",
          // Flash-crowd suites send hundreds of requests through real databases.
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The development OpenID Provider (src/dev-idp) on Node, over HTTP.
        test: { name: "idp", include: ["test/dev-idp/**/*.test.ts"], environment: "node", testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        // What ships: the production bundle (`wrangler deploy --dry-run`) and the test Worker's configuration.
        test: { name: "build", include: ["test/build/**/*.test.ts"], environment: "node", testTimeout: 120_000 },
      },
      {
        // The citizen's page in Debian's Chromium against the stack as `npm start` runs it.
        test: { name: "browser", include: ["test/browser/**/*.test.ts"], environment: "node", testTimeout: 180_000, hookTimeout: 180_000 },
      },
    ],
  },
});

declare module "vitest" {
  export interface ProvidedContext {
    /** The private key of the edge tests' identity provider (see testIdpKey). */
    idpSigningJwk: import("jose").JWK;
  }
}
