import { jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { base64url } from "../../src/edge/base64url.js";
import { joseCode } from "../../src/edge/tokens/pass.js";
import { newTicketId, signTicket, TICKET_ALG, TICKET_TTL_SECONDS, TICKET_AUDIENCE, ticketClaims, ticketSigningKey, verifyTicket, type TicketCheck } from "../../src/edge/tokens/ticket.js";
import { config, encodePart, jwtParts } from "./helpers.js";

/**
 * verifyTicket checks a ticket by hand, as signTicket builds one. What jose's jwtVerify says of the same
 * token with the same options is the rule it must keep: the same verdict, and the same reason, for tickets
 * of ours, tampered ones, others' and malformed ones.
 */
async function joseVerdict(token: string): Promise<TicketCheck> {
  if (token.length > 2048) return { ok: false, problem: "malformed" };
  try {
    const { payload } = await jwtVerify(token, await ticketSigningKey(config.citizenKeySecret), {
      algorithms: [TICKET_ALG],
      issuer: config.issuer,
      audience: TICKET_AUDIENCE,
      requiredClaims: ["sub", "jti", "iat", "exp"],
    });
    const claims = ticketClaims.safeParse(payload);
    return claims.success ? { ok: true, ticket: claims.data } : { ok: false, problem: "wrong_claims" };
  } catch (err) {
    switch (joseCode(err)) {
      case "ERR_JWT_EXPIRED":
        return { ok: false, problem: "expired" };
      case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
        return { ok: false, problem: "bad_signature" };
      case "ERR_JWT_CLAIM_VALIDATION_FAILED":
        return { ok: false, problem: "wrong_claims" };
      default:
        return { ok: false, problem: "malformed" };
    }
  }
}

describe("verifyTicket decides as jose does", () => {
  it("on tickets of ours, tampered, re-signed, expired and malformed ones", async () => {
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    const ticket = await signTicket(config, { sub: "k".repeat(43), jti: newTicketId(), cohort: "55-59", shard: 1, seq: 42 }, now);
    const prequeue = await signTicket(config, { sub: "k".repeat(43), jti: newTicketId(), cohort: "55-59", shard: 0 }, now);
    const { header, payload, signature } = jwtParts(ticket);
    // Any header and claims, HMAC-signed as they are (jose's SignJWT would refuse some of them).
    const sign = async (key: CryptoKey, claims: Record<string, unknown>, protectedHeader: Record<string, unknown>) => {
      const input = `${encodePart(protectedHeader)}.${encodePart(claims)}`;
      return `${input}.${base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input))))}`;
    };
    const key = await ticketSigningKey(config.citizenKeySecret);
    const ours = (claims: Record<string, unknown>, protectedHeader: Record<string, unknown> = { alg: "HS256" }) => sign(key, claims, protectedHeader);
    const other = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(32)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const tokens = [
      ticket,
      prequeue,
      // Our key, another header: as valid as ours, or not, by its alg and crit.
      await ours(payload),
      await ours(payload, { alg: "HS256", typ: "JWT", kid: "x" }),
      await ours(payload, { alg: "HS256", crit: ["exp"], exp: 1 }),
      `${encodePart({ alg: "HS512" })}.${encodePart(payload)}.${signature}`,
      `${encodePart({ alg: "none", typ: "JWT" })}.${encodePart(payload)}.`,
      `${encodePart([header])}.${encodePart(payload)}.${signature}`,
      // Tampered, or signed with another key.
      `${encodePart(header)}.${encodePart({ ...payload, seq: 43 })}.${signature}`,
      await sign(other, payload, { alg: "HS256" }),
      // Claims: expiry, not-before, issuer, audience, missing and mistyped ones, the schema.
      await ours({ ...payload, iat: seconds - 100, exp: seconds - 10 }),
      await ours({ ...payload, exp: seconds }),
      await ours({ ...payload, nbf: seconds + 60 }),
      await ours({ ...payload, nbf: seconds - 60 }),
      await ours({ ...payload, nbf: "soon" }),
      await ours({ ...payload, iss: "someone-else" }),
      await ours({ ...payload, aud: "booking-origin" }),
      await ours({ ...payload, aud: ["booking-origin", TICKET_AUDIENCE] }),
      await ours({ ...payload, jti: undefined }),
      await ours({ ...payload, iat: String(seconds) }),
      await ours({ ...payload, exp: String(seconds + 60) }),
      await ours({ ...payload, seq: -1 }),
      await ours({ ...payload, shard: "0" }),
      // Not a JWS of a JSON object at all.
      `${encodePart(header)}.${btoa("[1,2]").replace(/=+$/, "")}.${signature}`,
      `${encodePart(header)}.${encodePart(payload)}.not*base64`,
      `${encodePart(header)}.${encodePart(payload)}`,
      "not.a.jwt",
      "x".repeat(5_000),
      "",
    ];
    // Twice each: the second time a valid ticket is the one remembered from the first.
    for (const token of tokens) {
      const verdict = await joseVerdict(token);
      expect([token, await verifyTicket(config, token)]).toEqual([token, verdict]);
      expect([token, await verifyTicket(config, token)]).toEqual([token, verdict]);
    }
    // The verdicts cover every reason, so the comparison is not one of refusals alone.
    const problems = new Set(await Promise.all(tokens.map(async (t) => { const v = await verifyTicket(config, t); return v.ok ? "ok" : v.problem; })));
    expect([...problems].sort()).toEqual(["bad_signature", "expired", "malformed", "ok", "wrong_claims"]);
  });
});

describe("a ticket verified before", () => {
  const fields = () => ({ sub: "k".repeat(43), jti: newTicketId(), cohort: "55-59", shard: 1, seq: 7 });

  it("is refused once it expires", async () => {
    // Signed so that it expires within two seconds of now.
    const signedAt = Date.now() - TICKET_TTL_SECONDS * 1000 + 1_500;
    const ticket = await signTicket(config, fields(), signedAt);
    const first = await verifyTicket(config, ticket);
    expect(first.ok).toBe(true);
    expect(await verifyTicket(config, ticket)).toEqual(first);
    const exp = first.ok ? first.ticket.exp : 0;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 50));
    expect(await verifyTicket(config, ticket)).toEqual({ ok: false, problem: "expired" });
    expect(await joseVerdict(ticket)).toEqual({ ok: false, problem: "expired" });
  });

  it("is checked again under another secret or issuer", async () => {
    const ticket = await signTicket(config, fields(), Date.now());
    expect((await verifyTicket(config, ticket)).ok).toBe(true);
    expect(await verifyTicket({ ...config, citizenKeySecret: `${config.citizenKeySecret}-rotated` }, ticket)).toEqual({ ok: false, problem: "bad_signature" });
    expect(await verifyTicket({ ...config, issuer: "https://another-edge.example" }, ticket)).toEqual({ ok: false, problem: "wrong_claims" });
    expect((await verifyTicket(config, ticket)).ok).toBe(true);
  });

  it("gives claims that a caller cannot change for the next one", async () => {
    const ticket = await signTicket(config, fields(), Date.now());
    const first = await verifyTicket(config, ticket);
    if (!first.ok) throw new Error("the ticket was refused");
    expect(() => {
      (first.ticket as { seq?: number }).seq = 1;
    }).toThrow(TypeError);
    const second = await verifyTicket(config, ticket);
    expect(second.ok && second.ticket.seq).toBe(7);
  });
});
