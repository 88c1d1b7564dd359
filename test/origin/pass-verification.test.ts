import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { base64url, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, type TestDatabase } from "./support/backends.js";
import {
  makePassKeys,
  passClaimsFor,
  publicKeyPem,
  signPass,
  type PassKeys,
} from "./support/passes.js";
import { bookingOf, createSlot, errorOf, postBooking, seatsTaken, type OriginApp, openOrigin, originWithRemoteKeys } from "./support/origin.js";

const now = () => Math.floor(Date.now() / 1000);
/**
 * The clock skew the contract allows (PASS_CLOCK_SKEW_SECONDS, the same at the edge's gate), written out
 * rather than imported so that a change to it fails here. Each case sits two seconds from a boundary, so
 * a second ticking over between signing and checking changes nothing.
 */
const SKEW = 5;

function unsignedPass(claims: Record<string, unknown>, kid: string): string {
  const encode = (part: unknown) => base64url.encode(JSON.stringify(part));
  return `${encode({ alg: "none", typ: "JWT", kid })}.${encode(claims)}.`;
}

describe.each(backends)("pass verification ($name)", (backend) => {
  let database: TestDatabase;
  let keys: PassKeys;
  let app: OriginApp;
  let slotId: number;

  beforeAll(async () => {
    ({ database, keys, app } = await openOrigin(backend));
    slotId = await createSlot(database.db, 100);
  });
  afterAll(() => database?.close());

  const refusedPasses: Array<[string, (keys: PassKeys) => Promise<string>]> = [
    ["forged (signed with another key under the same kid)", async (k) => {
      const impostor = await makePassKeys();
      return new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "ES256", kid: k.kid }).sign(impostor.privateKey);
    }],
    ["expired", (k) => signPass(k, passClaimsFor({ iat: now() - 1000, nbf: now() - 1000, exp: now() - 60 }))],
    ["not valid yet", (k) => signPass(k, passClaimsFor({ nbf: now() + 600, exp: now() + 1200 }))],
    ["expired 10 s ago", (k) => signPass(k, passClaimsFor({ iat: now() - 600, nbf: now() - 600, exp: now() - 10 }))],
    ["expired just past the clock skew", (k) => signPass(k, passClaimsFor({ iat: now() - 600, nbf: now() - 600, exp: now() - SKEW - 2 }))],
    ["issued further in the future than the clock skew", (k) => signPass(k, passClaimsFor({ iat: now() + SKEW + 2 }))],
    // The edge names its signing key in every pass; a key set of one must not accept a pass by elimination.
    ["naming no signing key (no kid)", (k) => new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "ES256", typ: "JWT" }).sign(k.privateKey)],
    // A stolen signing key could mint a pass for days; the origin holds passes to the configured life.
    ["living longer than PASS_TTL_SECONDS", (k) => signPass(k, passClaimsFor({ exp: now() + 7 * 86_400 }))],
    ["for another audience", (k) => signPass(k, passClaimsFor({ aud: "some-other-service" }))],
    ["from another issuer", (k) => signPass(k, passClaimsFor({ iss: "https://evil.example" }))],
    ["unsigned (alg: none)", async (k) => unsignedPass(passClaimsFor(), k.kid)],
    ["HS256 with the public key as the secret", async (k) => {
      const secret = new TextEncoder().encode(await publicKeyPem(k));
      return new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "HS256", kid: k.kid }).sign(secret);
    }],
    ["HS256 with the public JWK as the secret", async (k) => {
      const secret = new TextEncoder().encode(JSON.stringify(k.publicJwk));
      return new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "HS256", kid: k.kid }).sign(secret);
    }],
    ["missing the cohort claim", (k) => {
      const { cohort: _cohort, ...claims } = passClaimsFor();
      return signPass(k, claims);
    }],
    ["with a malformed claim (negative shard)", (k) => signPass(k, passClaimsFor({ shard: -1 }))],
    ["with a too-short citizen key", (k) => signPass(k, passClaimsFor({ sub: "short" }))],
    ["with a tampered payload", async (k) => {
      const [header, , signature] = (await signPass(k)).split(".");
      return `${header}.${base64url.encode(JSON.stringify(passClaimsFor()))}.${signature}`;
    }],
    ["that is not a JWT at all", async () => "not-a-jwt"],
  ];

  it.each(refusedPasses)("refuses a pass %s with 401 invalid_token and books nothing", async (_, make) => {
    const res = await postBooking(app, await make(keys), { slotId });

    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
    const error = await errorOf(res);
    expect(error.code).toBe("invalid_token");
    expect(await seatsTaken(database.db, slotId)).toBe(0);
  });

  it("accepts a pass expired just inside the clock skew, or issued just inside it in the future", async () => {
    const expiredInside = await signPass(keys, passClaimsFor({ iat: now() - 600, nbf: now() - 600, exp: now() - SKEW + 2 }));
    const issuedAhead = await signPass(keys, passClaimsFor({ iat: now() + SKEW - 2 }));

    const [a, b] = [await postBooking(app, expiredInside, { slotId }), await postBooking(app, issuedAhead, { slotId })];

    expect([a.status, b.status]).toEqual([201, 201]);
  });

  it("asks for a pass when none is presented", async () => {
    const res = await app.request("/api/bookings/me");

    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toBe("Bearer");
    expect((await errorOf(res)).code).toBe("invalid_token");
  });

  it("refuses an Authorization header that is not a Bearer pass", async () => {
    const res = await app.request("/api/bookings/me", { headers: { Authorization: "Basic dXNlcjpwYXNz" } });

    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe("invalid_token");
  });

  it("accepts a valid pass from the Authorization header or the wr_pass cookie", async () => {
    const viaHeader = await postBooking(app, await signPass(keys), { slotId });
    const viaCookie = await app.request("/api/bookings", {
      method: "POST",
      headers: { Cookie: `wr_pass=${await signPass(keys)}`, "Content-Type": "application/json" },
      body: JSON.stringify({ slotId }),
    });

    expect(viaHeader.status).toBe(201);
    expect(viaCookie.status).toBe(201);
    expect((await bookingOf(viaCookie)).slot.id).toBe(slotId);
  });

  it("fetches the edge's public keys from its JWKS URL", async () => {
    let fetches = 0;
    const jwksServer: Server = createServer((_, res) => {
      fetches += 1;
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(keys.jwks));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = jwksServer.address() as AddressInfo;
      const remote = originWithRemoteKeys(database.db, `http://127.0.0.1:${port}/.well-known/jwks.json`);

      const first = await postBooking(remote, await signPass(keys), { slotId });
      const second = await postBooking(remote, await signPass(keys), { slotId });
      const forged = await postBooking(remote, await signPass(await makePassKeys()), { slotId });

      expect([first.status, second.status, forged.status]).toEqual([201, 201, 401]);
      // Cached: one fetch for the key set, however many passes it verifies.
      expect(fetches).toBe(1);
    } finally {
      await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    }
  });

  it("answers 401, not 5xx, when the edge's key set cannot be fetched", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = originWithRemoteKeys(database.db, `http://127.0.0.1:${port}/.well-known/jwks.json`);

    const res = await postBooking(unreachable, await signPass(keys), { slotId });

    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe("invalid_token");
  });
});
