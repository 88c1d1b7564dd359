import { base64url, createLocalJWKSet, decodeProtectedHeader, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { checkJwtDirectly, directRules, protectedHeaderOf, type DirectAlgorithm } from "../../src/contract/direct-jwt.js";
import { ID_TOKEN_ALGORITHMS } from "../../src/edge/identity/id-token.js";

/**
 * The direct check (src/contract/direct-jwt.ts) runs before jose's jwtVerify on every join's id_token and
 * every booking's pass, and must decide as jwtVerify does. Here, in workerd, with the id_token's rules
 * (RS256, PS256 and ES256 allowed) and keys of each kind: whatever the direct check decides, jwtVerify
 * must decide the same (the verdict, the code, and which claim and why), and where it passes the token on,
 * jwtVerify decides. The corpus holds good tokens of each algorithm, each claim missing or wrong, the
 * clock's edges, keys jose refuses (RSA under 2048 bits, a key of another algorithm), and headers and
 * parts the direct check must leave to jose.
 */
const ISSUER = "https://idp.test";
const AUDIENCE = "waiting-room-test";
const SKEW = 10;
const MAX_AGE = 600;
const OPTIONS: JWTVerifyOptions = {
  algorithms: ID_TOKEN_ALGORITHMS,
  issuer: ISSUER,
  audience: AUDIENCE,
  requiredClaims: ["iss", "aud", "sub", "iat", "exp", "birthdate"],
  maxTokenAge: MAX_AGE,
  clockTolerance: SKEW,
};

type Verdict = { ok: true; payload: unknown } | { ok: false; code: string; claim?: string; reason?: string };

function describeError(error: unknown): Verdict {
  const code = error instanceof errors.JOSEError ? error.code : error instanceof TypeError ? "TypeError" : "ERR_UNKNOWN";
  return error instanceof errors.JWTClaimValidationFailed ? { ok: false, code, claim: error.claim, reason: error.reason } : { ok: false, code };
}

async function joseVerdict(token: string, keys: JWTVerifyGetKey): Promise<Verdict> {
  try {
    return { ok: true, payload: (await jwtVerify(token, keys, OPTIONS)).payload };
  } catch (error) {
    return describeError(error);
  }
}

/** What verifyIdToken and checkPass do: the direct check, and jwtVerify where it passes the token on. */
async function directThenJose(token: string, keys: JWTVerifyGetKey): Promise<{ verdict: Verdict; direct: boolean }> {
  const direct = await checkJwtDirectly(token, keys, directRules(OPTIONS));
  if (!direct) return { verdict: await joseVerdict(token, keys), direct: false };
  return { verdict: direct.ok ? { ok: true, payload: direct.payload } : describeError(direct.error), direct: true };
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: `citizen-${crypto.randomUUID()}`,
  birthdate: "1962-03-04",
  iat: now(),
  exp: now() + 300,
  ...overrides,
});
const part = (value: unknown) => base64url.encode(typeof value === "string" ? value : JSON.stringify(value));

