import { SELF } from "cloudflare:test";
import { createLocalJWKSet, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { describe, expect, it } from "vitest";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../src/contract/errors.js";
import { checkPass, PASS_REQUIRED_CLAIMS } from "../../src/contract/pass.js";
import { newTicketId } from "../../src/edge/tokens/ticket.js";
import { signPass, verifyPass } from "../../src/edge/tokens/pass.js";
import { config, encodePart, errorCode, jwtParts, ORIGIN } from "./helpers.js";

const kid = config.signingKeys[0]!.kid;

function fields(overrides: Partial<Parameters<typeof signPass>[1]> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { sub: "c".repeat(43), jti: newTicketId(), cohort: "55-59", shard: 1, seq: 7, iat: now, exp: now + 600, ...overrides };
}

async function jwks(): Promise<{ keys: JWK[] }> {
  const res = await SELF.fetch(`${ORIGIN}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toMatch(/public, max-age=\d+/);
  return (await res.json()) as { keys: JWK[] };
}

/**
 * The clock skew the contract allows (PASS_CLOCK_SKEW_SECONDS), written out rather than imported so that
 * a change to it fails here: the signing edge and the verifying gate and origin keep their own clocks, and
 * a few seconds absorbs that, where a minute would let expired passes book. Each case below sits two
 * seconds from a boundary, so a second ticking over between signing and checking changes nothing.
 */
const SKEW = 5;

function importOurs() {
  return importJWK({ ...config.signingKeys[0]!, alg: "ES256" }, "ES256");
}

/** A pass with our key and kid whose `iat`/`nbf` are set apart (signPass makes them equal). */
async function signedAt(times: { iat: number; nbf: number }): Promise<string> {
  const { payload } = jwtParts(await signPass(config, fields()));
  return new SignJWT({ ...payload, ...times, exp: times.iat + 600 }).setProtectedHeader({ alg: "ES256", kid }).sign(await importOurs());
}

/** Calls the gated booking API with a pass; the gate must refuse before any origin is called. */
async function gate(pass: string | undefined): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/slots?region=11`, { headers: pass === undefined ? {} : { authorization: `Bearer ${pass}` } });
}

describe("passes", () => {
  it("publishes the public keys, never a private part", async () => {
    const { keys } = await jwks();
    expect(keys.map((k) => k.kid)).toEqual(config.signingKeys.map((k) => k.kid));
    for (const k of keys) {
      expect(k.d).toBeUndefined();
      expect(k).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    }
  });

  it("are ES256 JWTs with kid and every claim, passing the origin's check with nothing but the published keys", async () => {
    const pass = await signPass(config, fields());
    const { header, payload } = jwtParts(pass);
    expect(header).toMatchObject({ alg: "ES256", kid });
    for (const claim of PASS_REQUIRED_CLAIMS) expect(payload[claim], claim).toBeDefined();
    // What the origin does on its own: the contract's check, with the JWKS, issuer, audience and lifetime.
    const expected = { issuer: config.issuer, audience: config.audience, passTtlSeconds: config.passTtlSeconds };
    const atOrigin = await checkPass(pass, createLocalJWKSet(await jwks()), expected);
    expect(atOrigin.ok && atOrigin.pass.sub).toBe("c".repeat(43));
    expect((await verifyPass(config, pass)).ok).toBe(true);
  });

  describe("refused at the gate with 401 invalid_token", async () => {
    const other = await generateKeyPair("ES256", { extractable: true });
    const now = Math.floor(Date.now() / 1000);
    const genuine = await signPass(config, fields());
    const { payload } = jwtParts(genuine);
    const ourPublic = (await jwks()).keys[0]!;

    const cases: [string, () => Promise<string | undefined>][] = [
      ["no pass", async () => undefined],
      ["garbage", async () => "abc.def.ghi"],
      ["signed with another key under our kid", async () => new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid }).sign(other.privateKey)],
      ["an unknown kid", async () => new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: "someone-else" }).sign(other.privateKey)],
      ["alg none", async () => `${encodePart({ alg: "none", kid })}.${encodePart(payload)}.`],
      ["expired", async () => signPass(config, fields({ iat: now - 1_000, exp: now - 100 }))],
      // Genuinely ours, but claiming a week: no edge honouring PASS_TTL_SECONDS signs that.
      ["living longer than PASS_TTL_SECONDS", async () => signPass(config, fields({ exp: now + config.passTtlSeconds + 3_600 }))],
      ["not yet valid", async () => signPass(config, fields({ iat: now + 600, exp: now + 1_200 }))],
      ["a wrong audience", async () => new SignJWT({ ...payload, aud: "someone-else" }).setProtectedHeader({ alg: "ES256", kid }).sign(await importOurs())],
      ["a wrong issuer", async () => new SignJWT({ ...payload, iss: "https://evil.example" }).setProtectedHeader({ alg: "ES256", kid }).sign(await importOurs())],
      ["signed with our key but naming no kid", async () => new SignJWT(payload).setProtectedHeader({ alg: "ES256" }).sign(await importOurs())],
      ["expired just past the clock skew", async () => signPass(config, fields({ iat: now - 600, exp: now - SKEW - 2 }))],
      ["issued further in the future than the clock skew", async () => signedAt({ iat: now + SKEW + 2, nbf: now })],
      ["a missing claim", async () => new SignJWT({ ...payload, seq: undefined }).setProtectedHeader({ alg: "ES256", kid }).sign(await importOurs())],
      [
        "HS256 keyed with our public key",
        async () => new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid }).sign(new TextEncoder().encode(JSON.stringify(ourPublic))),
      ],
      ["re-signed after editing the seq", async () => {
        const { header, signature } = jwtParts(genuine);
        return `${encodePart(header)}.${encodePart({ ...payload, seq: 1 })}.${signature}`;
      }],
    ];


    for (const [name, make] of cases) {
      it(name, async () => {
        const res = await gate(await make());
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
        expect(await errorCode(res)).toBe("invalid_token");
      });
    }
  });

  describe("clock skew", () => {
    const now = Math.floor(Date.now() / 1000);

    it("refuses a pass 10 s past its expiry", async () => {
      const check = await verifyPass(config, await signPass(config, fields({ iat: now - 600, exp: now - 10 })));
      expect(check).toMatchObject({ ok: false, code: "ERR_JWT_EXPIRED" });
    });

    it("refuses a pass expired just past the skew and accepts one expired just inside it", async () => {
      const past = await verifyPass(config, await signPass(config, fields({ iat: now - 600, exp: now - SKEW - 2 })));
      const inside = await verifyPass(config, await signPass(config, fields({ iat: now - 600, exp: now - SKEW + 2 })));
      expect(past).toMatchObject({ ok: false, code: "ERR_JWT_EXPIRED" });
      expect(inside.ok).toBe(true);
    });

    it("refuses a pass issued beyond the skew in the future and accepts one issued just inside it", async () => {
      const beyond = await verifyPass(config, await signedAt({ iat: now + SKEW + 2, nbf: now }));
      const inside = await verifyPass(config, await signedAt({ iat: now + SKEW - 2, nbf: now }));
      expect(beyond).toMatchObject({ ok: false, code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
      expect(inside.ok).toBe(true);
    });
  });

  it("refuses a pass signed with our own key but naming no kid", async () => {
    const { payload } = jwtParts(await signPass(config, fields()));
    const check = await verifyPass(config, await new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: "ES256" }).sign(await importOurs()));
    expect(check).toMatchObject({ ok: false, code: "ERR_PASS_NO_KID" });
  });

  it("tells no pass from a broken Authorization header, as the origin does", async () => {
    const none = await gate(undefined);
    const basic = await SELF.fetch(`${ORIGIN}/api/slots?region=11`, { headers: { authorization: "Basic dXNlcjpwYXNz" } });

    expect([none.status, basic.status]).toEqual([401, 401]);
    // RFC 6750: a request with no credential gets a bare challenge; a broken one is told invalid_token.
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect(basic.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(await errorCode(basic)).toBe("invalid_token");
  });

  it("lets a valid pass through the gate; an unreachable origin is a retryable 503, never a hang", async () => {
    const res = await gate(await signPass(config, fields()));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    expect(await errorCode(res)).toBe("unavailable");
  });
});
