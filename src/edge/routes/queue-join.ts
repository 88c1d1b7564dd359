import { joinRequest } from "../../contract/queue.js";
import { declaredLength } from "../../http/body-limit.js";
import { requestJson } from "../../http/json-body.js";
import { edgeConfig } from "../config.js";
import { joinQueue, verifiedCitizen } from "../queue/join.js";

/**
 * POST /api/queue/join: an app joins the line with the provider's id_token. At a cohort's opening the
 * whole crowd joins in the same minute, and a join is the surge's costliest request, so, as the status
 * poll (queue-status.ts), it is a plain function of the request, handed a POST of this path by the
 * Worker's fetch before the Hono app sees it (`edgeFetch`, src/edge/app.ts). It does what the app's
 * middleware would for it and no more: a POST here always has its handler, so the wrong-method check never
 * answers, and the declared body length is checked first, as limitBody checks it. Its refusals are the
 * app's: thrown as ApiErrors and answered as `onError` answers them. The app registers the same function
 * too, for what only Hono's routing brings here (a percent-encoded path), and for the route list the API
 * document is checked against.
 */

export const QUEUE_JOIN_PATH = "/api/queue/join";

/** The join's answer: the ticket and its status as JSON, with the ticket (and, once admitted, pass) cookies. */
export async function queueJoin(request: Request, env: Env): Promise<Response> {
  declaredLength(request.headers.get("content-length"));
  const config = edgeConfig(env);
  const { idToken } = await requestJson(request, joinRequest);
  const citizen = await verifiedCitizen(env, request.headers, config, idToken);
  const { answer, cookies } = await joinQueue(env, request.headers, config, citizen);
  const headers = new Headers();
  for (const cookie of cookies) headers.append("set-cookie", cookie);
  headers.set("cache-control", "no-store");
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(answer), { headers });
}
