import { base64url, createLocalJWKSet, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { checkJwtDirectly, directRules, type DirectAlgorithm } from "../../src/contract/direct-jwt.js";
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
    const takenGood: string[] = [];
    for (const [name, token] of cases) {
      const { verdict, direct } = await directThenJose(token, keys);
      expect(verdict, name).toEqual(await joseVerdict(token, keys));
      if (direct && verdict.ok) takenGood.push(name);
    }
    // Each algorithm's good tokens are checked directly, not all passed on to jose.
    for (const alg of ["RS256", "PS256", "ES256"]) expect(takenGood, alg).toContain(`${alg}: good`);
  });
});
