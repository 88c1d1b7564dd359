import type { Context } from "hono";
import { fail } from "../../http/errors.js";
import { credentialIn } from "../../http/credentials.js";
import type { EdgeConfig } from "../config.js";
import { TICKET_COOKIE, verifyTicket, type TicketClaims } from "./ticket.js";

const TICKET_MESSAGES = {
  missing: "no ticket: sign in and join the queue first",
  malformed: "the ticket is not one we issued",
  bad_signature: "the ticket is not one we issued",
  expired: "the ticket has expired; join the queue again",
  wrong_claims: "the ticket is not one we issued",
  unknown_cohort: "the ticket names a cohort that is not open here",
} as const;

/** 401 `invalid_ticket`, saying why without saying more than a client needs. */
export function refuseTicket(problem: keyof typeof TICKET_MESSAGES) {
  return fail(401, "invalid_ticket", TICKET_MESSAGES[problem], { headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
}

/** The presented ticket (bearer or cookie), if any and valid; `undefined` when none was presented. */
export function presentedTicket(c: Context, config: EdgeConfig): Promise<TicketClaims | undefined> {
  return ticketIn(c.req.raw.headers, config);
}

/** `presentedTicket` from a request's headers, for a route answered without a Hono context. */
export async function ticketIn(headers: Headers, config: EdgeConfig): Promise<TicketClaims | undefined> {
  const credential = credentialIn(headers, TICKET_COOKIE);
  if (credential.kind === "none") return undefined;
  if (credential.kind === "malformed") throw refuseTicket("malformed");
  const check = await verifyTicket(config, credential.token);
  if (!check.ok) throw refuseTicket(check.problem);
  if (!config.cohorts.some((co) => co.id === check.ticket.cohort)) throw refuseTicket("unknown_cohort");
  return check.ticket;
}
