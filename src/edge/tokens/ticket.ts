import type { z } from "zod";
import { passClaims } from "../../contract/pass.js";
import { base64url, base64urlDecode } from "../base64url.js";
import { derivedKey } from "../identity/citizen-secret.js";
import type { EdgeConfig } from "../config.js";
import { RandomEvictionMemory } from "../random-eviction.js";

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

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** A JWS part's JSON object, or undefined when the part is not base64url of UTF-8 JSON of an object. */
function jsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(base64urlDecode(part)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tickets this isolate has found valid, with the secret and issuer they were checked against. A citizen
 * presents the same ticket on every poll, every few seconds, and the check (base64url, JSON, the HMAC, the
 * schema) was about a quarter of a poll's CPU in the isolate, so a ticket seen before is not checked again
 * but looked up: the same token bytes under the same secret and issuer get the same verdict, except that
 * a ticket expires, which is checked on every use. Refused tokens are not kept, so a client sending garbage
 * cannot fill the memory. It holds at most VERIFIED_TICKETS_KEPT tickets (a ticket and its claims are
 * under 1 KB, so a few MB of the isolate's 128); when it is full a new one takes the place of one chosen at
 * random (RandomEvictionMemory), since polls come round in cycles and an isolate may serve more pollers
 * than it keeps. A ticket dropped is checked in full again the next time.
 */
const VERIFIED_TICKETS_KEPT = 8_192;
const verifiedTickets = new RandomEvictionMemory<{ ticket: Readonly<TicketClaims>; secret: string; issuer: string }>(VERIFIED_TICKETS_KEPT);

/** Claims every ticket carries (jose's `requiredClaims` and the issuer and audience it was told to check). */
const REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "iat", "exp"] as const;

/**
 * Verifies a ticket's signature, algorithm, audience and claims, with jose's rules for a compact JWS and a
 * JWT (RFC 7515, 7519): three parts; a protected header whose `alg` is HS256 and that names no `crit`
 * extension (no ticket does; jose would take only `b64` there); the HMAC over header and payload; a payload that is a JSON object with `iss`, `aud`, `sub`,
 * `jti`, `iat` and `exp`, the edge's issuer, the ticket audience, numeric dates, not before `nbf`, not at
 * or after `exp`; then the ticket schema. Every poll verifies one, and jose's general path (algorithm and
 * key checks, several awaits, a claims validator for every option) cost more than the HMAC itself, so the
 * checks are made here, as `signTicket` builds, and a ticket found valid is remembered (`verifiedTickets`).
 * Never throws on bad input.
 */
export async function verifyTicket(config: EdgeConfig, token: string): Promise<TicketCheck> {
  const seen = verifiedTickets.get(token);
  if (seen && seen.secret === config.citizenKeySecret && seen.issuer === config.issuer) {
    // All that can change since the check is the time: the rest was decided by the token's own bytes.
    return seen.ticket.exp <= Math.floor(Date.now() / 1000) ? { ok: false, problem: "expired" } : { ok: true, ticket: seen.ticket };
  }
  const check = await checkTicketInFull(config, token);
  if (check.ok) verifiedTickets.set(token, { ticket: Object.freeze(check.ticket), secret: config.citizenKeySecret, issuer: config.issuer });
  return check;
}

/** `verifyTicket`'s checks, made in full, as for a ticket this isolate has not seen. */
export async function checkTicketInFull(config: EdgeConfig, token: string): Promise<TicketCheck> {
  if (token.length > 2048) return { ok: false, problem: "malformed" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, problem: "malformed" };
  const [header, payload, signature] = parts as [string, string, string];
  // Every ticket is signed under TICKET_HEADER; any other header is read as jose would read it.
  if (header !== TICKET_HEADER) {
    const fields = jsonPart(header);
    if (!fields || fields.alg !== TICKET_ALG || fields.crit !== undefined) return { ok: false, problem: "malformed" };
  }
  let mac: Uint8Array;
  try {
    mac = base64urlDecode(signature);
  } catch {
    return { ok: false, problem: "malformed" };
  }
  const key = await ticketSigningKey(config.citizenKeySecret);
  if (!(await crypto.subtle.verify("HMAC", key, mac, encoder.encode(`${header}.${payload}`)))) return { ok: false, problem: "bad_signature" };
  const claims = jsonPart(payload);
  if (!claims) return { ok: false, problem: "malformed" };
  if (!REQUIRED_CLAIMS.every((claim) => Object.hasOwn(claims, claim))) return { ok: false, problem: "wrong_claims" };
  const aud = claims.aud;
  if (claims.iss !== config.issuer || !(aud === TICKET_AUDIENCE || (Array.isArray(aud) && aud.includes(TICKET_AUDIENCE)))) return { ok: false, problem: "wrong_claims" };
  const { iat, nbf, exp } = claims;
  if (typeof iat !== "number" || typeof exp !== "number" || (nbf !== undefined && typeof nbf !== "number")) return { ok: false, problem: "wrong_claims" };
  const now = Math.floor(Date.now() / 1000);
  if (nbf !== undefined && nbf > now) return { ok: false, problem: "wrong_claims" };
  if (exp <= now) return { ok: false, problem: "expired" };
  const ticket = ticketClaims.safeParse(claims);
  return ticket.success ? { ok: true, ticket: ticket.data } : { ok: false, problem: "wrong_claims" };
}
