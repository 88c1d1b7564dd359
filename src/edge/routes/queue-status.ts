import type { QueueStatus } from "../../contract/queue.js";
import { declaredLength } from "../../http/body-limit.js";
import { enforceLimit } from "../abuse-limits.js";
import { edgeConfig } from "../config.js";
import { passCookie } from "../queue/join.js";
import { ticketStatus, type Background } from "../queue/status.js";
import { refuseTicket, ticketIn } from "../tokens/ticket-from-request.js";

/**
 * GET /api/queue/status: where a ticket stands. Every waiting page asks every few seconds, so this is by
 * far the edge's busiest route (the whole crowd, against one join and one booking each), and the
 * framework around it cost about as much as the answer itself. So it is a plain function of the request,
 * which the Worker's fetch hands a GET of this path before the Hono app sees it (`edgeFetch`,
 * src/edge/app.ts). It does what the app's middleware would for it and no more: a GET here always has its
 * handler, so the wrong-method check never answers, and the declared body length is checked as limitBody
 * checks it. Its refusals are the app's: thrown as ApiErrors and answered by `errorAnswer`, as `onError`
 * answers them. The app registers the same function too, for what only Hono's routing brings here (a HEAD,
 * a percent-encoded path), and for the route list the API document is checked against.
 */

export const QUEUE_STATUS_PATH = "/api/queue/status";

/** What every status answer carries; an admitted one adds its pass cookie. */
const ANSWER_HEADERS = { "content-type": "application/json", "cache-control": "no-store" } as const;

/** The status of the presented ticket (bearer or cookie), counted against POLL_LIMIT; refusals are thrown. */
export async function queueStatus(request: Request, env: Env, background: Background): Promise<Response> {
  declaredLength(request.headers.get("content-length"));
  const config = edgeConfig(env);
  const ticket = await ticketIn(request.headers, config);
  if (!ticket) throw refuseTicket("missing");
  await enforceLimit(env, "poll", ticket.jti);
  const now = Date.now();
  // A poll near the front tells the shard its holder is here, after the answer (`background`: waitUntil).
  const result = await ticketStatus(env, config, ticket, now, background);
  const status: QueueStatus = result.status;
  const headers = result.pass ? { ...ANSWER_HEADERS, "set-cookie": passCookie(result.pass, now) } : ANSWER_HEADERS;
  return new Response(JSON.stringify(status), { headers });
}
