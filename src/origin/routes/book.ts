import { bookingRequest } from "../../contract/booking.js";
import { declaredLength } from "../../http/body-limit.js";
import { requestJson } from "../../http/json-body.js";
import { bookSlot } from "../booking-store.js";
import { withinBudget, type Database } from "../db/database.js";
import { withDatabase, type Background, type OriginDeps } from "../env.js";
import { ApiError } from "../errors.js";
import type { Credential } from "../pass-verifier.js";
import { insufficientScope, verifiedCredential } from "./pass.js";

/**
 * POST /api/bookings: a citizen admitted from the line books a seat. It is the origin's request that comes
 * with the surge (one per admitted citizen), and Hono's routing, context and middleware chain were a fair
 * share of its CPU, so it is a plain function of the request, handed a POST of this path by the origin's
 * fetch before the Hono app sees it (`originFetch`, src/origin/app.ts), as the edge answers its join and
 * poll. It does what the app's middleware would for it and no more: a POST here always has its handler,
 * so the wrong-method check never answers; the declared body length is checked first, as limitBody
 * checks it; then the credential, as requireCredential checks it; then the database handle is opened
 * and let go as the app's database middleware does. Its refusals are the app's: thrown as ApiErrors and
 * answered as `answerError` answers them. The app's route (routes/bookings.ts) answers with
 * `answerBooking` too, for a request handed to the app itself (`app.request`), and for the route list:
 * the 405 that names POST as the path's method, and the check that every route asks for a pass
 * (test/origin/pass-required.test.ts).
 */

export const BOOKINGS_PATH = "/api/bookings";

/** What `c.json` sends with an answer, as the origin's other routes answer. */
const ANSWER_HEADERS = { "Content-Type": "application/json" } as const;

/** The booking's answer, with the credential checked and the database open. */
export async function answerBooking(request: Request, credential: Credential, db: Database, dbTimeoutMs: number): Promise<Response> {
  if (credential.kind !== "pass") throw insufficientScope();
  const { slotId } = await requestJson(request, bookingRequest);
  const outcome = await withinBudget(dbTimeoutMs, () => bookSlot(db, credential.pass, slotId));
  switch (outcome.kind) {
    case "created":
      return new Response(JSON.stringify({ booking: outcome.booking }), { status: 201, headers: ANSWER_HEADERS });
    case "replayed":
      return new Response(JSON.stringify({ booking: outcome.booking }), { status: 200, headers: ANSWER_HEADERS });
    case "already_booked":
      throw new ApiError(409, "already_booked", "you already hold a booking in this cohort, made by another request; this one booked nothing", {
        booking: outcome.booking,
      });
    case "slot_full":
      throw new ApiError(409, "slot_full", "this slot has no seats left");
    case "slot_not_found":
      throw new ApiError(404, "not_found", "no such slot");
  }
}

/** The whole request, as the app's middleware and route would answer it; refusals are thrown. */
export async function book(request: Request, deps: OriginDeps, background: Background): Promise<Response> {
  declaredLength(request.headers.get("content-length"));
  const credential = await verifiedCredential(request.headers, deps);
  return withDatabase(deps, background, (db) => answerBooking(request, credential, db, deps.dbTimeoutMs));
}
