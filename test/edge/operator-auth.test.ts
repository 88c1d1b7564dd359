import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createEdgeApp } from "../../src/edge/app.js";
import { mintLoginCode, mintOperatorSession } from "../../src/edge/operators/operator-tokens.js";
import { config, errorCode, ORIGIN } from "./helpers.js";

/**
 * Operators only: /ops, its files and /api/ops/* take a Cloudflare Access JWT where Access is configured,
 * and otherwise the session that the one-time link of `npm start` opens. Everyone else learns nothing
 * about the line.
 */

const localSecret = config.operators.localSecret!;
const TEAM = "waiting-room-test.cloudflareaccess.com";
const AUD = "access-aud-0123456789abcdef";

async function login(code: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/ops/login?code=${encodeURIComponent(code)}`, { redirect: "manual" });
}

function sessionCookie(res: Response): string {
  const header = res.headers.getSetCookie().find((c) => c.startsWith("wr_operator="));
  if (!header) throw new Error(`no operator cookie in ${res.status} ${JSON.stringify(res.headers.getSetCookie())}`);
  return header.split(";")[0]!;
}

/** Asserts a refusal that says nothing about the line: no cohort, no count. */
async function expectRefused(res: Response, code = "operator_required"): Promise<void> {
  expect(res.status).toBe(401);
  const text = await res.clone().text();
  for (const id of config.cohorts.map((c) => c.id)) expect(text).not.toContain(id);
  expect(text).not.toMatch(/joined|waiting|admitted/);
  if (res.headers.get("content-type")?.includes("json")) expect(await errorCode(res)).toBe(code);
}

describe("the local one-time operator login", () => {
  it("without a credential, the API is a 401 in the error shape and the page a 401 that says how to sign in", async () => {
    await expectRefused(await SELF.fetch(`${ORIGIN}/api/ops/queue`));
    await expectRefused(await SELF.fetch(`${ORIGIN}/api/ops/cohorts/55-59/history`));
    const page = await SELF.fetch(`${ORIGIN}/ops`);
    await expectRefused(page);
    expect(await page.text()).toContain("one-time operator link");
    await expectRefused(await SELF.fetch(`${ORIGIN}/ops/console.js`));
  });

  it("a code opens a session once; the same code again is refused", async () => {
    const code = await mintLoginCode(localSecret);
    const first = await login(code);
    expect(first.status, await first.clone().text()).toBe(303);
    expect(first.headers.get("location")).toBe("/ops");
    const setCookie = first.headers.getSetCookie().find((c) => c.startsWith("wr_operator="))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = sessionCookie(first);
    const ops = await SELF.fetch(`${ORIGIN}/api/ops/queue`, { headers: { cookie } });
    expect(ops.status).toBe(200);
    expect(((await ops.json()) as { cohorts: unknown[] }).cohorts).toHaveLength(config.cohorts.length);
    expect((await SELF.fetch(`${ORIGIN}/ops`, { headers: { cookie } })).status).toBe(200);

    const again = await login(code);
    await expectRefused(again);
    expect(again.headers.getSetCookie()).toEqual([]);
  });

  it("refuses an expired code, a code signed with another secret, a session passed as a code, and garbage", async () => {
    await expectRefused(await login(await mintLoginCode(localSecret, Date.now() - 31 * 60_000)));
    await expectRefused(await login(await mintLoginCode("another-secret-of-at-least-32-characters")));
    await expectRefused(await login(await mintOperatorSession(localSecret)));
    await expectRefused(await login("not-a-code"));
    await expectRefused(await SELF.fetch(`${ORIGIN}/ops/login`, { redirect: "manual" }));
  });

  it("refuses a forged or expired session cookie, and a code used as a session", async () => {
    const forged = await mintOperatorSession("another-secret-of-at-least-32-characters");
    const expired = await mintOperatorSession(localSecret, Date.now() - 9 * 60 * 60_000);
    const code = await mintLoginCode(localSecret);
    for (const value of [forged, expired, code, "x"]) {
      await expectRefused(await SELF.fetch(`${ORIGIN}/api/ops/queue`, { headers: { cookie: `wr_operator=${value}` } }));
    }
  });
});

describe("Cloudflare Access", () => {
  let accessKey: CryptoKey;
  let otherKey: CryptoKey;
  let accessEnv: Env;
  const kid = "access-test-key";

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    accessKey = pair.privateKey;
    otherKey = (await generateKeyPair("RS256")).privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" };
    // The team's keys inline (ACCESS_JWKS) rather than fetched from <team>/cdn-cgi/access/certs: tests never reach the internet.
    accessEnv = { ...env, ACCESS_TEAM_DOMAIN: TEAM, ACCESS_AUD: AUD, ACCESS_JWKS: JSON.stringify({ keys: [publicJwk] }) } as Env;
  });

  /** A request to the edge as deployed behind Access (the app itself, with Access's bindings). */
  async function viaAccess(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await createEdgeApp().fetch(new Request(`${ORIGIN}${path}`, { headers, redirect: "manual" }), accessEnv, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  async function accessJwt(claims: Record<string, unknown> = {}, key: CryptoKey = accessKey, alg = "RS256"): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: `https://${TEAM}`, aud: [AUD], sub: "operator-1", email: "ops@example.org", iat: now, exp: now + 600, type: "app", ...claims })
      .setProtectedHeader({ alg, kid })
      .sign(key);
  }

  const assertion = (jwt: string) => ({ "cf-access-jwt-assertion": jwt });

  it("lets a good Access JWT through to the API and the page", async () => {
    const jwt = await accessJwt();
    expect((await viaAccess("/api/ops/queue", assertion(jwt))).status).toBe(200);
    expect((await viaAccess("/ops", assertion(jwt))).status).toBe(200);
  });

  it("refuses expired, wrong-audience, wrong-issuer and forged JWTs, and none at all", async () => {
    const now = Math.floor(Date.now() / 1000);
    const bad = {
      expired: await accessJwt({ iat: now - 3600, exp: now - 60 }),
      wrongAudience: await accessJwt({ aud: ["another-application"] }),
      wrongIssuer: await accessJwt({ iss: "https://another-team.cloudflareaccess.com" }),
      forged: await accessJwt({}, otherKey),
    };
    for (const [what, jwt] of Object.entries(bad)) {
      const res = await viaAccess("/api/ops/queue", assertion(jwt));
      expect(res.status, what).toBe(401);
      await expectRefused(res);
    }
    // An unsigned token claiming alg none.
    const { payload } = { payload: btoa(JSON.stringify({ iss: `https://${TEAM}`, aud: [AUD], exp: now + 600, iat: now })).replace(/=+$/, "") };
    await expectRefused(await viaAccess("/api/ops/queue", assertion(`${btoa('{"alg":"none"}').replace(/=+$/, "")}.${payload}.`)));
    await expectRefused(await viaAccess("/api/ops/queue"));
    await expectRefused(await viaAccess("/ops"));
  });

  it("refuses the local login and local sessions where Access is configured", async () => {
    const code = await mintLoginCode(localSecret);
    const res = await viaAccess(`/ops/login?code=${code}`);
    expect(res.status).toBe(404);
    expect(res.headers.getSetCookie()).toEqual([]);
    await expectRefused(await viaAccess("/api/ops/queue", { cookie: `wr_operator=${await mintOperatorSession(localSecret)}` }));
  });
});