describe("the direct JWT check decides as jose's jwtVerify does", () => {
  const cases: Array<[string, string]> = [];
  let keys: JWTVerifyGetKey;

  beforeAll(async () => {
    const pairs: Array<[DirectAlgorithm, Awaited<ReturnType<typeof generateKeyPair>>]> = [];
    for (const alg of ["RS256", "PS256", "ES256"] as const) pairs.push([alg, await generateKeyPair(alg, { extractable: true })]);
    // jose makes no RSA key under 2048 bits and signs with none, so this one is made and used by hand.
    const weak = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const outsider = await generateKeyPair("RS256", { extractable: true });
    const jwks = { keys: [] as object[] };
    for (const [alg, pair] of pairs) jwks.keys.push({ ...(await exportJWK(pair.publicKey)), kid: alg, alg, use: "sig" });
    jwks.keys.push({ ...(await crypto.subtle.exportKey("jwk", weak.publicKey)), kid: "weak", alg: "RS256", use: "sig" });
    // An RSA key published for RS256, named by a token that says PS256.
    jwks.keys.push({ ...(await exportJWK(pairs[0]![1].publicKey)), kid: "rs-as-ps", alg: "RS256", use: "sig" });
    keys = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);

    for (const [alg, { privateKey }] of pairs) {
      const sign = (body: Record<string, unknown>, header: Record<string, unknown> = { alg, kid: alg, typ: "JWT" }) =>
        new SignJWT(body).setProtectedHeader(header as { alg: string }).sign(privateKey);
      const good = await sign(claims());
      const [h, p, s] = good.split(".") as [string, string, string];
      const flipped = `${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
      cases.push(
        [`${alg}: good`, good],
        [`${alg}: good without typ`, await sign(claims(), { alg, kid: alg })],
        [`${alg}: audience in an array`, await sign(claims({ aud: ["x", AUDIENCE] }))],
        [`${alg}: another audience`, await sign(claims({ aud: "other" }))],
        [`${alg}: another issuer`, await sign(claims({ iss: "https://evil.example" }))],
        [`${alg}: no birthdate`, await sign(Object.fromEntries(Object.entries(claims()).filter(([k]) => k !== "birthdate")))],
        [`${alg}: no iat`, await sign(Object.fromEntries(Object.entries(claims()).filter(([k]) => k !== "iat")))],
        [`${alg}: no exp`, await sign(Object.fromEntries(Object.entries(claims()).filter(([k]) => k !== "exp")))],
        [`${alg}: no sub`, await sign(Object.fromEntries(Object.entries(claims()).filter(([k]) => k !== "sub")))],
        [`${alg}: iat a string`, await sign(claims({ iat: String(now()) }))],
        [`${alg}: nbf in the future`, await sign(claims({ nbf: now() + 120 }))],
        [`${alg}: nbf inside the skew`, await sign(claims({ nbf: now() + SKEW - 3 }))],
        [`${alg}: nbf a string`, await sign(claims({ nbf: "soon" }))],
        [`${alg}: expired`, await sign(claims({ iat: now() - 400, exp: now() - 60 }))],
        [`${alg}: expired inside the skew`, await sign(claims({ iat: now() - 400, exp: now() - SKEW + 3 }))],
        [`${alg}: issued too long ago`, await sign(claims({ iat: now() - MAX_AGE - SKEW - 30, exp: now() + 60 }))],
        [`${alg}: issued in the future`, await sign(claims({ iat: now() + SKEW + 30 }))],
        [`${alg}: a flipped signature bit`, `${h}.${p}.${flipped}`],
        [`${alg}: another payload`, `${h}.${part(claims())}.${s}`],
        [`${alg}: an unknown kid`, await sign(claims(), { alg, kid: "nobody", typ: "JWT" })],
        [`${alg}: an extra header member`, await sign(claims(), { alg, kid: alg, typ: "JWT", cty: "JWT" })],
        [`${alg}: a payload that is an array`, `${h}.${part([1])}.${s}`],
        [`${alg}: padding`, `${good}=`],
      );
    }
    const rs = pairs[0]![1].privateKey;
    cases.push(
      ["RS256 signed by an RSA key under 2048 bits", await (async () => {
        const input = `${part({ alg: "RS256", kid: "weak" })}.${part(claims())}`;
        const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", weak.privateKey, new TextEncoder().encode(input));
        return `${input}.${base64url.encode(new Uint8Array(signature))}`;
      })()],
      ["signed by a key nobody published, under a published kid", await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "RS256" }).sign(outsider.privateKey)],
      ["a PS256 header naming an RS256 key", `${part({ alg: "PS256", kid: "rs-as-ps" })}.${part(claims())}.${(await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "RS256" }).sign(rs)).split(".")[2]}`],
      ["no kid among several keys", await new SignJWT(claims()).setProtectedHeader({ alg: "RS256" }).sign(rs)],
      ["alg HS256", `${part({ alg: "HS256", kid: "RS256" })}.${part(claims())}.AAAA`],
      ["alg none", `${part({ alg: "none" })}.${part(claims())}.`],
      ["two parts", "a.b"],
    );
  });

  it("for every token, the same verdict and code, and the direct check takes the good ones", async () => {
    expect(cases.length).toBeGreaterThan(70);
    // The second time round, every header the first took is remembered with its key.
    for (const round of ["first", "remembered"]) {
      const takenGood: string[] = [];
      for (const [name, token] of cases) {
        const { verdict, direct } = await directThenJose(token, keys);
        expect(verdict, `${round}: ${name}`).toEqual(await joseVerdict(token, keys));
        if (direct && verdict.ok) takenGood.push(name);
      }
      // Each algorithm's good tokens are checked directly, not all passed on to jose.
      for (const alg of ["RS256", "PS256", "ES256"]) expect(takenGood, `${round}: ${alg}`).toContain(`${alg}: good`);
    }
  });

  it("reads a token's protected header as jose's decodeProtectedHeader does, the first time and again", async () => {
    const [h, p, s] = cases[0]![1].split(".") as [string, string, string];
    const tokens = [
      ...cases.map(([, token]) => token),
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.${s}.${s}.${s}`,
      `${h}.${p}.${s}.${s}.${s}.${s}`,
      `${h}.${p}`,
      `${h}`,
      `.${p}.${s}`,
      `${part({ alg: "ES256", typ: "booking-access+jwt" })}.${p}.${s}`,
      `${base64url.encode(new Uint8Array([0x7b, 0xff, 0x7d]))}.${p}.${s}`,
      `${part("[1]")}.${p}.${s}`,
      "",
    ];
    for (const round of ["first", "remembered"]) {
      for (const token of tokens) {
        let expected: unknown;
        try {
          expected = decodeProtectedHeader(token);
        } catch {
          expected = undefined;
        }
        expect(protectedHeaderOf(token), `${round}: ${token.slice(0, 60)}`).toEqual(expected);
      }
    }
  });
});

