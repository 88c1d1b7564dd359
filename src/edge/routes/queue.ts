import { Hono } from "hono";
import { edgeConfig } from "../config.js";
import { enforceLimit } from "../abuse-limits.js";
import { leaveQueue } from "../queue/leave.js";
import { presentedTicket, refuseTicket } from "../tokens/ticket-from-request.js";
import { queueJoin } from "./queue-join.js";

/** Joining the line (apps, with an id_token: queue-join.ts) and leaving it; asking where one stands is queue-status.ts. */
export const queueRoutes = new Hono<{ Bindings: Env }>();

// `edgeFetch` answers most joins before the app is reached (routes/queue-join.ts).
queueRoutes.post("/join", (c) => queueJoin(c.req.raw, c.env));

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
