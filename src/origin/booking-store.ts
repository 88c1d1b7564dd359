import { and, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import type { Booking } from "../contract/booking.js";
import type { PassClaims } from "../contract/pass.js";
import { DatabaseUnavailable, sqlState, type Database } from "./db/database.js";
import { bookings, clinics, slots } from "./db/schema.js";
import { MAX_SLOT_ID, slotColumns, slotExists, toSlot } from "./slot-store.js";

/**
 * Booking writes. Every guarantee here comes from Postgres, so it holds across any number of origin
 * processes: the seat is taken by a conditional UPDATE (`booked < capacity`, backed by a CHECK), the
 * pass is spent by a UNIQUE `pass_jti`, and a citizen's one live booking per cohort is a partial UNIQUE
 * index. The application only decides what to tell the client after the database has decided.
 */

export type BookOutcome =
  | { kind: "created"; booking: Booking }
  | { kind: "replayed"; booking: Booking }
  | { kind: "already_booked"; booking: Booking }
  | { kind: "slot_full" }
  | { kind: "slot_not_found" };

export type CancelOutcome = { kind: "cancelled"; booking: Booking } | { kind: "not_found" };

const FOREIGN_KEY_VIOLATION = "23503";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A conflict is settled by reading the booking that won; that booking can be cancelled in between, and
// then the insert is worth trying again. Three tries make a livelock with a cancelling citizen moot.
const MAX_ATTEMPTS = 3;

/** Thrown inside the booking transaction to roll back the booking row when no seat is left. */
class NoSeat extends Error {}

async function findBooking(db: Database, where: SQL | undefined): Promise<Booking | undefined> {
  const [row] = await db
    .select({
      id: bookings.id,
      cohort: bookings.cohort,
      status: bookings.status,
      createdAt: bookings.createdAt,
      ...slotColumns,
    })
    .from(bookings)
    .innerJoin(slots, eq(bookings.slotId, slots.id))
    .innerJoin(clinics, eq(slots.clinicId, clinics.id))
    .where(where)
    .orderBy(desc(bookings.createdAt))
    .limit(1);
  if (!row) return undefined;
  return {
    id: row.id,
    cohort: row.cohort,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    slot: toSlot(row),
  };
}

/** The booking a pass made, live or cancelled: a pass books once, and its replay names that booking. */
export function bookingByPass(db: Database, jti: string): Promise<Booking | undefined> {
  return findBooking(db, eq(bookings.passJti, jti));
}

/** The citizen's live booking in a cohort, if any (at most one, by the partial unique index). */
export function liveBooking(db: Database, citizenKey: string, cohort: string): Promise<Booking | undefined> {
  return findBooking(
    db,
    and(eq(bookings.citizenKey, citizenKey), eq(bookings.cohort, cohort), eq(bookings.status, "booked")),
  );
}

/**
 * Inserts the booking and takes a seat in one transaction; returns the new id, or undefined when the
 * pass or the citizen already holds a booking (the insert did nothing, so nothing needs undoing).
 */
async function insertBooking(db: Database, pass: PassClaims, slotId: number): Promise<string | undefined> {
  return db.transaction(async (tx) => {
    // The booking row first: a replayed pass or a citizen who already holds a booking stops here,
    // waiting only on the unique index, and never touches (or locks) the slot row.
    const [inserted] = await tx
      .insert(bookings)
      .values({ citizenKey: pass.sub, cohort: pass.cohort, slotId, passJti: pass.jti })
      .onConflictDoNothing()
      .returning({ id: bookings.id });
    if (!inserted) return undefined;
    // The row lock makes concurrent bookings of one slot take turns; each re-reads `booked` after the
    // previous one commits, so the last seat goes to exactly one of them.
    const [seat] = await tx
      .update(slots)
      .set({ booked: sql`${slots.booked} + 1` })
      .where(and(eq(slots.id, slotId), lt(slots.booked, slots.capacity)))
      .returning({ id: slots.id });
    if (!seat) throw new NoSeat();
    return inserted.id;
  });
}

/** Books a seat in `slotId` with a pass. Idempotent on the pass: the same pass always names one booking. */
export async function bookSlot(db: Database, pass: PassClaims, slotId: number): Promise<BookOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const replayed = await bookingByPass(db, pass.jti);
    if (replayed) return { kind: "replayed", booking: replayed };
    if (slotId > MAX_SLOT_ID) return { kind: "slot_not_found" };

    let bookingId: string | undefined;
    try {
      bookingId = await insertBooking(db, pass, slotId);
    } catch (err) {
      if (err instanceof NoSeat) return (await slotExists(db, slotId)) ? { kind: "slot_full" } : { kind: "slot_not_found" };
      if (sqlState(err) === FOREIGN_KEY_VIOLATION) return { kind: "slot_not_found" };
      throw err;
    }

    if (bookingId !== undefined) {
      const created = await findBooking(db, eq(bookings.id, bookingId));
      if (!created) throw new Error(`booking ${bookingId} vanished after commit`);
      return { kind: "created", booking: created };
    }
    // The insert met a booking that already holds this pass or this citizen's cohort; say which.
    const byPass = await bookingByPass(db, pass.jti);
    if (byPass) return { kind: "replayed", booking: byPass };
    const held = await liveBooking(db, pass.sub, pass.cohort);
    if (held) return { kind: "already_booked", booking: held };
  }
  throw new DatabaseUnavailable("a booking kept meeting concurrent cancellations");
}

/**
 * Cancels a booking and frees its seat, for the citizen who holds it (same `sub`, same cohort). Another
 * citizen's booking is "not found", so ids cannot be probed. Cancelling twice answers the cancelled
 * booking again.
 */
export async function cancelBooking(db: Database, pass: PassClaims, bookingId: string): Promise<CancelOutcome> {
  if (!UUID.test(bookingId)) return { kind: "not_found" };
  const owned = and(eq(bookings.id, bookingId), eq(bookings.citizenKey, pass.sub), eq(bookings.cohort, pass.cohort));
  await db.transaction(async (tx) => {
    // Only the transaction that flips the status gives the seat back, so a double cancel frees one seat.
    const [cancelled] = await tx
      .update(bookings)
      .set({ status: "cancelled" })
      .where(and(owned, eq(bookings.status, "booked")))
      .returning({ slotId: bookings.slotId });
    if (cancelled) {
      await tx
        .update(slots)
        .set({ booked: sql`${slots.booked} - 1` })
        .where(eq(slots.id, cancelled.slotId));
    }
  });
  const booking = await findBooking(db, owned);
  return booking ? { kind: "cancelled", booking } : { kind: "not_found" };
}
