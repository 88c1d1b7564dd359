import { Hono, type Context } from "hono";
import { pushReceivedRequest, pushSubscriptionRequest, type PushKeyResponse } from "../../contract/push.js";
import { fail } from "../../http/errors.js";
import { jsonBody } from "../../http/json-body.js";
import { enforceLimit } from "../abuse-limits.js";
import { edgeConfig, type EdgeConfig } from "../config.js";
import { callShard, shardStub } from "../queue/shard-client.js";
import { placeOf } from "../queue/status.js";
import { presentedTicket, refuseTicket } from "../tokens/ticket-from-request.js";

/**
 * Web Push for the waiting page (docs/notifications.md): the application server key, the ticket's
 * subscription, and the service worker's word that a notice arrived. The subscription is the ticket's,
 * kept by its shard, never the citizen's. Without VAPID keys (or the queue) push is off: 404
 * `push_unavailable` from every route here.
 */
export const pushRoutes = new Hono<{ Bindings: Env }>();

function pushConfig(c: Context<{ Bindings: Env }>): EdgeConfig & { push: NonNullable<EdgeConfig["push"]> } {
  const config = edgeConfig(c.env);
  if (!config.push || !c.env.PUSH_QUEUE) throw fail(404, "push_unavailable", "notifications are not offered here");
  return config as EdgeConfig & { push: NonNullable<EdgeConfig["push"]> };
}

/** The presented ticket and its place in its shard's line, or the refusal a client can act on. */
async function ticketPlace(c: Context<{ Bindings: Env }>, config: EdgeConfig) {
  const ticket = await presentedTicket(c, config);
  if (!ticket) throw refuseTicket("missing");
  await enforceLimit(c.env, "poll", ticket.jti);
  const now = Date.now();
  const place = await placeOf(c.env, config, ticket, now);
  if (place === "gone") throw refuseTicket("expired");
  if (place === "prequeue") {
    const cohort = config.cohorts.find((co) => co.id === ticket.cohort)!;
    throw fail(409, "cohort_not_open", "notices can be asked for once the line opens and the draw gives you a place", { opensAt: cohort.opensAt, cohort: cohort.id });
  }
  return { stub: shardStub(c.env, { cohort: ticket.cohort, shard: ticket.shard }), seq: place, ticketId: ticket.jti };
}

pushRoutes.get("/api/push/key", (c) => {
  const { push } = pushConfig(c);
  const body: PushKeyResponse = { publicKey: push.publicKey };
  // The key changes only with a deploy that rotates it; a page may keep it for an hour.
  c.header("cache-control", "public, max-age=3600");
  return c.json(body, 200);
});

pushRoutes.put("/api/queue/push-subscription", async (c) => {
  const config = pushConfig(c);
  const { subscription, lang } = await jsonBody(c, pushSubscriptionRequest);
  const { stub, seq, ticketId } = await ticketPlace(c, config);
  const target = { endpoint: subscription.endpoint, p256dh: subscription.keys.p256dh, auth: subscription.keys.auth };
  if (!(await callShard(() => stub.subscribePush(seq, ticketId, target, lang)))) throw refuseTicket("expired");
  return c.body(null, 204);
});

pushRoutes.delete("/api/queue/push-subscription", async (c) => {
  const config = pushConfig(c);
  const { stub, seq, ticketId } = await ticketPlace(c, config);
  await callShard(() => stub.unsubscribePush(seq, ticketId));
  return c.body(null, 204);
});

pushRoutes.post("/api/queue/push-received", async (c) => {
  const config = pushConfig(c);
  const { kind } = await jsonBody(c, pushReceivedRequest);
  const { stub, seq, ticketId } = await ticketPlace(c, config);
  await callShard(() => stub.pushReceived(seq, ticketId, kind));
  return c.body(null, 204);
});
