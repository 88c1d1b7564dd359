import { Hono } from "hono";
import { joinRequest, type QueueStatus } from "../../contract/queue.js";
import { jsonBody } from "../../http/json-body.js";
import { edgeConfig } from "../config.js";
import { joinQueue, setPassCookie, verifiedCitizen } from "../queue/join.js";
import { enforceLimit } from "../abuse-limits.js";
import { ticketStatus } from "../queue/status.js";
import { leaveQueue } from "../queue/leave.js";
import { presentedTicket, refuseTicket } from "../tokens/ticket-from-request.js";

/** Joining the line (apps, with an id_token) and asking where one stands in it. */
export const queueRoutes = new Hono<{ Bindings: Env }>();

// The app checks every body's declared length before any route runs (src/edge/app.ts).
queueRoutes.post("/join", async (c) => {
  const config = edgeConfig(c.env);
  const { idToken } = await jsonBody(c, joinRequest);
  const citizen = await verifiedCitizen(c, config, idToken);
  const response = await joinQueue(c, config, citizen);
  c.header("cache-control", "no-store");
  return c.json(response, 200);
});

queueRoutes.get("/status", async (c) => {
  const config = edgeConfig(c.env);
  const ticket = await presentedTicket(c, config);
  if (!ticket) throw refuseTicket("missing");
  await enforceLimit(c.env, "poll", ticket.jti);
  const now = Date.now();
  // A poll near the front tells the shard its holder is here, after the answer (waitUntil).
  const result = await ticketStatus(c.env, config, ticket, now, (work) => c.executionCtx.waitUntil(work));
  setPassCookie(c, result, now);
  c.header("cache-control", "no-store");
  const status: QueueStatus = result.status;
  return c.json(status, 200);
});

/** Giving up one's place for good (the ticket as cookie or bearer); joining again later is a new place at the back. */
queueRoutes.delete("/ticket", async (c) => {
  const config = edgeConfig(c.env);
  const ticket = await presentedTicket(c, config);
  if (!ticket) throw refuseTicket("missing");
  await enforceLimit(c.env, "poll", ticket.jti);
  const response = await leaveQueue(c, config, ticket, Date.now());
  c.header("cache-control", "no-store");
  return c.json(response, 200);
});
