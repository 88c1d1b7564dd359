import type { Context } from "hono";
import type { LeaveResponse } from "../../contract/queue.js";
import { fail } from "../../http/errors.js";
import type { EdgeConfig } from "../config.js";
import { cohortSeed, drawValue } from "../prequeue/draw.js";
import type { LeaveResult } from "../shard/rpc.js";
import type { TicketFields } from "../tokens/ticket.js";
import { TICKET_COOKIE, TICKET_HINT_COOKIE } from "../tokens/ticket.js";
import { callShard, shardStub } from "./shard-client.js";
import { remember } from "./snapshot-cache.js";
import { shardName } from "./shard-name.js";
import { placeOf } from "./status.js";

/**
 * Giving up a place for good (`DELETE /api/queue/ticket`): the shard marks it, never admits it, and the
 * line steps over it, so everyone behind moves up. A pre-queue ticket is given up in its shard's draw,
 * before or after the opening placed it. The ticket's cookies are cleared, so the page holds no place.
 */
export async function leaveQueue(c: Context<{ Bindings: Env }>, config: EdgeConfig, ticket: TicketFields, now: number): Promise<LeaveResponse> {
  const address = { cohort: ticket.cohort, shard: ticket.shard };
  const result = await giveUp(c.env, config, ticket, now);
  if (result.snapshot) remember(shardName(address), result.snapshot, now);
  if (result.state === "admitted") {
    throw fail(409, "ticket_admitted", "your turn has come and your pass was issued: there is no place left to give up; the pass lapses by itself if you do not book");
  }
  // An unknown ticket (the line was reset) holds no place either: leaving it is done.
  c.header("set-cookie", `${TICKET_COOKIE}=; Max-Age=0; Path=/api; HttpOnly; Secure; SameSite=Lax`, { append: true });
  c.header("set-cookie", `${TICKET_HINT_COOKIE}=; Max-Age=0; Path=/; Secure; SameSite=Lax`, { append: true });
  return { state: "left", cohort: ticket.cohort };
}

async function giveUp(env: Env, config: EdgeConfig, ticket: TicketFields, now: number): Promise<LeaveResult> {
  // A fresh stub for each try: a stub that saw its object reset stays broken.
  const stub = () => shardStub(env, { cohort: ticket.cohort, shard: ticket.shard });
  const place = await placeOf(env, config, ticket, now);
  if (place === "gone") return { state: "unknown" };
  if (place !== "prequeue") return callShard(() => stub().leave(place, ticket.jti));
  // Not placed yet: the ticket is named in its shard's draw by its value.
  const value = await drawValue(await cohortSeed(config.drawSecret, ticket.cohort), ticket.jti);
  return callShard(() => stub().leavePrequeue(value, ticket.jti));
}
