import { and, desc, eq, fillPlaceholders, lt, sql, type SQL } from "drizzle-orm";
import type { Booking } from "../contract/booking.js";
import type { PassClaims } from "../contract/pass.js";
import { DatabaseUnavailable, sqlState, type Database } from "./db/database.js";
import { bookings, clinics, slots } from "./db/schema.js";
import { newBookingCode } from "./booking-code.js";
import { MAX_SLOT_ID, slotColumns, slotExists, toSlot, type SlotRow } from "./slot-store.js";

/**
 * Booking writes. Every guarantee here comes from Postgres, so it holds across any number of origin
 * processes: a booking's seat is taken by an UPDATE that the CHECK `booked <= capacity` refuses past the
 * last seat, a move's by a conditional UPDATE (`booked < capacity`) backed by the same CHECK, and two
 * partial UNIQUE indexes over live bookings give a pass at most one live booking (so a replay names it)
 * and a citizen at most one per cohort. Cancelled bookings are outside both, so a citizen who cancels may
 * book again, with the same pass while it lives. The application only decides what to tell the client
 * after the database has decided.
 */

export type BookOutcome =
  | { kind: "created"; booking: Booking }
  | { kind: "replayed"; booking: Booking }
  /** The citizen holds a live booking this request did not make: another pass's, or this pass's in another slot. */
  | { kind: "already_booked"; booking: Booking }
  | { kind: "slot_full" }
  | { kind: "slot_not_found" };

export type CancelOutcome = { kind: "cancelled"; booking: Booking } | { kind: "not_found" };

export type MoveOutcome =
  | { kind: "moved"; booking: Booking }
  | { kind: "unchanged"; booking: Booking }
  | { kind: "cancelled"; booking: Booking }
  | { kind: "slot_full" }
  | { kind: "slot_not_found" }
  | { kind: "not_found" };

const FOREIGN_KEY_VIOLATION = "23503";
const CHECK_VIOLATION = "23514";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A conflict is settled by reading the booking that won; that booking can be cancelled in between, and
// then the insert is worth trying again. The conflict can also be the booking code, drawn at random and
// already taken (rarely: with a million codes given, one draw in about 650,000), and the next try draws
// another. Three tries make a livelock with a cancelling citizen, or three taken codes in a row, moot.
const MAX_ATTEMPTS = 3;

/** Thrown inside a move's transaction to roll all of it back when the slot has no seat left. */
class NoSeat extends Error {}

/** A booking row joined with its slot and clinic, as a client sees it. */
function toBooking(row: Pick<Booking, "id" | "code" | "cohort" | "status"> & { createdAt: Date } & SlotRow): Booking {
  return { id: row.id, code: row.code, cohort: row.cohort, status: row.status, createdAt: row.createdAt.toISOString(), slot: toSlot(row) };
}

