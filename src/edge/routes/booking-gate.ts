import { Hono, type Context } from "hono";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../contract/errors.js";
import { readBody } from "../../http/body-limit.js";
import { fail } from "../../http/errors.js";
import { limitBody } from "../../http/json-body.js";
import { edgeConfig } from "../config.js";
import { requirePass, type PassVariables } from "../pass-gate.js";
import { shardStub } from "../shard-client.js";

/**
 * The booking API, served through the edge. Only requests with a valid pass are forwarded, so the origin
 * sees nothing but admitted traffic; it verifies the pass again on its own.
 */
export const bookingGate = new Hono<{ Bindings: Env; Variables: PassVariables }>();

/** The origin's answer must come within this, or the citizen is told to retry (keeping pass and place). */
const ORIGIN_TIMEOUT_MS = 8_000;

/** Headers worth passing on; cookies and the rest stay at the edge. */
const FORWARDED_REQUEST_HEADERS = ["content-type", "accept", "accept-language"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "cache-control", "retry-after", "www-authenticate", "location"];

async function forward(c: Context<{ Bindings: Env; Variables: PassVariables }>): Promise<Response> {
  const config = edgeConfig(c.env);
  const url = new URL(c.req.url);
  const target = `${config.originUrl}${url.pathname}${url.search}`;
  const headers = new Headers({ authorization: `Bearer ${c.var.passToken}` });
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  // Read here, within the limit, rather than streamed on: a body over the limit is refused the moment it
  // passes it (the origin is never called), and the origin gets a body with a known length. The limit is
  // 8 KB, so holding it costs nothing; an unbounded `arrayBuffer()` here once held 800 MB of one request.
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  const body = hasBody ? await readBody(c.req.raw) : undefined;

  let answer: Response;
  try {
    answer = await fetch(target, { method: c.req.method, headers, body, signal: AbortSignal.timeout(ORIGIN_TIMEOUT_MS) });
  } catch (err) {
    console.error(`origin unreachable for ${c.req.method} ${url.pathname}:`, err);
    throw unavailable();
  }
  // An origin in trouble answers 5xx; the citizen sees one clear, retryable answer either way.
  if (answer.status >= 500) {
    await answer.body?.cancel();
    throw unavailable();
  }
  const out = new Headers({ "cache-control": "no-store" });
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) out.set(name, value);
  }
  const bytes = await answer.arrayBuffer();
  if (confirmsLiveBooking(c.req.method, url.pathname, answer.status)) await releasePlace(c);
  return new Response(bytes, { status: answer.status, headers: out });
}

/**
 * Whether the origin has just confirmed that the pass's citizen holds a live booking: a booking made or
 * replayed, or moved to another slot (a move keeps the booking, so the pass stays completed). A cancel
 * does not give the pass its capacity back: the citizen may book again with it while it lives, and
 * holding up the line for that would cost the people waiting more than one rebooking costs the origin.
 */
function confirmsLiveBooking(method: string, pathname: string, status: number): boolean {
  if (method === "POST" && pathname === "/api/bookings") return status === 201 || status === 200;
  return method === "PATCH" && status === 200;
}

/** A booking is confirmed: the citizen's pass stops holding capacity, so the next person gets in now. */
async function releasePlace(c: Context<{ Bindings: Env; Variables: PassVariables }>): Promise<void> {
  const { cohort, shard, seq, jti } = c.var.pass;
  try {
    await shardStub(c.env, { cohort, shard }).complete(seq, jti);
  } catch (err) {
    // Not fatal: the pass stops counting at its expiry anyway.
    console.error("could not mark a pass completed:", err);
  }
}

function unavailable() {
  return fail(503, "unavailable", "booking is briefly unavailable; your pass and place are kept, please retry shortly", {
    retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
  });
}

bookingGate.use("/api/slots", requirePass);
bookingGate.use("/api/bookings", limitBody, requirePass);
bookingGate.use("/api/bookings/*", limitBody, requirePass);
bookingGate.get("/api/slots", forward);
bookingGate.get("/api/bookings/me", forward);
bookingGate.post("/api/bookings", forward);
bookingGate.patch("/api/bookings/:id", forward);
bookingGate.delete("/api/bookings/:id", forward);
