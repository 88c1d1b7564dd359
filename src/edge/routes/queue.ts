import { Hono } from "hono";
import { joinRequest } from "../../contract/queue.js";
import { jsonBody } from "../../http/json-body.js";
import { edgeConfig } from "../config.js";
import { joinQueue, verifiedCitizen } from "../queue/join.js";
import { enforceLimit } from "../abuse-limits.js";
import { leaveQueue } from "../queue/leave.js";
import { presentedTicket, refuseTicket } from "../tokens/ticket-from-request.js";

/** Joining the line (apps, with an id_token) and leaving it; asking where one stands is queue-status.ts. */
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
