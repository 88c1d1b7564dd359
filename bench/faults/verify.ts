/**
 * The end of every scenario: the ledger against the truth. Places are asked of the shards themselves (a
 * join again with the same id_token returns the citizen's live ticket, or a new place at the back if the
 * old one is gone); bookings, duplicates and seats are read from the database directly.
 */
import { PGlite } from "@electric-sql/pglite";
import type { Crowd } from "./crowd.js";
import { sleep } from "./stack.js";

export interface BookingRow extends Record<string, unknown> {
  id: string;
  citizen_key: string;
  cohort: string;
  pass_jti: string;
  status: string;
}

export interface SlotRow extends Record<string, unknown> {
  id: number;
  capacity: number;
  booked: number;
  live: number;
}

export interface Truth {
  bookings: BookingRow[];
  slots: SlotRow[];
}

const BOOKINGS_SQL = "select id::text as id, citizen_key, cohort, pass_jti, status from bookings";
// Only slots anyone booked: the rest cannot be oversold or miscounted.
const SLOTS_SQL = `select s.id, s.capacity, s.booked,
  (select count(*) from bookings b where b.slot_id = s.id and b.status = 'booked')::int as live
  from slots s where s.booked > 0 or exists (select 1 from bookings b where b.slot_id = s.id)`;

export async function truthFrom(query: <T extends Record<string, unknown>>(sql: string) => Promise<T[]>): Promise<Truth> {
  return { bookings: await query<BookingRow>(BOOKINGS_SQL), slots: await query<SlotRow>(SLOTS_SQL) };
}

/** The embedded database's folder, opened as the origin opens it (the stack must be stopped). */
export async function truthFromPglite(dir: string): Promise<Truth> {
  const db = new PGlite(dir);
  try {
    await db.waitReady;
    return await truthFrom(async <T extends Record<string, unknown>>(sql: string) => (await db.query<T>(sql)).rows);
  } finally {
    await db.close();
  }
}

export interface PlaceCheck {
  /** Citizens whose place the shards no longer hold as the ledger does (another seq, expired, unknown). */
  placesLost: number;
  /** Citizens whose join again got no 200 answer in time: their place could not be checked. */
  placesUnverified: number;
  examples: string[];
}

/** Every citizen holding a ticket joins again; the answer must name the same seq and ticket. */
export async function checkPlaces(crowd: Crowd, timeoutMs: number): Promise<PlaceCheck> {
  const holders = crowd.citizens.filter((c) => c.ticket !== undefined);
  const deadline = Date.now() + timeoutMs;
  let pending = holders;
  while (pending.length && Date.now() < deadline) {
    // In batches, so a slow machine answers each join well inside its timeout.
    const answered: boolean[] = [];
    for (let i = 0; i < pending.length; i += 32) answered.push(...(await Promise.all(pending.slice(i, i + 32).map((c) => crowd.join(c)))));
    pending = pending.filter((_, i) => !answered[i]);
    // A citizen over JOIN_LIMIT from retries during the fault waits out the limiter's window.
    if (pending.length) await sleep(2_000);
  }
  const lost = holders.filter((c) => c.placeChanges.length > 0 || c.expiredSeen > 0);
  return {
    placesLost: lost.length,
    placesUnverified: pending.length,
    examples: lost.slice(0, 5).map((c) => `citizen ${c.index}: ${[...c.placeChanges, ...(c.expiredSeen ? [`status said expired ${c.expiredSeen}x`] : [])].join("; ")}`),
  };
}

export interface BookingCheck {
  bookingsLost: number;
  duplicated: number;
  oversold: number;
  /** Seats whose counter (slots.booked) disagrees with the live bookings of the slot. */
  seatsMiscounted: number;
  /** Live bookings in the database, and how many of them the ledger knows of. */
  liveBookings: number;
  ledgerBookings: number;
  examples: string[];
}

export function checkBookings(crowd: Crowd, truth: Truth): BookingCheck {
  const byId = new Map(truth.bookings.map((b) => [b.id, b]));
  const examples: string[] = [];
  let bookingsLost = 0;
  let ledgerDuplicates = 0;
  let ledgerBookings = 0;
  for (const c of crowd.citizens) {
    // The suite never cancels, so every booking a 2xx answer named must still be live.
    for (const b of c.bookings.values()) {
      ledgerBookings++;
      const row = byId.get(b.id);
      if (!row || row.status !== "booked") {
        bookingsLost++;
        if (examples.length < 5) examples.push(`booking ${b.id} of citizen ${c.index}: ${row ? row.status : "absent"} in the database`);
      }
    }
    if (c.bookings.size > 1) {
      ledgerDuplicates += c.bookings.size - 1;
      if (examples.length < 5) examples.push(`citizen ${c.index} was answered ${c.bookings.size} different bookings`);
    }
  }
  const live = truth.bookings.filter((b) => b.status === "booked");
  const extra = (key: (b: BookingRow) => string) => {
    const n = new Map<string, number>();
    for (const b of live) n.set(key(b), (n.get(key(b)) ?? 0) + 1);
    return [...n.values()].reduce((sum, k) => sum + Math.max(0, k - 1), 0);
  };
  const dbDuplicates = Math.max(extra((b) => `${b.citizen_key}\u0000${b.cohort}`), extra((b) => b.pass_jti));
  if (dbDuplicates && examples.length < 5) examples.push(`${dbDuplicates} extra live bookings for one citizen or pass in the database`);
  let oversold = 0;
  let seatsMiscounted = 0;
  for (const s of truth.slots) {
    oversold += Math.max(0, Math.max(Number(s.live), Number(s.booked)) - Number(s.capacity));
    seatsMiscounted += Math.abs(Number(s.booked) - Number(s.live));
  }
  if (oversold && examples.length < 5) examples.push(`${oversold} seats beyond capacity`);
  return { bookingsLost, duplicated: ledgerDuplicates + dbDuplicates, oversold, seatsMiscounted, liveBookings: live.length, ledgerBookings, examples };
}
