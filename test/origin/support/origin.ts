import { eq } from "drizzle-orm";
import { originFetch, type OriginDeps, type OriginFetch } from "../../../src/origin/app.js";
import type { Database } from "../../../src/origin/db/database.js";
import { bookings, clinics, slots } from "../../../src/origin/db/schema.js";
import { nodeSignatureCheck } from "../../../src/origin/node-signature.js";
import { createCredentialVerifier } from "../../../src/origin/pass-verifier.js";
import { errorBody } from "../../../src/contract/errors.js";
import { bookingResponse, type Booking } from "../../../src/contract/booking.js";
import type { Backend, TestDatabase } from "./backends.js";
import { AUDIENCE, ISSUER, makePassKeys, PASS_TTL_SECONDS, type PassKeys } from "./passes.js";

/**
 * The origin as its Node server and Worker run it (`originFetch`: the booking answered ahead of the app,
 * everything else by the app), asked as Hono's `app.request` asks: a path on http://localhost, or a Request.
 */
export interface OriginApp {
  fetch: OriginFetch;
  request(input: string | Request, init?: RequestInit): Promise<Response>;
}

export function servedOrigin(deps: OriginDeps): OriginApp {
  const fetch = originFetch(deps);
  return {
    fetch,
    request: async (input, init) => fetch(typeof input === "string" ? new Request(new URL(input, "http://localhost"), init) : init ? new Request(input, init) : input),
  };
}

/** The real origin on a real database, trusting passes signed with `keys`, checked as the Node entry checks them. */
export function originFor(db: Database, keys: PassKeys, options: { dbTimeoutMs?: number; now?: () => Date } = {}): OriginApp {
  return servedOrigin({
    database: () => ({ db }),
    verifyCredential: createCredentialVerifier({ keys: { kind: "inline", jwks: keys.jwks }, issuer: ISSUER, audience: AUDIENCE, passTtlSeconds: PASS_TTL_SECONDS, signatureCheck: nodeSignatureCheck }),
    // Generous: a flash crowd of 500 waits its turn for ten pooled connections.
    dbTimeoutMs: options.dbTimeoutMs ?? 60_000,
    ...(options.now ? { now: options.now } : {}),
  });
}

/** The real origin on a real database, fetching the edge's public keys from `jwksUrl` as a deployed origin does. */
export function originWithRemoteKeys(db: Database, jwksUrl: string): OriginApp {
  return servedOrigin({
    database: () => ({ db }),
    verifyCredential: createCredentialVerifier({ keys: { kind: "remote", url: jwksUrl }, issuer: ISSUER, audience: AUDIENCE, passTtlSeconds: PASS_TTL_SECONDS, signatureCheck: nodeSignatureCheck }),
    dbTimeoutMs: 10_000,
  });
}

/** A suite's world: a fresh database on the backend, its own pass keys, and the origin trusting them. */
export async function openOrigin(backend: Backend, options: { poolSize?: number } = {}): Promise<{ database: TestDatabase; keys: PassKeys; app: OriginApp }> {
  const database = await backend.open(options);
  const keys = await makePassKeys();
  return { database, keys, app: originFor(database.db, keys) };
}

let clinicCounter = 0;

/** A clinic with one slot of the given capacity, for a test that needs a slot of its own. */
export async function createSlot(db: Database, capacity: number, region = "11"): Promise<number> {
  clinicCounter += 1;
  const [clinic] = await db
    .insert(clinics)
    .values({ name: `시험의원 ${clinicCounter}`, region, address: `서울특별시 중구 세종대로 ${clinicCounter}` })
    .returning({ id: clinics.id });
  const [slot] = await db
    .insert(slots)
    .values({ clinicId: clinic!.id, startsAt: new Date("2031-07-26T09:00:00+09:00"), capacity })
    .returning({ id: slots.id });
  return slot!.id;
}

export async function seatsTaken(db: Database, slotId: number): Promise<number> {
  const [row] = await db.select({ booked: slots.booked }).from(slots).where(eq(slots.id, slotId));
  return row!.booked;
}

export async function bookingRows(db: Database, slotId: number) {
  return db.select().from(bookings).where(eq(bookings.slotId, slotId));
}

export function postBooking(app: OriginApp, pass: string, body: unknown): Promise<Response> {
  return app.request("/api/bookings", {
    method: "POST",
    headers: { Authorization: `Bearer ${pass}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

export function getMyBooking(app: OriginApp, pass: string): Promise<Response> {
  return app.request("/api/bookings/me", { headers: { Authorization: `Bearer ${pass}` } });
}

export function cancel(app: OriginApp, pass: string, bookingId: string): Promise<Response> {
  return app.request(`/api/bookings/${bookingId}`, { method: "DELETE", headers: { Authorization: `Bearer ${pass}` } });
}

/** Asks to move the booking to another slot (`body` is normally `{ slotId }`). */
export function move(app: OriginApp, pass: string, bookingId: string, body: unknown): Promise<Response> {
  return app.request(`/api/bookings/${bookingId}`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${pass}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Seats each slot says are taken next to the live bookings that point at it: the two must agree. */
export async function seatLedger(db: Database, slotIds: readonly number[]) {
  return Promise.all(
    slotIds.map(async (slotId) => {
      const [row] = await db.select({ booked: slots.booked, capacity: slots.capacity }).from(slots).where(eq(slots.id, slotId));
      const live = (await bookingRows(db, slotId)).filter((b) => b.status === "booked").length;
      return { slotId, booked: row!.booked, capacity: row!.capacity, live };
    }),
  );
}

/** The booking in a success body, validated against the contract. */
export async function bookingOf(res: Response): Promise<Booking> {
  return bookingResponse.parse(await res.json()).booking;
}

/** The error in a failure body, validated against the one error shape. */
export async function errorOf(res: Response) {
  return errorBody.parse(await res.json()).error;
}
