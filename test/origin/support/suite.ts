import { afterAll, beforeAll } from "vitest";
import type { Booking } from "../../../src/contract/booking.js";
import type { Database } from "../../../src/origin/db/database.js";
import type { Backend, TestDatabase } from "./backends.js";
import { bookingOf, createSlot, openOrigin, postBooking, type OriginApp } from "./origin.js";
import { newCitizen, passClaimsFor, signPass, type PassKeys } from "./passes.js";

/** A citizen with a live pass and a booking made with it. */
export interface BookedCitizen {
  sub: string;
  pass: string;
  slotId: number;
  booking: Booking;
}

/** What a suite of booking tests works with; its fields exist from the suite's `beforeAll` on. */
export interface OriginSuite {
  readonly database: TestDatabase;
  readonly db: Database;
  readonly keys: PassKeys;
  readonly app: OriginApp;
  /** A pass for citizen `sub`, signed with the suite's keys; `extra` overrides its claims. */
  passFor(sub: string, extra?: Record<string, unknown>): Promise<string>;
  /** A new citizen booked into `slotId`, or into a fresh slot of `capacity` seats (3 when neither is given). */
  bookedCitizen(where?: { slotId: number } | { capacity: number }): Promise<BookedCitizen>;
}

/**
 * Opens a fresh database on `backend`, pass keys and the app trusting them before the suite's tests, and
 * closes the database after them. Call it in a `describe` body; read its fields inside tests.
 */
export function originSuite(backend: Backend, options: { poolSize?: number } = {}): OriginSuite {
  let opened: Awaited<ReturnType<typeof openOrigin>> | undefined;
  beforeAll(async () => {
    opened = await openOrigin(backend, options);
  });
  afterAll(() => opened?.database.close());

  const world = () => {
    if (!opened) throw new Error("the suite's origin opens in beforeAll: use it inside a test or hook");
    return opened;
  };
  const passFor = (sub: string, extra: Record<string, unknown> = {}) => signPass(world().keys, passClaimsFor({ sub, ...extra }));

  return {
    get database() {
      return world().database;
    },
    get db() {
      return world().database.db;
    },
    get keys() {
      return world().keys;
    },
    get app() {
      return world().app;
    },
    passFor,
    async bookedCitizen(where = { capacity: 3 }) {
      const sub = newCitizen();
      const pass = await passFor(sub);
      const slotId = "slotId" in where ? where.slotId : await createSlot(world().database.db, where.capacity);
      const res = await postBooking(world().app, pass, { slotId });
      // Set-up that fails says so here, not as a puzzling assertion later in the test.
      if (res.status !== 201) throw new Error(`booking a citizen for the test's set-up answered ${res.status}: ${await res.text()}`);
      return { sub, pass, slotId, booking: await bookingOf(res) };
    },
  };
}
