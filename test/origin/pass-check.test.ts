import { base64url, createLocalJWKSet, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  checkPass,
  outlivesPassLifetime,
  passClaims,
  passVerifyOptions,
  type PassCheck,
  type PassExpectations,
} from "../../src/contract/pass.js";
import { webCryptoSignatureCheck, type SignatureCheck } from "../../src/contract/direct-jwt.js";
import { nodeSignatureCheck } from "../../src/origin/node-signature.js";
import { AUDIENCE, ISSUER, makePassKeys, PASS_TTL_SECONDS, passClaimsFor, signPass, type PassKeys } from "./support/passes.js";

/**
 * `checkPass` checks a pass shaped as the edge signs one without jose's jwtVerify, and must decide
 * exactly as jwtVerify does. The reference below is the check as it was made with jose alone (jwtVerify
 * with the contract's options, then the claims schema and the lifetime); every token here must get the
 * same verdict and the same refusal code from both, with either signature check.
 */
async function referenceCheck(token: string, keys: JWTVerifyGetKey, expected: PassExpectations): Promise<PassCheck> {
  if (token.length > 4096) return { ok: false, code: "ERR_PASS_TOO_LONG" };
  try {
    const { payload } = await jwtVerify(
      token,
      (header, t) => {
        if (typeof header.kid !== "string" || header.kid === "") throw new Error("no kid");
        return keys(header, t);
      },
      passVerifyOptions(expected),
    );
    const claims = passClaims.safeParse(payload);
    if (!claims.success) return { ok: false, code: "ERR_PASS_CLAIMS" };
    if (outlivesPassLifetime(claims.data, expected.passTtlSeconds)) return { ok: false, code: "ERR_PASS_LIFETIME" };
    return { ok: true, pass: claims.data };
  } catch (error) {
    const code = error instanceof errors.JOSEError ? error.code : error instanceof Error && error.message === "no kid" ? "ERR_PASS_NO_KID" : "ERR_UNKNOWN";
    return { ok: false, code, error };
  }
}

/** What a verdict says, comparable: the pass, or the code and (for a claim) which claim and why. */
function verdict(check: PassCheck): unknown {
  if (check.ok) return { ok: true, pass: check.pass };
  const claim = check.error instanceof errors.JWTClaimValidationFailed ? { claim: check.error.claim, reason: check.error.reason } : {};
  return { ok: false, code: check.code, ...claim };
}

const expected: PassExpectations = { issuer: ISSUER, audience: AUDIENCE, passTtlSeconds: PASS_TTL_SECONDS };
const now = () => Math.floor(Date.now() / 1000);
const SKEW = 5;
const part = (value: unknown) => base64url.encode(typeof value === "string" ? value : JSON.stringify(value));

