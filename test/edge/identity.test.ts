import { SELF } from "cloudflare:test";
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { base64url } from "../../src/edge/base64url.js";
import { citizenKey, shardOf } from "../../src/edge/identity/citizen-key.js";
import { verifyIdToken } from "../../src/edge/identity/id-token.js";
import { config, encodePart, errorCode, idToken, jwtParts, keyOf, OPEN_BIRTH_DATE, ORIGIN, postJoin, randomAddress, randomIdentity } from "./helpers.js";

/**
 * Only the identity provider can put a citizen in the line: every join carries an id_token that the
 * edge verifies against the provider's published keys. These are the tokens an attacker could make.
 */

/**
 * Asserts a limit of `limit` per window: the first `limit` answers are `allowed`, then 429 comes, and no
 * more than two windows' worth is allowed in all (the limiter's windows are aligned to the wall clock, so a
 * burst of requests may straddle the end of one).
 */
function expectLimited(statuses: number[], allowed: number, limit: number): void {
  expect(statuses.slice(0, limit).every((s) => s === allowed), JSON.stringify(statuses)).toBe(true);
  expect(statuses.every((s) => s === allowed || s === 429), JSON.stringify(statuses)).toBe(true);
  const firstLimited = statuses.indexOf(429);
  expect(firstLimited, JSON.stringify(statuses)).toBeGreaterThanOrEqual(limit);
  expect(firstLimited, JSON.stringify(statuses)).toBeLessThanOrEqual(2 * limit);
  expect(statuses.filter((s) => s === allowed).length).toBeLessThanOrEqual(2 * limit);
}

async function refusedJoin(token: string, headers: Record<string, string> = {}) {
  const res = await postJoin({ idToken: token }, { headers });
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  expect(await errorCode(res)).toBe("invalid_identity");
}

