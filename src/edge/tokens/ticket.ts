import { jwtVerify } from "jose";
import type { z } from "zod";
import { passClaims } from "../../contract/pass.js";
import { base64url } from "../base64url.js";
import { derivedKey } from "../identity/citizen-secret.js";
import type { EdgeConfig } from "../config.js";
import { joseCode } from "./pass.js";

/**
 * A queue ticket: proof of a place in a shard's line, held by the citizen (cookie, or the body for apps).
 * It is signed so that its sequence number, shard and cohort cannot be edited; the place itself lives in
 * the shard's Durable Object, which the ticket only points at.
 */

export const TICKET_ALG = "HS256";
export const TICKET_AUDIENCE = "queue-ticket";
export const TICKET_COOKIE = "wr_ticket";
/**
 * Set beside the ticket cookie, for as long, and readable by the page's script: it carries nothing but
 * that this browser was given a ticket, so the page asks for a status only then. A first visit then makes
 * no request bound to fail (the status answers 401 without a ticket, which is right for an API client).
 * page/flow.js names it too.
 */
export const TICKET_HINT_COOKIE = "wr_ticket_held";
/** A line lasts hours at worst; a week-old ticket points at a cohort long since served. */
export const TICKET_TTL_SECONDS = 7 * 24 * 3600;

/**
 * A ticket names the same place a pass later will, so it carries the same claims (but no audience of the
 * origin's). A pre-queue ticket has no `seq`: its place comes from the draw at the opening.
 */
export const ticketClaims = passClaims.pick({ sub: true, jti: true, cohort: true, shard: true, seq: true, iat: true, exp: true }).partial({ seq: true });
export type TicketClaims = z.infer<typeof ticketClaims>;
export type TicketFields = Omit<TicketClaims, "iat" | "exp">;

/** A fresh random ticket id, also the pass's `jti` and so the booking's idempotency key. */
export function newTicketId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

const ticketKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The symmetric key that signs queue tickets; tickets are read only by the edge, so HMAC suffices.
 * Derived and imported once per isolate and secret: every join signs a ticket and every poll verifies
 * one, and handing jose raw bytes would import them again each time.
 */
export function ticketSigningKey(secret: string): Promise<CryptoKey> {
  let key = ticketKeys.get(secret);
  if (!key) {
    key = derivedKey(secret, "ticketSigningKey").then((raw) =>
      crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
    );
    ticketKeys.set(secret, key);
  }
  return key;
}

const encoder = new TextEncoder();
const TICKET_HEADER = base64url(encoder.encode(JSON.stringify({ alg: TICKET_ALG, typ: "ticket+jwt" })));

/**
 * Signs a ticket: a compact JWS (HS256) that jose reads back in `verifyTicket`. Every join signs one, and
 * jose's JWT builder costs more than the HMAC itself, so the three parts are put together here; the claims
 * are the registered ones jose checks (iss, aud, sub, jti, iat, exp) plus the place.
 */
export async function signTicket(config: EdgeConfig, t: TicketFields, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const claims = { cohort: t.cohort, shard: t.shard, seq: t.seq, iss: config.issuer, aud: TICKET_AUDIENCE, sub: t.sub, jti: t.jti, iat, exp: iat + TICKET_TTL_SECONDS };
  const signingInput = `${TICKET_HEADER}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  const mac = await crypto.subtle.sign("HMAC", await ticketSigningKey(config.citizenKeySecret), encoder.encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(mac))}`;
}

/** Why a ticket was refused, for the message; the HTTP answer is always 401 invalid_ticket. */
export type TicketProblem = "malformed" | "bad_signature" | "expired" | "wrong_claims";

export type TicketCheck = { ok: true; ticket: TicketClaims } | { ok: false; problem: TicketProblem };

/** Verifies a ticket's signature, algorithm, audience and claims. Never throws on bad input. */
export async function verifyTicket(config: EdgeConfig, token: string): Promise<TicketCheck> {
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
