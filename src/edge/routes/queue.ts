import { Hono, type Context } from "hono";
import { setCookie } from "hono/cookie";
import { joinRequest, type JoinResponse, type QueueStatus } from "../../contract/queue.js";
import { citizenKey, shardOf } from "../citizen-key.js";
import { cohortForBirthYear, edgeConfig, type EdgeConfig } from "../config.js";
import { fail } from "../../http/errors.js";
import { PASS_COOKIE } from "../../contract/pass.js";
import { ticketStatus, type TicketStatus } from "../queue-status.js";
import { bearerOrCookie, jsonBody, limitBody } from "../../http/json-body.js";
import { callShard, remember, shardName, shardStub } from "../shard-client.js";
import { signTicket, TICKET_COOKIE, TICKET_TTL_SECONDS, verifyTicket, type TicketClaims } from "../tickets.js";

/** Joining the line and asking where one stands in it. */
export const queueRoutes = new Hono<{ Bindings: Env }>();

const TICKET_MESSAGES = {
  missing: "no ticket: join the queue first",
  malformed: "the ticket is not one we issued",
  bad_signature: "the ticket is not one we issued",
  expired: "the ticket has expired; join the queue again",
  wrong_claims: "the ticket is not one we issued",
  unknown_cohort: "the ticket names a cohort that is not open here",
} as const;

function refuseTicket(problem: keyof typeof TICKET_MESSAGES) {
  return fail(401, "invalid_ticket", TICKET_MESSAGES[problem], { headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
}

/** The presented ticket, if any and valid; `undefined` when none was presented. */
async function presentedTicket(c: Context<{ Bindings: Env }>, config: EdgeConfig): Promise<TicketClaims | undefined> {
  const token = bearerOrCookie(c, TICKET_COOKIE);
  if (token === undefined) return undefined;
  const check = await verifyTicket(config, token);
  if (!check.ok) throw refuseTicket(check.problem);
  if (!config.cohorts.some((co) => co.id === check.ticket.cohort)) throw refuseTicket("unknown_cohort");
  return check.ticket;
}

function noStore(c: Context): void {
  c.header("cache-control", "no-store");
}

function setPassCookie(c: Context, result: TicketStatus, now: number): void {
  if (!result.pass) return;
  setCookie(c, PASS_COOKIE, result.pass.token, {
    httpOnly: true,
    secure: true,
    sameSite: "Lax",
    path: "/api",
    maxAge: Math.max(1, result.pass.exp - Math.floor(now / 1000)),
  });
}

queueRoutes.post("/join", limitBody, async (c) => {
  const config = edgeConfig(c.env);
  const body = await jsonBody(c, joinRequest);
  const year = Number(body.birthDate.slice(0, 4));
  const cohort = cohortForBirthYear(config, year);
  if (!cohort) throw fail(403, "not_eligible", "no cohort is open for booking for this birth date");
  const now = Date.now();
  if (now < Date.parse(cohort.opensAt)) {
    throw fail(409, "cohort_not_open", `booking for ${cohort.label.en} opens at ${cohort.opensAt}`, { opensAt: cohort.opensAt });
  }

  const key = await citizenKey(config.citizenKeySecret, body.identity);
  // A citizen who already holds a ticket for this cohort keeps its shard, even if SHARDS has changed
  // since, so that a re-join finds the same place. A ticket of someone else is simply ignored.
  const held = await presentedTicket(c, config).catch(() => undefined);
  const shard = held && held.sub === key && held.cohort === cohort.id ? held.shard : shardOf(key, config.shards);
  const address = { cohort: cohort.id, shard };

  const joined = await callShard(() => shardStub(c.env, address).join(address, key));
  remember(shardName(address), joined.snapshot, now);
  const claims = { sub: key, jti: joined.ticketId, cohort: cohort.id, shard, seq: joined.seq };
  const ticket = await signTicket(config, claims, now);
  const result = await ticketStatus(c.env, config, { ...claims, iat: Math.floor(now / 1000), exp: 0 }, now);

  setCookie(c, TICKET_COOKIE, ticket, { httpOnly: true, secure: true, sameSite: "Lax", path: "/api", maxAge: TICKET_TTL_SECONDS });
  setPassCookie(c, result, now);
  noStore(c);
  const response: JoinResponse = { ticket, status: result.status, previousPlaceExpired: joined.replacedExpired };
  return c.json(response, 200);
});

queueRoutes.get("/status", async (c) => {
  const config = edgeConfig(c.env);
  const ticket = await presentedTicket(c, config);
  if (!ticket) throw refuseTicket("missing");
  const now = Date.now();
  const result = await ticketStatus(c.env, config, ticket, now);
  setPassCookie(c, result, now);
  noStore(c);
  const status: QueueStatus = result.status;
  return c.json(status, 200);
});
