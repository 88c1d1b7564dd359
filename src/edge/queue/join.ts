import { PASS_COOKIE } from "../../contract/pass.js";
import type { JoinResponse } from "../../contract/queue.js";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../contract/errors.js";
import { fail } from "../../http/errors.js";
import { citizenKey, shardOf } from "../identity/citizen-key.js";
import { cohortForBirthYear, joinsOpenAt, type EdgeConfig } from "../config.js";
import { verifyIdToken, type VerifiedCitizen } from "../identity/id-token.js";
import { addressIn, enforceLimit } from "../abuse-limits.js";
import { ticketStatus, type TicketStatus } from "./status.js";
import { joinShard } from "./shard-client.js";
import { remember } from "./snapshot-cache.js";
import { shardName } from "./shard-name.js";
import { ticketIn } from "../tokens/ticket-from-request.js";
import { signTicket, TICKET_COOKIE, TICKET_HINT_COOKIE, TICKET_TTL_SECONDS } from "../tokens/ticket.js";

/**
 * Joining the line, shared by the two ways in: an app posting an id_token (routes/queue-join.ts, answered
 * ahead of the Hono app) and the browser's sign-in callback (routes/auth.ts). Both verify the provider's
 * token first; nothing else identifies a citizen. So both can call them, these take the request's headers
 * and the Worker's env rather than a Hono context, and hand back the cookies to set.
 */

/**
 * The citizen an id_token vouches for. A refused token is 401 `invalid_identity`, and counts against the
 * client's address: past the limit such clients get 429 instead. A valid token never counts, so the many
 * honest citizens behind one carrier address are never limited by one abuser among them.
 */
export async function verifiedCitizen(env: Env, headers: Headers, config: EdgeConfig, idToken: string, expected: { nonce?: string } = {}): Promise<VerifiedCitizen> {
  const check = await verifyIdToken(config.identity, idToken, expected);
  if (check.ok) return check.citizen;
  if (check.problem === "unavailable") {
    throw fail(503, "unavailable", "the identity provider cannot be reached; please try again shortly", { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
  }
  await enforceLimit(env, "identityFailure", addressIn(headers));
  throw fail(401, "invalid_identity", "the identity provider's token is not valid here; sign in again", {
    headers: { "www-authenticate": 'Bearer error="invalid_token"' },
  });
}

/**
 * The `Set-Cookie` value of one of the line's two cookies (the ticket, the pass): HttpOnly, Secure,
 * SameSite=Lax, sent only to /api. Written out rather than through hono/cookie, which runs a
 * 400-character token through encodeURIComponent and its checks on every join: a compact JWS is base64url
 * and dots, which a cookie value carries as they are.
 */
function lineCookie(name: typeof TICKET_COOKIE | typeof PASS_COOKIE, jws: string, maxAgeSeconds: number): string {
  return `${name}=${jws}; Max-Age=${maxAgeSeconds}; Path=/api; HttpOnly; Secure; SameSite=Lax`;
}

/** The `Set-Cookie` value of the pass a status answer carries, living as long as the pass. */
export function passCookie(pass: NonNullable<TicketStatus["pass"]>, now: number): string {
  return lineCookie(PASS_COOKIE, pass.token, Math.max(1, pass.exp - Math.floor(now / 1000)));
}

/** A join's answer, and the `Set-Cookie` values that go with it, in order. */
export interface Joined {
  answer: JoinResponse;
  cookies: string[];
}

/**
 * Joins a verified citizen to the line of the cohort their provider-held birth date puts them in, or
 * returns their live ticket: joining again never costs or buys a place. With the answer come the ticket
 * cookie, its hint and, if already admitted, the pass cookie. `headers`: the request's, for a ticket it
 * presents.
 */
export async function joinQueue(env: Env, headers: Headers, config: EdgeConfig, citizen: VerifiedCitizen): Promise<Joined> {
  const cohort = cohortForBirthYear(config, Number(citizen.birthdate.slice(0, 4)));
  if (!cohort) throw fail(403, "not_eligible", "no cohort is open for booking for this birth date");
  const now = Date.now();
  const joinsFrom = joinsOpenAt(cohort);
  if (now < Date.parse(joinsFrom)) {
    const what = cohort.prequeueOpensAt === undefined ? "booking" : "the pre-queue";
    throw fail(409, "cohort_not_open", `${what} for ${cohort.label.en} opens at ${joinsFrom}`, { opensAt: joinsFrom, cohort: cohort.id });
  }

  const key = await citizenKey(config.citizenKeySecret, citizen);
  await enforceLimit(env, "join", key);
  // A citizen who already holds a ticket for this cohort keeps its shard, even if SHARDS has changed
  // since, so that a re-join finds the same place. A ticket of someone else is simply ignored.
  const held = await ticketIn(headers, config).catch(() => undefined);
  const shard = held && held.sub === key && held.cohort === cohort.id ? held.shard : shardOf(key, config.shards);
  const address = { cohort: cohort.id, shard };

  const joined = await joinShard(env, address, key);
  remember(shardName(address), joined.snapshot, now);
  if (joined.gaveUp) {
    throw fail(409, "place_given_up", `you gave up your place in the pre-queue; you can join again once the line opens at ${cohort.opensAt}, behind the draw`, {
      opensAt: cohort.opensAt,
      cohort: cohort.id,
    });
  }
  // A pre-queue ticket carries no place: the draw gives it one at the opening.
  const claims = { sub: key, jti: joined.ticketId, cohort: cohort.id, shard, seq: joined.prequeue ? undefined : joined.seq };
  const ticket = await signTicket(config, claims, now);
  const result = await ticketStatus(env, config, claims, now);
  const cookies = [lineCookie(TICKET_COOKIE, ticket, TICKET_TTL_SECONDS), `${TICKET_HINT_COOKIE}=1; Max-Age=${TICKET_TTL_SECONDS}; Path=/; Secure; SameSite=Lax`];
  if (result.pass) cookies.push(passCookie(result.pass, now));
  return { answer: { ticket, status: result.status, previousPlaceExpired: joined.replacedExpired }, cookies };
}