describe("joining with an id_token", () => {
  it("puts the provider's citizen in the cohort of the provider's birthdate, keyed on HMAC(iss|sub)", async () => {
    const subject = randomIdentity();
    const res = await postJoin({ idToken: await idToken(subject, "1967-03-04") });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ticket: string; status: { cohort: string; seq: number } };
    expect(body.status.cohort).toBe("53-54");
    // The ticket names the citizen only by the key the edge derived from the provider's iss and sub.
    const { payload } = jwtParts(body.ticket);
    expect(payload.sub).toBe(await keyOf(subject));
    expect(payload.shard).toBe(shardOf(await keyOf(subject), config.shards));
    expect(JSON.stringify(payload)).not.toContain(subject);
  });

  it("gives every token of one citizen the same place, and another citizen another", async () => {
    const subject = randomIdentity();
    const first = (await (await postJoin({ idToken: await idToken(subject) })).json()) as { ticket: string };
    // A new token from a later sign-in (a second device), with other incidental claims.
    const again = (await (await postJoin({ idToken: await idToken(subject, OPEN_BIRTH_DATE, { phone_number: "+821000000000", nonce: "n" }) })).json()) as { ticket: string };
    const other = (await (await postJoin({ idToken: await idToken(randomIdentity()) })).json()) as { ticket: string };
    expect(jwtParts(again.ticket).payload.jti).toBe(jwtParts(first.ticket).payload.jti);
    expect(jwtParts(other.ticket).payload.jti).not.toBe(jwtParts(first.ticket).payload.jti);
  });

  it("takes the same subject from another issuer as another citizen", async () => {
    expect(await keyOf("same-sub")).not.toBe(
      await citizenKey(config.citizenKeySecret, { issuer: "https://other-idp.test", subject: "same-sub" }),
    );
  });

  it("keys a citizen with the secret: another secret gives another key, and no plain hash of who they are matches", async () => {
    const who = { issuer: config.identity.issuer, subject: "sub-fixed" };
    const key = await citizenKey(config.citizenKeySecret, who);
    expect(await citizenKey(`${config.citizenKeySecret}x`, who)).not.toBe(key);
    const identityStrings = [`${who.issuer}|${who.subject}`, `citizen-key/v1:${who.issuer}|${who.subject}`, who.subject];
    for (const text of identityStrings) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
      const plain = base64url(digest);
      expect(key).not.toBe(plain);
      expect(key).not.toContain(plain.slice(0, 16));
      expect(key).not.toContain(who.subject);
    }
    // The same secret and identity always give the same key: joins stay idempotent.
    expect(await citizenKey(config.citizenKeySecret, { ...who })).toBe(key);
  });

  describe("refuses with 401 invalid_identity", async () => {
    const subject = randomIdentity();
    const now = Math.floor(Date.now() / 1000);
    const stranger = await generateKeyPair("RS256", { extractable: true });
    const providerJwk = inject("idpSigningJwk");
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...providerPublic } = providerJwk;
    const genuine = await idToken(subject);
    const { payload } = jwtParts(genuine);

    const cases: [string, () => Promise<string>][] = [
      ["a token from another issuer", () => idToken(subject, OPEN_BIRTH_DATE, { iss: "https://evil-idp.example" })],
      ["a token for another audience (another client of the provider)", () => idToken(subject, OPEN_BIRTH_DATE, { aud: "some-other-app" })],
      ["an expired token", () => idToken(subject, OPEN_BIRTH_DATE, { iat: now - 1_200, exp: now - 600 })],
      ["a token issued longer ago than IDP_MAX_AGE_SECONDS", () => idToken(subject, OPEN_BIRTH_DATE, { iat: now - config.identity.maxAgeSeconds - 120, exp: now + 600 })],
      ["a token without iat", () => idToken(subject, OPEN_BIRTH_DATE, { iat: undefined })],
      ["a token without birthdate", () => idToken(subject, OPEN_BIRTH_DATE, { birthdate: undefined })],
      ["a token with a birthdate that is not YYYY-MM-DD", () => idToken(subject, "17/05/1964")],
      ["a token without sub", () => idToken(subject, OPEN_BIRTH_DATE, { sub: undefined })],
      ["a token signed by a key the provider never published, under its kid", async () =>
        new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: providerJwk.kid! }).sign(stranger.privateKey)],
      ["a token signed by a key the provider never published, under a new kid", async () =>
        new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: "attacker" }).sign(stranger.privateKey)],
      ["alg: none", async () => `${encodePart({ alg: "none", kid: providerJwk.kid })}.${encodePart(payload)}.`],
      ["HS256 keyed with the provider's public JWK", async () =>
        new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: providerJwk.kid! }).sign(new TextEncoder().encode(JSON.stringify(providerPublic)))],
      ["HS256 keyed with the provider's public key as PEM", async () => {
        const pem = await exportSPKI((await importJWK({ ...providerPublic, alg: "RS256" }, "RS256", { extractable: true })) as CryptoKey);
        return new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: providerJwk.kid! }).sign(new TextEncoder().encode(pem));
      }],
      ["a genuine token with an edited birthdate", async () => {
        const { header, signature } = jwtParts(genuine);
        return `${encodePart(header)}.${encodePart({ ...payload, birthdate: "1970-01-01" })}.${signature}`;
      }],
      ["a genuine token with an edited subject", async () => {
        const { header, signature } = jwtParts(genuine);
        return `${encodePart(header)}.${encodePart({ ...payload, sub: "someone-else" })}.${signature}`;
      }],
      ["garbage", async () => "not.a.token"],
    ];
    expect(await exportJWK(stranger.publicKey)).not.toHaveProperty("d");

    for (const [name, make] of cases) {
      it(name, async () => {
        await refusedJoin(await make());
      });
    }
  });

  it("checks the browser flow's nonce: a token minted for another sign-in is refused", async () => {
    const token = await idToken(randomIdentity(), OPEN_BIRTH_DATE, { nonce: "nonce-of-this-sign-in" });
    expect((await verifyIdToken(config.identity, token, { nonce: "nonce-of-this-sign-in" })).ok).toBe(true);
    expect(await verifyIdToken(config.identity, token, { nonce: "nonce-of-another-sign-in" })).toMatchObject({ ok: false, problem: "refused" });
    // A token with no nonce cannot stand in for a browser sign-in either.
    expect((await verifyIdToken(config.identity, await idToken(randomIdentity()), { nonce: "n" })).ok).toBe(false);
  });

  it("limits failed identity checks per client address with 429 rate_limited, but never a valid token", async () => {
    const address = randomAddress();
    const codes: number[] = [];
    for (let i = 0; i < 45; i++) {
      const res = await postJoin({ idToken: `forged.${i}.token` }, { headers: { "cf-connecting-ip": address } });
      codes.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get("retry-after")).toBe("60");
        expect(await errorCode(res)).toBe("rate_limited");
      } else {
        expect(await errorCode(res)).toBe("invalid_identity");
      }
    }
    // wrangler.toml allows 20 failures a minute per address. workerd counts exactly, in windows aligned to
    // the wall clock, so a run that straddles a minute's end may see a second allowance: never a third.
    expectLimited(codes, 401, 20);
    // A citizen behind the same carrier address, with a real token, still gets in.
    const honest = await postJoin({ idToken: await idToken(randomIdentity()) }, { headers: { "cf-connecting-ip": address } });
    expect(honest.status).toBe(200);
    // Another address is not touched by this one's failures.
    await refusedJoin("forged.again.token", { "cf-connecting-ip": randomAddress() });
  });

  it("limits joins per citizen with 429, and the place survives the limit", async () => {
    const subject = randomIdentity();
    const statuses: number[] = [];
    let ticket = "";
    for (let i = 0; i < 22; i++) {
      const res = await postJoin({ idToken: await idToken(subject) });
      statuses.push(res.status);
      if (res.status === 200) ticket = ((await res.json()) as { ticket: string }).ticket;
      else expect(await errorCode(res)).toBe("rate_limited");
    }
    expectLimited(statuses, 200, 10);
    // The citizen still holds the very place they had.
    const status = await SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
    expect(status.status).toBe(200);
    // Another citizen is not limited by this one.
    expect((await postJoin({ idToken: await idToken(randomIdentity()) })).status).toBe(200);
  });

  it("limits status polls per ticket with 429, and other tickets poll on", async () => {
    const join = async () => ((await (await postJoin({ idToken: await idToken(randomIdentity()) })).json()) as { ticket: string }).ticket;
    const [mine, theirs] = [await join(), await join()];
    const poll = (t: string) => SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { authorization: `Bearer ${t}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 62; i++) {
      const res = await poll(mine);
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expectLimited(statuses, 200, 30);
    expect((await poll(theirs)).status).toBe(200);
  });
});
