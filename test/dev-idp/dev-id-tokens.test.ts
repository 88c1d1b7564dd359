import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { idpForFile } from "./support/provider.js";

const idp = idpForFile();

let counter = 0;
/** A number no other test of this file uses (last four digits differ). */
const phone = () => `+821055${String(++counter).padStart(6, "0")}`;

/** POST /dev/id-tokens; with the mint secret unless `authorization` says otherwise (null: no header). */
async function mint(body: unknown, contentType = "application/json", authorization: string | null = `Bearer ${idp.mintSecret}`) {
  const res = await fetch(`${idp.url}/dev/id-tokens`, {
    method: "POST",
    headers: { "content-type": contentType, ...(authorization === null ? {} : { authorization }) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, type: res.headers.get("content-type"), challenge: res.headers.get("www-authenticate") };
}

describe("discovery and keys", () => {
  it("publishes its discovery document and an RS256 key with a kid", async () => {
    const config = (await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(config.issuer).toBe(idp.url);
    expect(config.jwks_uri).toBe(`${idp.url}/jwks`);
    expect(config.authorization_endpoint).toBe(`${idp.url}/auth`);
    expect(config.token_endpoint).toBe(`${idp.url}/token`);
    expect(config.code_challenge_methods_supported).toEqual(["S256"]);
    expect(config.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic"]);
    expect(config.id_token_signing_alg_values_supported).toEqual(["RS256"]);
    expect(config.scopes_supported).toEqual(expect.arrayContaining(["openid", "profile", "phone"]));
    const jwks = (await (await fetch(`${idp.url}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig", kid: expect.any(String) });
    // Public parts only.
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });
});

describe("POST /dev/id-tokens", () => {
  it("is shut without the mint secret: 401 in the error shape, before the body is read, and nothing recorded", async () => {
    const number = phone();
    const citizens = [{ phoneNumber: number, birthdate: "1964-05-17" }];
    for (const authorization of [null, "", "Bearer", `Bearer ${idp.mintSecret}x`, `Bearer ${idp.mintSecret.slice(1)}`, `Basic ${idp.mintSecret}`, idp.mintSecret, `Bearer ${idp.clientSecret}`]) {
      const refused = await mint({ citizens }, "application/json", authorization);
      expect([authorization, refused.status]).toEqual([authorization, 401]);
      expect(refused.body).toEqual({ error: { code: "invalid_token", message: expect.stringContaining("DEV_IDP_MINT_SECRET") } });
      expect(refused.challenge).toMatch(/^Bearer realm="dev-id-tokens"/);
      expect(JSON.stringify(refused.body)).not.toContain(idp.mintSecret);
    }
    // Not even a body's faults are looked at without it.
    expect((await mint("{not json", "text/plain", null)).status).toBe(401);
    // Nothing was recorded: the number takes any birth date from the secret's holder.
    const allowed = await mint({ citizens: [{ phoneNumber: number, birthdate: "1970-01-02" }] });
    expect(allowed.status).toBe(200);
    expect(decodeJwt((allowed.body.idTokens as string[])[0]!).birthdate).toBe("1970-01-02");
  });

  it("issues id_tokens that verify against the published keys with the issuer, audience and claims", async () => {
    const [a, b] = [phone(), phone()];
    const { status, body } = await mint({ citizens: [{ phoneNumber: a, birthdate: "1964-05-17" }, { phoneNumber: b, birthdate: "1970-01-02" }] });
    expect(status).toBe(200);
    const tokens = body.idTokens as string[];
    expect(tokens).toHaveLength(2);
    const keys = createRemoteJWKSet(new URL(`${idp.url}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens[0]!, keys, { issuer: idp.url, audience: idp.clientId, algorithms: ["RS256"] });
    const jwks = (await (await fetch(`${idp.url}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(protectedHeader.kid).toBe(jwks.keys[0]!.kid);
    expect(payload).toMatchObject({ birthdate: "1964-05-17", phone_number: a, phone_number_verified: true });
    expect(payload.sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(payload.sub).not.toContain("1055"); // opaque: the number does not show through
    expect(payload.nonce).toBeUndefined();
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(30);
    // Same order as asked.
    expect((await jwtVerify(tokens[1]!, keys, { issuer: idp.url, audience: idp.clientId })).payload).toMatchObject({ phone_number: b, birthdate: "1970-01-02" });
  });

  it("gives every spelling of one number the same sub, and different numbers different subs", async () => {
    const middle = String(7000 + ++counter);
    const e164 = `+8210${middle}4321`;
    const spellings = [`010-${middle}-4321`, `010${middle}4321`, `+82 10 ${middle} 4321`, e164];
    const other = phone();
    const { status, body } = await mint({ citizens: [...spellings.map((p) => ({ phoneNumber: p, birthdate: "1966-03-04" })), { phoneNumber: other, birthdate: "1966-03-04" }] });
    expect(status).toBe(200);
    const claims = (body.idTokens as string[]).map((t) => decodeJwt(t));
    expect(new Set(claims.slice(0, 4).map((c) => c.sub)).size).toBe(1);
    expect(claims.slice(0, 4).every((c) => c.phone_number === e164)).toBe(true);
    expect(claims[4]!.sub).not.toBe(claims[0]!.sub);
    // And on a later call too: the sub is stable, not per call.
    const again = await mint({ citizens: [{ phoneNumber: e164, birthdate: "1966-03-04" }] });
    expect(decodeJwt((again.body.idTokens as string[])[0]!).sub).toBe(claims[0]!.sub);
  });

  it("refuses a birth date that contradicts the registry with 409, recording nothing of that call", async () => {
    const [known, fresh] = [phone(), phone()];
    expect((await mint({ citizens: [{ phoneNumber: known, birthdate: "1964-05-17" }] })).status).toBe(200);
    const refused = await mint({ citizens: [{ phoneNumber: fresh, birthdate: "1980-01-01" }, { phoneNumber: known, birthdate: "1964-05-18" }] });
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ error: { code: "birthdate_conflict", message: expect.stringContaining(known) } });
    // All or nothing: `fresh` was not recorded, so another birth date for it is still accepted.
    expect((await mint({ citizens: [{ phoneNumber: fresh, birthdate: "1981-02-02" }] })).status).toBe(200);
    // Two different dates for one number within a call are a conflict too.
    const twice = phone();
    expect((await mint({ citizens: [{ phoneNumber: twice, birthdate: "1964-01-01" }, { phoneNumber: twice, birthdate: "1964-01-02" }] })).status).toBe(409);
  });

  it("issues up to 1,000 per call and refuses 1,001 with 400", async () => {
    const base = 100_000 + ++counter * 2000;
    const citizens = (n: number) => Array.from({ length: n }, (_, i) => ({ phoneNumber: `+82109${String(base + i).padStart(7, "0")}`, birthdate: "1965-06-07" }));
    const ok = await mint({ citizens: citizens(1000) });
    expect(ok.status).toBe(200);
    const tokens = ok.body.idTokens as string[];
    expect(tokens).toHaveLength(1000);
    expect(decodeJwt(tokens[999]!).phone_number).toBe(`+82109${String(base + 999).padStart(7, "0")}`);
    expect(decodeProtectedHeader(tokens[0]!).alg).toBe("RS256");
    const over = await mint({ citizens: citizens(1001) });
    expect(over.status).toBe(400);
    expect(over.body).toEqual({ error: { code: "invalid_request", message: expect.stringContaining("1000") } });
  });

  it("answers malformed requests with 4xx in the error shape, and keeps running", async () => {
    const cases: [unknown, number, string][] = [
      ["{not json", 400, "bad_json"],
      [{}, 400, "invalid_request"],
      [{ citizens: [] }, 400, "invalid_request"],
      [{ citizens: "x" }, 400, "invalid_request"],
      [{ citizens: [{ phoneNumber: "02-123-4567", birthdate: "1964-05-17" }] }, 400, "invalid_request"],
      [{ citizens: [{ phoneNumber: phone(), birthdate: "1964-02-30" }] }, 400, "invalid_request"],
      [{ citizens: [{ phoneNumber: phone(), birthdate: "17/05/1964" }] }, 400, "invalid_request"],
      [{ citizens: [{ phoneNumber: phone(), birthdate: "2999-01-01" }] }, 400, "invalid_request"],
      [{ citizens: [{ phoneNumber: phone(), birthdate: "1964-05-17", admin: true }] }, 400, "invalid_request"],
      [{ citizens: [{ phoneNumber: 1012345678, birthdate: "1964-05-17" }] }, 400, "invalid_request"],
      [null, 400, "invalid_request"],
    ];
    for (const [body, status, code] of cases) {
      const res = await mint(body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), status]);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    expect((await mint({ citizens: [] }, "text/plain")).status).toBe(415);
    expect((await mint("x".repeat(300 * 1024))).status).toBe(413);
    const get = await fetch(`${idp.url}/dev/id-tokens`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe("method_not_allowed");
    expect((await fetch(`${idp.url}/dev/nothing`, { method: "POST" })).status).toBe(404);
    expect(idp.alive()).toBe(true);
    // No token ever reaches the log.
    expect(idp.output()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