describe("the direct check remembers a header's key for a bounded time", () => {
  let rs: Awaited<ReturnType<typeof generateKeyPair>>;
  let rotated: Awaited<ReturnType<typeof generateKeyPair>>;
  let weak: CryptoKeyPair;
  const HEADER = { alg: "RS256", kid: "signer", typ: "JWT" };
  const sign = (privateKey: CryptoKey) => new SignJWT(claims()).setProtectedHeader(HEADER).sign(privateKey);

  /** A key set we change by hand, as a provider changes what it publishes; it counts the lookups. */
  function publishedKeys(key: CryptoKey | undefined): { published: CryptoKey | undefined; lookups: number; keys: JWTVerifyGetKey } {
    const set: { published: CryptoKey | undefined; lookups: number; keys: JWTVerifyGetKey } = {
      published: key,
      lookups: 0,
      keys: (() => {
        set.lookups++;
        if (!set.published) throw new errors.JWKSNoMatchingKey();
        return set.published;
      }) as JWTVerifyGetKey,
    };
    return set;
  }

  beforeAll(async () => {
    rs = await generateKeyPair("RS256");
    rotated = await generateKeyPair("RS256");
    weak = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      false,
      ["sign", "verify"],
    )) as CryptoKeyPair;
  });

  it("looks a header's key up once, and still refuses a bad signature under it as jose does", async () => {
    const set = publishedKeys(rs.publicKey);
    const first = await sign(rs.privateKey);
    const second = await sign(rs.privateKey);
    const [h, p, s] = second.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    const forged = await sign(rotated.privateKey);
    const tokens = [first, second, first, flipped, forged];
    const verdicts: Verdict[] = [];
    for (const token of tokens) {
      const { verdict, direct } = await directThenJose(token, set.keys);
      expect(direct).toBe(true);
      verdicts.push(verdict);
    }
    // One lookup for five tokens of one header.
    expect(set.lookups).toBe(1);
    for (const [i, token] of tokens.entries()) expect(verdicts[i], `token ${i}`).toEqual(await joseVerdict(token, set.keys));
    expect(verdicts.map((verdict) => verdict.ok)).toEqual([true, true, true, false, false]);
    expect(verdicts[3]).toMatchObject({ code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
  });

  it("remembers neither a lookup that threw nor a key jose would not use as it is", async () => {
    const set = publishedKeys(undefined);
    const token = await sign(rs.privateKey);
    expect((await directThenJose(token, set.keys)).verdict).toMatchObject({ ok: false, code: "ERR_JWKS_NO_MATCHING_KEY" });
    set.published = rs.publicKey;
    expect((await directThenJose(token, set.keys)).verdict).toMatchObject({ ok: true });

    const weakSet = publishedKeys(weak.publicKey);
    const input = `${part(HEADER)}.${part(claims())}`;
    const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", weak.privateKey, new TextEncoder().encode(input));
    const weakToken = `${input}.${base64url.encode(new Uint8Array(signature))}`;
    for (let i = 0; i < 2; i++) expect(await checkJwtDirectly(weakToken, weakSet.keys, directRules(OPTIONS))).toBeUndefined();
    expect(weakSet.lookups).toBe(2);
  });

  it("uses a key withdrawn from the set only within the bound, then decides as jose does", async () => {
    const BOUND_MS = 100;
    const set = publishedKeys(rs.publicKey);
    const direct = (token: string) => checkJwtDirectly(token, set.keys, directRules(OPTIONS), undefined, BOUND_MS);
    const old = await sign(rs.privateKey);
    expect(await direct(old)).toMatchObject({ ok: true });
    // The provider withdraws the key and publishes another under the same kid.
    set.published = rotated.publicKey;
    await new Promise((resolve) => setTimeout(resolve, BOUND_MS + 50));
    const fresh = await sign(rotated.privateKey);
    for (const token of [old, fresh]) {
      const verdict = await direct(token);
      expect(verdict && (verdict.ok ? { ok: true, payload: verdict.payload } : describeError(verdict.error))).toEqual(await joseVerdict(token, set.keys));
    }
    expect(await direct(old)).toMatchObject({ ok: false, code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    // And withdrawn with no successor: refused as jose refuses, once the bound has passed.
    set.published = undefined;
    await new Promise((resolve) => setTimeout(resolve, BOUND_MS + 50));
    expect(await direct(fresh)).toMatchObject({ ok: false, code: "ERR_JWKS_NO_MATCHING_KEY" });
    expect(await joseVerdict(fresh, set.keys)).toMatchObject({ ok: false, code: "ERR_JWKS_NO_MATCHING_KEY" });
  });

  it("within the bound, uses the key it looked up without asking again", async () => {
    const set = publishedKeys(rs.publicKey);
    const token = await sign(rs.privateKey);
    expect(await checkJwtDirectly(token, set.keys, directRules(OPTIONS))).toMatchObject({ ok: true });
    set.published = undefined;
    expect(await checkJwtDirectly(await sign(rs.privateKey), set.keys, directRules(OPTIONS))).toMatchObject({ ok: true });
    expect(set.lookups).toBe(1);
  });
});