describe("a pass checked as the edge signs it decides as jose's jwtVerify does", () => {
  let keys: PassKeys;
  let other: PassKeys;
  let keySet: JWTVerifyGetKey;
  let cases: Array<[string, string]>;

  beforeAll(async () => {
    keys = await makePassKeys();
    other = await makePassKeys();
    keySet = createLocalJWKSet(keys.jwks);
    const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "ES256", kid: keys.kid, typ: "JWT" }) =>
      new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(keys.privateKey);
    // Any header and payload text, signed by hand (jose refuses to sign some of the headers tried here).
    const signRaw = async (header: unknown, payloadText: string) => {
      const input = `${part(header)}.${part(payloadText)}`;
      const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, new TextEncoder().encode(input)));
      return `${input}.${base64url.encode(raw)}`;
    };
    const good = await signPass(keys);
    const [h, p, s] = good.split(".") as [string, string, string];
    const claims = passClaimsFor();
    const without = (claim: string) => Object.fromEntries(Object.entries(passClaimsFor()).filter(([k]) => k !== claim));
    const flipped = `${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    cases = [
      ["a good pass", good],
      ["a good pass without typ", await sign(claims, { alg: "ES256", kid: keys.kid })],
      ["a good pass with another typ", await sign(claims, { alg: "ES256", kid: keys.kid, typ: "booking-access+jwt" })],
      ["the audience in an array", await sign(passClaimsFor({ aud: ["x", AUDIENCE] }))],
      ["an audience array without ours", await sign(passClaimsFor({ aud: ["x", "y"] }))],
      ["an audience that is a number", await sign(passClaimsFor({ aud: 7 }))],
      ["another audience", await sign(passClaimsFor({ aud: "someone-else" }))],
      ["another issuer", await sign(passClaimsFor({ iss: "https://evil.example" }))],
      ["an issuer array", await sign(passClaimsFor({ iss: [ISSUER] }))],
      ...(["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "cohort", "shard", "seq"] as const).map(
        (claim) => [`no ${claim}`, ""] as [string, string],
      ),
      ["iat a string", await sign(passClaimsFor({ iat: String(now()) }))],
      ["nbf a string", await sign(passClaimsFor({ nbf: String(now()) }))],
      ["exp a string", await sign(passClaimsFor({ exp: String(now() + 600) }))],
      ["exp null", await sign(passClaimsFor({ exp: null }))],
      ["expired", await sign(passClaimsFor({ iat: now() - 1000, nbf: now() - 1000, exp: now() - 60 }))],
      ["expired just inside the skew", await sign(passClaimsFor({ iat: now() - 600, nbf: now() - 600, exp: now() - SKEW + 2 }))],
      ["expired just past the skew", await sign(passClaimsFor({ iat: now() - 600, nbf: now() - 600, exp: now() - SKEW - 2 }))],
      ["not valid yet", await sign(passClaimsFor({ nbf: now() + 600, exp: now() + 1200 }))],
      ["nbf just inside the skew", await sign(passClaimsFor({ nbf: now() + SKEW - 2 }))],
      ["issued in the future past the skew", await sign(passClaimsFor({ iat: now() + SKEW + 2 }))],
      ["issued in the future inside the skew", await sign(passClaimsFor({ iat: now() + SKEW - 2 }))],
      ["issued longer ago than a pass lives", await sign(passClaimsFor({ iat: now() - PASS_TTL_SECONDS - 60, nbf: now() - 600, exp: now() + 60 }))],
      ["living longer than PASS_TTL_SECONDS", await sign(passClaimsFor({ exp: now() + 7 * 86_400 }))],
      ["a sub too short for the schema", await sign(passClaimsFor({ sub: "short" }))],
      ["seq zero", await sign(passClaimsFor({ seq: 0 }))],
      ["iat not an integer", await sign(passClaimsFor({ iat: now() + 0.5 }))],
      ["exp 1e400 (Infinity once parsed)", await signRaw({ alg: "ES256", kid: keys.kid, typ: "JWT" }, JSON.stringify(claims).replace(/"exp":\d+/, '"exp":1e400'))],
      ["a payload of JSON with a BOM", await signRaw({ alg: "ES256", kid: keys.kid, typ: "JWT" }, `\ufeff${JSON.stringify(claims)}`)],
      ["a payload that is a string", await signRaw({ alg: "ES256", kid: keys.kid, typ: "JWT" }, JSON.stringify("x"))],
      ["a flipped signature bit", `${h}.${p}.${flipped}`],
      ["a signature of another key under our kid", await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: "JWT" }).sign(other.privateKey)],
      ["an unknown kid", await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: other.kid, typ: "JWT" }).sign(other.privateKey)],
      ["no kid", await sign(claims, { alg: "ES256", typ: "JWT" })],
      ["an empty kid", `${part({ alg: "ES256", kid: "", typ: "JWT" })}.${p}.${s}`],
      ["a kid that is a number", `${part({ alg: "ES256", kid: 7, typ: "JWT" })}.${p}.${s}`],
      ["alg none", `${part({ alg: "none", kid: keys.kid, typ: "JWT" })}.${p}.`],
      ["alg HS256 header on an ES256 signature", `${part({ alg: "HS256", kid: keys.kid, typ: "JWT" })}.${p}.${s}`],
      ["a crit header", await signRaw({ alg: "ES256", kid: keys.kid, typ: "JWT", crit: ["exp"], exp: 1 }, JSON.stringify(claims))],
      ["a crit header naming b64", await signRaw({ alg: "ES256", kid: keys.kid, typ: "JWT", crit: ["b64"], b64: true }, JSON.stringify(claims))],
      ["b64 false", `${part({ alg: "ES256", kid: keys.kid, b64: false, crit: ["b64"] })}.${p}.${s}`],
      ["an extra header member", await sign(claims, { alg: "ES256", kid: keys.kid, typ: "JWT", jku: "https://evil.example/jwks" })],
      ["a header that is an array", `${part([1])}.${p}.${s}`],
      ["a header that is not JSON", `${part("{alg")}.${p}.${s}`],
      ["a header that is not UTF-8", `${base64url.encode(new Uint8Array([0x7b, 0xff, 0x7d]))}.${p}.${s}`],
      ["a payload that is an array", await signRaw({ alg: "ES256", kid: keys.kid, typ: "JWT" }, "[1,2]")],
      ["the payload swapped for another's", `${h}.${part(passClaimsFor())}.${s}`],
      ["padding on the signature", `${h}.${p}.${s}==`],
      ["a signature too short", `${h}.${p}.${s.slice(0, 85)}`],
      ["a signature with a character outside base64url", `${h}.${p}.${s.slice(0, 85)}+`],
      ["four parts", `${h}.${p}.${s}.${s}`],
      ["two parts", `${h}.${p}`],
      ["empty", ""],
      ["a header of one space", ` .${p}.${s}`],
      ["too long", `${h}.${"A".repeat(4100)}.${s}`],
    ];
    // Tokens that need their claims signed as a whole.
    for (const [i, [name]] of cases.entries()) {
      const claim = /^no (\w+)$/.exec(name)?.[1];
      if (claim) cases[i] = [name, await sign(without(claim))];
    }
  });

  const checks: Array<[string, SignatureCheck]> = [
    ["WebCrypto", webCryptoSignatureCheck],
    ["node:crypto", nodeSignatureCheck],
  ];
  it.each(checks)("with %s's signature check", async (_name, signatureCheck) => {
    expect(cases.length).toBeGreaterThan(50);
    let accepted = 0;
    for (const [name, token] of cases) {
      const reference = verdict(await referenceCheck(token, keySet, expected));
      expect(verdict(await checkPass(token, keySet, expected, signatureCheck)), name).toEqual(reference);
      if ((reference as { ok: boolean }).ok) accepted++;
    }
    // The corpus holds passes both checks accept, not only refusals.
    expect(accepted).toBeGreaterThanOrEqual(6);
  });

  it("checks a pass as the edge signs it with the signature check it is given, and only once", async () => {
    const calls: boolean[] = [];
    const counting: SignatureCheck = (alg, key, signature, input) => {
      const ok = nodeSignatureCheck(alg, key, signature, input);
      calls.push(ok as boolean);
      return ok;
    };
    const result = await checkPass(await signPass(keys), keySet, expected, counting);
    expect(result.ok).toBe(true);
    expect(calls).toEqual([true]);
    const forged = await new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: "JWT" }).sign(other.privateKey);
    expect(await checkPass(forged, keySet, expected, counting)).toMatchObject({ ok: false, code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    // A forged signature is refused by the check given, with jose's code for it.
    expect(calls).toEqual([true, false]);
  });

  it("looks the key of a pass's header up once across passes, and still refuses a pass without kid", async () => {
    let lookups = 0;
    const counting: JWTVerifyGetKey = (header, token) => {
      lookups++;
      return keySet(header, token);
    };
    for (let i = 0; i < 3; i++) expect(await checkPass(await signPass(keys), counting, expected, nodeSignatureCheck)).toMatchObject({ ok: true });
    expect(lookups).toBe(1);
    const forged = await new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: "JWT" }).sign(other.privateKey);
    expect(await checkPass(forged, counting, expected, nodeSignatureCheck)).toMatchObject({ ok: false, code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    const withoutKid = await new SignJWT(passClaimsFor()).setProtectedHeader({ alg: "ES256", typ: "JWT" }).sign(keys.privateKey);
    for (let i = 0; i < 2; i++) expect(await checkPass(withoutKid, counting, expected, nodeSignatureCheck)).toMatchObject({ ok: false, code: "ERR_PASS_NO_KID" });
  });
});