async function findBooking(db: Database, where: SQL | undefined): Promise<Booking | undefined> {
  const [row] = await db
    .select({
      id: bookings.id,
      code: bookings.code,
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
  return row && toBooking(row);
}

/** The live booking a pass made, if any (at most one, by the partial unique index): what its replay names. */
export function liveBookingByPass(db: Database, jti: string): Promise<Booking | undefined> {
  return findBooking(db, and(eq(bookings.passJti, jti), eq(bookings.status, "booked")));
}

/** The citizen's live booking in a cohort, if any (at most one, by the partial unique index). */
export function liveBooking(db: Database, citizenKey: string, cohort: string): Promise<Booking | undefined> {
  return findBooking(
    db,
    and(eq(bookings.citizenKey, citizenKey), eq(bookings.cohort, cohort), eq(bookings.status, "booked")),
  );
}

/**
 * Takes a seat in `slotId` within the caller's transaction, or throws `NoSeat` (rolling it all back) when
 * the slot is full or does not exist. The row lock makes concurrent takers of one slot take turns; each
 * re-reads `booked` after the previous one commits, so the last seat goes to exactly one of them.
 */
async function takeSeat(tx: Database, slotId: number): Promise<void> {
  const [seat] = await tx
    .update(slots)
    .set({ booked: sql`${slots.booked} + 1` })
    .where(and(eq(slots.id, slotId), lt(slots.booked, slots.capacity)))
    .returning({ id: slots.id });
  if (!seat) throw new NoSeat();
}

/** Gives a seat of `slotId` back within the caller's transaction, once the booking that held it has let go. */
async function freeSeat(tx: Database, slotId: number): Promise<void> {
  await tx
    .update(slots)
    .set({ booked: sql`${slots.booked} - 1` })
    .where(eq(slots.id, slotId));
}

/** The name the booking statement is prepared under, on each connection. */
const BOOKING_STATEMENT = "book_slot";

/**
 * A new booking in one statement, so in one round trip and one implicit transaction: the booking row
 * first (ON CONFLICT DO NOTHING), then a seat of its slot, then the booking as a client sees it. The row
 * is inserted only for a slot that exists and, as the statement's snapshot sees it, has a free seat: a
 * full slot, the answer to nearly every request once the crowd has taken it, writes nothing and raises
 * no error (Postgres logs every error: under a crowd on a full slot that was a log write per refusal,
 * slow enough on a shared disk to hold the pool's connections past their timeout). The seat is taken
 * only for a row the insert returned (`from inserted`), so a replayed pass or a citizen who already holds
 * a booking stops at the unique index, waiting only on it, and never touches (or locks) the slot row; the
 * insert's index entries and then the slot row are locked in the order cancels and moves lock them. The
 * slot row's lock makes concurrent takers take turns, each re-reading `booked`; those that saw a free
 * seat when only the last ones were left may find it gone, and past capacity the CHECK refuses the seat
 * and the whole statement, booking row included, is undone.
 * The slot's columns come from the UPDATE's RETURNING: the statement's own reads see the database as it
 * was before it began.
 *
 * Built once per database handle and prepared under a name, so a request costs no query building and a
 * connection parses the statement once.
 */
function bookingStatement(db: Database) {
  const inserted = db.$with("inserted").as(
    db
      .insert(bookings)
      // Every column, in the table's order, as an INSERT ... SELECT takes them: id, status and createdAt
      // as their defaults in the schema say.
      .select((qb) =>
        qb
          .select({
            id: sql`gen_random_uuid()`.as("id"),
            code: sql`${sql.placeholder("code")}`.as("code"),
            citizenKey: sql`${sql.placeholder("citizenKey")}`.as("citizen_key"),
            cohort: sql`${sql.placeholder("cohort")}`.as("cohort"),
            slotId: slots.id,
            passJti: sql`${sql.placeholder("passJti")}`.as("pass_jti"),
            status: sql`'booked'`.as("status"),
            createdAt: sql`now()`.as("created_at"),
          })
          .from(slots)
          .where(and(eq(slots.id, sql.placeholder("slotId")), lt(slots.booked, slots.capacity))),
      )
      .onConflictDoNothing()
      .returning({ id: bookings.id, code: bookings.code, cohort: bookings.cohort, status: bookings.status, createdAt: bookings.createdAt, slotId: bookings.slotId }),
  );
  const seat = db.$with("seat").as(
    db
      .update(slots)
      .set({ booked: sql`${slots.booked} + 1` })
      .from(inserted)
      .where(eq(slots.id, inserted.slotId))
      .returning({ slotId: slots.id, startsAt: slots.startsAt, capacity: slots.capacity, booked: slots.booked, clinicId: slots.clinicId }),
  );
  return db
    .with(inserted, seat)
    .select({
      id: inserted.id,
      code: inserted.code,
      cohort: inserted.cohort,
      status: inserted.status,
      createdAt: inserted.createdAt,
      slotId: seat.slotId,
      startsAt: seat.startsAt,
      capacity: seat.capacity,
      booked: seat.booked,
      clinicId: clinics.id,
      clinicName: clinics.name,
      region: clinics.region,
      address: clinics.address,
    })
    .from(inserted)
    .innerJoin(seat, eq(seat.slotId, inserted.slotId))
    .innerJoin(clinics, eq(clinics.id, seat.clinicId))
    .prepare(BOOKING_STATEMENT);
}

/** The values `bookingStatement`'s placeholders are filled with. */
export type BookingValues = {
  citizenKey: string;
  cohort: string;
  slotId: number;
  passJti: string;
  code: string;
};

const bookingStatements = new WeakMap<Database, ReturnType<typeof bookingStatement>>();
const BOOKING_VALUE_NAMES = ["citizenKey", "cohort", "slotId", "passJti", "code"] as const satisfies readonly (keyof BookingValues)[];

/**
 * The booking statement's SQL and the order its parameters take, for a baseline that sends the very same
 * statement without Drizzle (bench/lib/raw-booking-server.ts).
 */
export function bookingQuery(db: Database): { name: string; sql: string; names: (keyof BookingValues)[] } {
  const { sql: text, params } = bookingStatement(db).getQuery();
  // Each placeholder filled with its own name (text and integer columns pass values through as they are).
  const names = fillPlaceholders(params, Object.fromEntries(BOOKING_VALUE_NAMES.map((name) => [name, name])));
  return {
    name: BOOKING_STATEMENT,
    sql: text,
    names: names.map((name) => {
      const known = BOOKING_VALUE_NAMES.find((n) => n === name);
      if (!known) throw new Error(`the booking statement has a parameter that is not a placeholder: ${String(name)}`);
      return known;
    }),
  };
}

/**
 * Inserts the booking and takes a seat (`bookingStatement`); returns the new booking, or undefined when
 * nothing was written: the pass or the citizen already holds one, the slot is full or does not exist,
 * or (rarely) the drawn code was taken. A seat taken between the snapshot and the slot row's lock fails
 * the CHECK (CHECK_VIOLATION).
 */
async function insertBooking(db: Database, pass: PassClaims, slotId: number): Promise<Booking | undefined> {
  let statement = bookingStatements.get(db);
  if (!statement) bookingStatements.set(db, (statement = bookingStatement(db)));
  const values: BookingValues = { citizenKey: pass.sub, cohort: pass.cohort, slotId, passJti: pass.jti, code: newBookingCode() };
  const [row] = await statement.execute(values);
  return row && toBooking(row);
}

/**
 * What the pass's live booking means for a request for `slotId`: the same request again (a retry after a
 * lost answer) is answered with it as a success; a request for another slot (a second tab still on the
 * slot choice) did not make it, and is told so with the booking the citizen holds.
 */
function passBooking(booking: Booking, slotId: number): BookOutcome {
  return booking.slot.id === slotId ? { kind: "replayed", booking } : { kind: "already_booked", booking };
}

/**
 * Books a seat in `slotId` with a pass. Idempotent on the pass and slot while its booking is live: a
 * replay names that booking. Once it is cancelled, the same pass books anew.
 */
export async function bookSlot(db: Database, pass: PassClaims, slotId: number): Promise<BookOutcome> {
  if (slotId > MAX_SLOT_ID) {
    // No such slot can exist, and Postgres would refuse the number; a replay still names its booking.
    const replayed = await liveBookingByPass(db, pass.jti);
    return replayed ? passBooking(replayed, slotId) : { kind: "slot_not_found" };
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let created: Booking | undefined;
    try {
      created = await insertBooking(db, pass, slotId);
    } catch (err) {
      const state = sqlState(err);
      // The only CHECK the statement can break is the slot's `booked <= capacity`: the seat was the last.
      if (state === CHECK_VIOLATION) return { kind: "slot_full" };
      if (state === FOREIGN_KEY_VIOLATION) return { kind: "slot_not_found" };
      throw err;
    }
    if (created) return { kind: "created", booking: created };
    // Nothing was written: a live booking already holds this pass or this citizen's cohort (say which, a
    // replay first, even of a slot full since), or the slot is full or missing, or the drawn code was taken
    // (none of these is found, and the loop draws a new code).
    const byPass = await liveBookingByPass(db, pass.jti);
    if (byPass) return passBooking(byPass, slotId);
    const held = await liveBooking(db, pass.sub, pass.cohort);
    if (held) return { kind: "already_booked", booking: held };
    const seats = await seatsOf(db, slotId);
    if (!seats) return { kind: "slot_not_found" };
    if (seats.booked >= seats.capacity) return { kind: "slot_full" };
  }
  throw new DatabaseUnavailable("a booking kept meeting concurrent cancellations");
}

/** A slot's seats as they stand, or undefined when there is no such slot. */
async function seatsOf(db: Database, slotId: number): Promise<{ booked: number; capacity: number } | undefined> {
  const [row] = await db.select({ booked: slots.booked, capacity: slots.capacity }).from(slots).where(eq(slots.id, slotId));
  return row;
}

/** Whose booking a move or cancel may reach: the citizen a pass or booking access speaks for, in its cohort. */
export type BookingHolder = Pick<PassClaims, "sub" | "cohort">;

/** A booking of the holder in the holder's cohort: anyone else's is treated as absent. */
function ownedBy(holder: BookingHolder, bookingId: string): SQL | undefined {
  return and(eq(bookings.id, bookingId), eq(bookings.citizenKey, holder.sub), eq(bookings.cohort, holder.cohort));
}

/**
 * Cancels a booking and frees its seat, for the citizen who holds it (same `sub`, same cohort). Another
 * citizen's booking is "not found", so ids cannot be probed. Cancelling twice answers the cancelled
 * booking again.
 */
export async function cancelBooking(db: Database, holder: BookingHolder, bookingId: string): Promise<CancelOutcome> {
  if (!UUID.test(bookingId)) return { kind: "not_found" };
  const owned = ownedBy(holder, bookingId);
  await db.transaction(async (tx) => {
    // Only the transaction that flips the status gives the seat back, so a double cancel frees one seat.
    const [cancelled] = await tx
      .update(bookings)
      .set({ status: "cancelled" })
      .where(and(owned, eq(bookings.status, "booked")))
      .returning({ slotId: bookings.slotId });
    if (cancelled) await freeSeat(tx, cancelled.slotId);
  });
  const booking = await findBooking(db, owned);
  return booking ? { kind: "cancelled", booking } : { kind: "not_found" };
}

type MoveVerdict = "moved" | "unchanged" | "cancelled" | "not_found";

/**
 * Moves a live booking of the holder (the citizen of a pass or of booking access) to `slotId` in one transaction: the seat in the new slot is
 * taken under the slot row's lock (`takeSeat`), the old seat is freed and the booking points at the new slot,
 * or none of it happens. Moving to the slot it already has changes nothing. Another citizen's booking is
 * "not found", as for a cancel.
 */
export async function moveBooking(db: Database, holder: BookingHolder, bookingId: string, slotId: number): Promise<MoveOutcome> {
  if (!UUID.test(bookingId)) return { kind: "not_found" };
  const owned = ownedBy(holder, bookingId);
  let verdict: MoveVerdict;
  try {
    verdict = await db.transaction(async (tx): Promise<MoveVerdict> => {
      // The row lock orders this move after any cancel or move of the same booking, so the seat it frees
      // is the one the booking holds once they commit, and a cancelled booking is seen as cancelled.
      const [held] = await tx
        .select({ slotId: bookings.slotId, status: bookings.status })
        .from(bookings)
        .where(owned)
        .for("update");
      if (!held) return "not_found";
      if (held.status !== "booked") return "cancelled";
      if (held.slotId === slotId) return "unchanged";
      if (slotId > MAX_SLOT_ID) throw new NoSeat();
      // The booking row before any slot row, as booking and cancelling also lock them, so no two of them
      // wait on each other in a circle.
      await tx.update(bookings).set({ slotId }).where(eq(bookings.id, bookingId));
      // Slot rows in ascending id order: two citizens moving in opposite directions between the same two
      // slots then queue on the first row instead of deadlocking (which Postgres would end with an error).
      if (slotId < held.slotId) {
        await takeSeat(tx, slotId);
        await freeSeat(tx, held.slotId);
      } else {
        await freeSeat(tx, held.slotId);
        await takeSeat(tx, slotId);
      }
      return "moved";
    });
  } catch (err) {
    // Rolled back: the booking keeps its slot and both seats are as they were.
    if (err instanceof NoSeat) return (await slotExists(db, slotId)) ? { kind: "slot_full" } : { kind: "slot_not_found" };
    if (sqlState(err) === FOREIGN_KEY_VIOLATION) return { kind: "slot_not_found" };
    throw err;
  }
  if (verdict === "not_found") return { kind: "not_found" };
  const booking = await findBooking(db, owned);
  if (!booking) throw new Error(`booking ${bookingId} vanished after a move`);
  return { kind: verdict, booking };
}
