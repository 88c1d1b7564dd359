import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bookingResponse, slotDatesQuery, slotsQuery } from "../../contract/booking.js";
import { errorBody, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../contract/errors.js";
import { readBody } from "../../http/body-limit.js";
import { badQuery, fail } from "../../http/errors.js";
import type { HealthSample, OriginOutcome } from "../origin-health/autopilot.js";
import { edgeConfig } from "../config.js";
import { enforceLimit } from "../abuse-limits.js";
import { originBreaker } from "../origin-health/breaker.js";
import { ORIGIN_TIMEOUT_MS, outcomeOf } from "../origin-health/outcome.js";
import { holdSample, reportDue, returnSamples, takeSamples } from "../origin-health/sample-buffer.js";
import { requireGateCredential, type GateCredential, type GateVariables } from "../tokens/gate-credential.js";
import { shardOf } from "../identity/citizen-key.js";
import type { ShardAddress } from "../queue/shard-name.js";
import { passesUsed } from "../gate/pass-activity.js";
import { callShard, shardStub } from "../queue/shard-client.js";
import { shardName } from "../queue/shard-name.js";
import { cachedSlots, slotDatesKey, slotsKey } from "../gate/slot-cache.js";

type GateContext = Context<{ Bindings: Env; Variables: GateVariables }>;

/**
 * The booking API, served through the edge. Only requests with a valid pass (or, for a booking already
 * made, booking access) are forwarded, so the origin sees nothing but admitted traffic; it verifies the
 * credential again on its own.
 */
export const bookingGate = new Hono<{ Bindings: Env; Variables: GateVariables }>();

/** The shard whose line the credential's citizen is in: the pass names it; booking access, by the citizen key. */
function shardOfCredential(env: Env, credential: GateCredential): ShardAddress {
  if (credential.kind === "pass") return { cohort: credential.pass.cohort, shard: credential.pass.shard };
  return { cohort: credential.access.cohort, shard: shardOf(credential.access.sub, edgeConfig(env).shards) };
}

/** Headers worth passing on; cookies and the rest stay at the edge. */
const FORWARDED_REQUEST_HEADERS = ["content-type", "accept", "accept-language"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "cache-control", "retry-after", "www-authenticate", "location"];

/** Sends the request on to the origin with the credential as its bearer, and the origin's answer back. */
async function forward(c: GateContext, pathAndQuery?: string): Promise<Response> {
  const config = edgeConfig(c.env);
  const url = new URL(c.req.url);
  const target = `${config.originUrl}${pathAndQuery ?? `${url.pathname}${url.search}`}`;
  const headers = new Headers({ authorization: `Bearer ${c.var.credentialToken}` });
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  // Read here, within the limit, rather than streamed on: a body over the limit is refused the moment it
  // passes it (the origin is never called), and the origin gets a body with a known length. The limit is
  // small, so holding the body costs nothing, where an unbounded read would hold whatever a client sends.
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  const body = hasBody ? await readBody(c.req.raw) : undefined;

  // Citizens admitted before the origin began failing would otherwise keep retrying into it: while this
  // isolate has just seen it failing, they are told to come back later, pass and place kept, and only an
  // occasional probe goes through to learn when it is back.
  const verdict = config.autopilot.enabled ? originBreaker.verdict(Date.now()) : "forward";
  if (verdict === "refuse") throw unavailable(originBreaker.retryAfterSeconds(Date.now()));
  const probe = verdict === "probe";
  // The clock moves only across I/O in a Worker, which is exactly the span to time: the origin's answer.
  const sentAt = Date.now();
  let answer: Response;
  try {
    answer = await fetch(target, { method: c.req.method, headers, body, signal: AbortSignal.timeout(ORIGIN_TIMEOUT_MS) });
  } catch (err) {
    // One line: an origin that is down is routine (it restarts), and its stack would say nothing more.
    console.error(`origin unreachable for ${c.req.method} ${url.pathname}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    noteOrigin(c, outcomeOf(timedOut ? "timeout" : "unreachable"), sentAt, probe);
    throw unavailable();
  }
  noteOrigin(c, outcomeOf(answer.status), sentAt, probe);
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
  // Read whole before answering, so that a booking's next step (releasing the place) follows an answer
  // the origin has finished giving.
  return new Response(await answer.arrayBuffer(), { status: answer.status, headers: out });
}

/**
 * Records how the origin answered a request forwarded for the pass's citizen: the isolate's breaker judges
 * it, and it waits for the citizen's shard, whose autopilot it feeds (with the next completion, or a report
 * of its own). Nothing at all while the autopilot is off.
 */
function noteOrigin(c: GateContext, outcome: OriginOutcome, sentAt: number, probe: boolean): void {
  const config = edgeConfig(c.env);
  if (!config.autopilot.enabled) return;
  const now = Date.now();
  const sample: HealthSample = { latencyMs: Math.max(0, now - sentAt), outcome };
  originBreaker.record(now, outcome, config.autopilot.maxErrorShare, probe, sentAt);
  holdSample(shardName(shardOfCredential(c.env, c.var.credential)), sample);
}

/**
 * After every gate request: the pass was used (so it holds capacity PASS_IDLE_SECONDS longer), and
 * samples still held for the citizen's shard (a failure, a slot read, anything without a completion to
 * carry them) wait for it too. Both go in a report of their own, at most about once a second per shard
 * from this isolate. The report is this request's own call, finished after the answer (waitUntil), so the
 * citizen does not wait for it and no request ever waits on another's.
 */
async function reportHealth(c: GateContext, next: () => Promise<void>): Promise<void> {
  try {
    await next();
  } finally {
    const credential = c.var.credential as GateCredential | undefined;
    if (credential) {
      const address = shardOfCredential(c.env, credential);
      const name = shardName(address);
      const now = Date.now();
      if (credential.kind === "pass") passesUsed.hold(name, credential.pass.seq, credential.pass.jti);
      const healthDue = reportDue(name, now);
      const used = passesUsed.takeDue(name, now);
      if (healthDue || used) {
        const samples = healthDue ? takeSamples(name) : [];
        const report = shardStub(c.env, address)
          .reportHealth(samples, used ?? [])
          .then(
            () => undefined,
            (err: unknown) => {
              // Not fatal: what it carried goes with the next call to the shard instead.
              console.error("could not report the origin's health to a shard:", err);
              returnSamples(name, samples);
              if (used) passesUsed.giveBack(name, used);
            },
          );
        c.executionCtx.waitUntil(report);
      }
    }
  }
}

/**
 * A pass's requests through the gate are limited (PASS_LIMIT), after the pass is verified and before
 * anything is forwarded or served from the cache: one client flooding with its pass is refused at the
 * edge, and neither the origin nor the breaker, which every other citizen depends on, sees the flood.
 * Booking access is limited per citizen (BOOKING_ACCESS_LIMIT, on the citizen key), so signing in again
 * for fresh tokens buys no more requests.
 */
const limitPerCredential: MiddlewareHandler<{ Bindings: Env; Variables: GateVariables }> = async (c, next) => {
  const credential = c.var.credential;
  if (credential.kind === "pass") await enforceLimit(c.env, "pass", credential.pass.jti);
  else await enforceLimit(c.env, "bookingAccess", credential.access.sub);
  await next();
};

/**
 * Serves an origin read from the edge's cache (slot-cache.ts) for about a second per `key`: the read that
 * refreshes the cache is forwarded like any gate request, with the pass of the citizen whose request made
 * it; availability is the same for every citizen, so any valid pass will do.
 */
async function cachedRead(c: GateContext, key: string, pathAndQuery: string): Promise<Response> {
  const got = await cachedSlots(key, Date.now(), async () => {
    const answer = await forward(c, pathAndQuery);
    if (answer.status !== 200) return answer;
    // The clock moves across I/O: after the answer, Date.now() is when the edge learned it.
    return { body: await answer.text(), fetchedAt: Date.now() };
  });
  if (got instanceof Response) return got;
  return new Response(got.body, { status: 200, headers: { "content-type": "application/json", "cache-control": "no-store" } });
}

/**
 * Slot availability per (region, date): the query is checked here, so only a well-formed read reaches the
 * origin, under a canonical key.
 */
async function slots(c: GateContext): Promise<Response> {
  const parsed = slotsQuery.safeParse(c.req.query());
  if (!parsed.success) throw badQuery(parsed.error);
  const query = parsed.data;
  const search = new URLSearchParams();
  if (query.region !== undefined) search.set("region", query.region);
  if (query.date !== undefined) search.set("date", query.date);
  return cachedRead(c, slotsKey(query), `/api/slots${search.size > 0 ? `?${search}` : ""}`);
}

/** The days a region has free seats on, for the page's date picker: checked and cached as slots are. */
async function slotDates(c: GateContext): Promise<Response> {
  const parsed = slotDatesQuery.safeParse(c.req.query());
  if (!parsed.success) throw badQuery(parsed.error);
  return cachedRead(c, slotDatesKey(parsed.data), `/api/slots/dates?${new URLSearchParams({ region: parsed.data.region })}`);
}

/**
 * The origin has confirmed that the pass's citizen holds a live booking: the pass stops holding
 * capacity, so the next person in the line gets in now rather than when the pass expires.
 */
async function releasePlace(c: GateContext, bookingCode: string | null = null): Promise<void> {
  if (c.var.credential.kind !== "pass") return;
  const { cohort, shard, seq, jti } = c.var.credential.pass;
  // The origin's health for this shard travels with the call it already gets.
  const name = shardName({ cohort, shard });
  const samples = takeSamples(name);
  const used = passesUsed.take(name);
  try {
    await shardStub(c.env, { cohort, shard }).complete(seq, jti, samples, used, bookingCode);
  } catch (err) {
    // Not fatal: the pass stops counting when idle anyway, and what the call carried waits for the next.
    console.error("could not mark a pass completed:", err);
    returnSamples(name, samples);
    passesUsed.giveBack(name, used);
  }
}

function unavailable(retryAfterSeconds = UNAVAILABLE_RETRY_AFTER_SECONDS) {
  return fail(503, "unavailable", "booking is briefly unavailable; your pass and place are kept, please retry shortly", { retryAfterSeconds });
}

// The one gate, in front of every route below ("/api/slots/*" covers "/api/slots" itself, as
// "/api/bookings/*" covers "/api/bookings"). The
// app has already refused an over-long declared body, before any pass is verified.
bookingGate
  .use("/api/slots/*", requireGateCredential, limitPerCredential, reportHealth)
  .use("/api/bookings/*", requireGateCredential, limitPerCredential, reportHealth);

bookingGate.get("/api/slots", slots);
bookingGate.get("/api/slots/dates", slotDates);
bookingGate.get("/api/bookings/me", (c) => forward(c));
// A booking made (201), replayed (200) or found already held (409 already_booked: made in another tab or
// device) releases the place: the citizen holds a live booking. Another refusal does not: the origin
// confirmed no booking, and the citizen still needs the pass's capacity to try another slot.
bookingGate.post("/api/bookings", async (c) => {
  // Booking access reaches a booking already made; a new one is only ever made with a pass, from the line.
  if (c.var.credential.kind !== "pass") throw insufficientScope();
  const answer = await forward(c);
  if (answer.status === 201 || answer.status === 200 || (await isAlreadyBooked(answer))) await releasePlace(c, await bookingCodeIn(answer));
  return answer;
});

/** Whether the origin's answer is 409 `already_booked`; reads a copy, so the answer is passed on whole. */
async function isAlreadyBooked(answer: Response): Promise<boolean> {
  if (answer.status !== 409) return false;
  const parsed = errorBody.safeParse(await answer.clone().json().catch(() => null));
  return parsed.success && parsed.data.error.code === "already_booked";
}
/** The code of the booking the origin's answer names (made, replayed, or already held), for the booked notice. */
async function bookingCodeIn(answer: Response): Promise<string | null> {
  const body: unknown = await answer.clone().json().catch(() => null);
  const made = bookingResponse.safeParse(body);
  if (made.success) return made.data.booking.code;
  const held = errorBody.safeParse(body);
  return held.success ? (held.data.error.booking?.code ?? null) : null;
}

// A move keeps a live booking, so it releases the place as a booking does; repeating a release is
// harmless (the shard marks a pass completed once), and a citizen whose first booking's release was lost
// gets it here.
bookingGate.patch("/api/bookings/:id", async (c) => {
  if (c.var.credential.kind === "access") return changeWithAccess(c, c.var.credential.access.sub);
  const answer = await forward(c);
  if (answer.status === 200) await releasePlace(c);
  return answer;
});

/**
 * A change made with booking access goes through the line's capacity rule (shard/change-hold.ts): while
 * the citizen's shard is full or paused it is refused with 503 `line_busy` (the booking unchanged);
 * otherwise it holds a unit of the shard's room while the origin moves the seat (takeSeat/freeSeat, as
 * any change), and gives it back as soon as the answer is in.
 */
async function changeWithAccess(c: GateContext, citizenKey: string): Promise<Response> {
  const stub = () => shardStub(c.env, shardOfCredential(c.env, c.var.credential));
  const hold = await callShard(() => stub().holdForChange(citizenKey, CHANGE_HOLD_MS));
  if (!hold.held) {
    const why = hold.reason === "paused" ? "the line is paused" : "the line is at capacity";
    throw fail(503, "line_busy", `${why}: changing a booking waits as booking does; your booking is unchanged, try again shortly`, {
      retryAfterSeconds: LINE_BUSY_RETRY_AFTER_SECONDS,
    });
  }
  try {
    return await forward(c);
  } finally {
    const { ticket, until } = hold;
    if (ticket && until !== undefined) {
      c.executionCtx.waitUntil(
        stub()
          .releaseChange(ticket, until)
          .catch((err: unknown) => console.error("could not release a change's hold (it ends on its own):", err)),
      );
    }
  }
}

/** A change's hold outlives the longest the origin may take to answer it, and then ends on its own. */
const CHANGE_HOLD_MS = ORIGIN_TIMEOUT_MS + 2_000;
/** A full line frees room as passes are used up or bookings complete: seconds, not minutes. */
const LINE_BUSY_RETRY_AFTER_SECONDS = 10;

function insufficientScope() {
  return fail(403, "insufficient_scope", "booking access reaches the booking you hold; to book, sign in and join the line", {
    headers: { "www-authenticate": 'Bearer error="insufficient_scope", scope="booking"' },
  });
}
// A cancel does not give the pass its capacity back: the citizen may book again with it while it lives,
// and holding up the line for that would cost the people waiting more than one rebooking costs the origin.
bookingGate.delete("/api/bookings/:id", (c) => forward(c));
