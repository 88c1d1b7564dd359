import { describe, expect, it } from "vitest";
import { base64url, base64urlDecode } from "../../src/edge/base64url.js";
import { encryptForSubscription, vapidAuthorization, vapidPrivateJwk } from "../../src/edge/push/web-push.js";
import { jwtParts } from "./helpers.js";

/** RFC 8291 Appendix A: the example's keys, salt and message, and the body it gives. */
const RFC8291 = {
  plaintext: "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24",
  asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
  uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  salt: "DGv6ra1nlYgDCS1FRnbzlw",
  authSecret: "BTBZMqHH6r4Tts7J_aSIgg",
  body:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_" +
    "yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

async function senderOf(publicKey: string, privateKey: string): Promise<CryptoKeyPair> {
  const jwk = { ...vapidPrivateJwk(publicKey, privateKey), ext: true } as JsonWebKey;
  const { d: _, ...publicJwk } = jwk;
  return {
    privateKey: await crypto.subtle.importKey("jwk", jwk, { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]),
    publicKey: await crypto.subtle.importKey("jwk", publicJwk, { name: "ECDH", namedCurve: "P-256" }, true, []),
  };
}

describe("Web Push encryption and VAPID", () => {
  it("encrypts RFC 8291's example to the very body the RFC gives", async () => {
    const body = await encryptForSubscription(
      { p256dh: RFC8291.uaPublic, auth: RFC8291.authSecret },
      base64urlDecode(RFC8291.plaintext),
      { salt: base64urlDecode(RFC8291.salt), sender: await senderOf(RFC8291.asPublic, RFC8291.asPrivate) },
    );
    expect(base64url(body)).toBe(RFC8291.body);
  });

  it("uses a fresh salt and sender key for every message", async () => {
    const target = { p256dh: RFC8291.uaPublic, auth: RFC8291.authSecret };
    const [a, b] = await Promise.all([1, 2].map(() => encryptForSubscription(target, new TextEncoder().encode("same"))));
    expect(base64url(a!.subarray(0, 16))).not.toBe(base64url(b!.subarray(0, 16)));
    expect(base64url(a!.subarray(21, 86))).not.toBe(base64url(b!.subarray(21, 86)));
  });

  it("signs VAPID for the push service's origin with the application server's key", async () => {
    const keys = { publicKey: RFC8291.asPublic, privateKey: RFC8291.asPrivate, subject: "mailto:ops@example.org" };
    const now = Date.parse("2026-03-01T11:00:00Z");
    const header = await vapidAuthorization("https://push.example.net/send/abc?x=1", keys, now);
    const [, token, k] = /^vapid t=([^,]+), k=(.+)$/.exec(header)!;
    expect(k).toBe(RFC8291.asPublic);
    const { header: h, payload } = jwtParts(token!);
    expect(h.alg).toBe("ES256");
    expect(payload).toEqual({ aud: "https://push.example.net", sub: "mailto:ops@example.org", exp: now / 1000 + 12 * 3600 });
    const publicKey = await crypto.subtle.importKey("raw", base64urlDecode(k!), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    const [hp, pp, sig] = token!.split(".");
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, base64urlDecode(sig!), new TextEncoder().encode(`${hp}.${pp}`))).toBe(true);
  });
});
