import { and, asc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Slot, SlotDate, SlotDatesQuery, SlotsQuery } from "../contract/booking.js";
import type { Database } from "./db/database.js";
import { clinics, slots } from "./db/schema.js";

/** Slot ids are Postgres `integer`s; a larger id cannot exist, and sending it would be a SQL error. */
export const MAX_SLOT_ID = 2_147_483_647;
/** A page of slots is bounded so that no query string can ask for the whole table. */
export const MAX_SLOTS_LISTED = 1000;

// Korea has kept UTC+9 all year since 1988, so a Seoul day is a fixed 24-hour window.
const SEOUL_OFFSET = "+09:00";
const DAY_MS = 24 * 60 * 60 * 1000;

/** The instant a calendar day (YYYY-MM-DD) begins in Asia/Seoul. */
export function seoulDayStart(date: string): Date {
  return new Date(`${date}T00:00:00${SEOUL_OFFSET}`);
}

/** Today's date (YYYY-MM-DD) in Asia/Seoul. */
export function seoulToday(now: Date): string {
  return new Date(now.getTime() + 9 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

/** The columns a slot is shown with, shared by the slot list and every booking answer. */
export const slotColumns = {
  slotId: slots.id,
  startsAt: slots.startsAt,
  capacity: slots.capacity,
  booked: slots.booked,
  clinicId: clinics.id,
  clinicName: clinics.name,
  region: clinics.region,
  address: clinics.address,
};

export interface SlotRow {
  slotId: number;
  startsAt: Date;
  capacity: number;
  booked: number;
  clinicId: number;
  clinicName: string;
  region: string;
  address: string;
}

export function toSlot(row: SlotRow): Slot {
  return {
    id: row.slotId,
    clinic: { id: row.clinicId, name: row.clinicName, region: row.region, address: row.address },
    startsAt: row.startsAt.toISOString(),
    capacity: row.capacity,
    remaining: row.capacity - row.booked,
  };
}

/**
 * Slots in a region and/or on a Seoul day, earliest first, full ones included (with 0 remaining) so a
 * page can show them. Without a date, only slots that have not started yet.
 */
export async function listSlots(db: Database, query: SlotsQuery, now: Date): Promise<Slot[]> {
  const where: SQL[] = [];
  if (query.region) where.push(eq(clinics.region, query.region));
  if (query.date) {
    const start = seoulDayStart(query.date);
    where.push(gte(slots.startsAt, start), lt(slots.startsAt, new Date(start.getTime() + DAY_MS)));
  } else {
    where.push(gte(slots.startsAt, now));
  }
  const rows = await db
    .select(slotColumns)
    .from(slots)
    .innerJoin(clinics, eq(slots.clinicId, clinics.id))
    .where(and(...where))
    .orderBy(asc(slots.startsAt), asc(clinics.id))
    .limit(MAX_SLOTS_LISTED);
  return rows.map(toSlot);
}

/** A region's dates are bounded too: about two months of days, far more than are ever seeded ahead. */
export const MAX_DATES_LISTED = 62;

/**
 * The Seoul days on which a region has a free seat in a slot that has not started yet, earliest first,
 * with the seats free that day: what a page needs to start its date picker on a day worth searching.
 */
export async function listSlotDates(db: Database, query: SlotDatesQuery, now: Date): Promise<SlotDate[]> {
  // Korea keeps UTC+9 all year (see SEOUL_OFFSET), so the Seoul day is the UTC day of the shifted instant.
  const day = sql<string>`to_char(${slots.startsAt} at time zone 'UTC' + interval '9 hours', 'YYYY-MM-DD')`;
  const rows = await db
    .select({ date: day, remaining: sql<number>`sum(${slots.capacity} - ${slots.booked})::int` })
    .from(slots)
    .innerJoin(clinics, eq(slots.clinicId, clinics.id))
    .where(and(eq(clinics.region, query.region), gte(slots.startsAt, now), lt(slots.booked, slots.capacity)))
    .groupBy(day)
    .orderBy(asc(day))
    .limit(MAX_DATES_LISTED);
  return rows.map((row) => ({ date: row.date, remaining: Number(row.remaining) }));
}

/** Whether a slot exists; slots are never deleted, so the answer cannot go stale. */
export async function slotExists(db: Database, slotId: number): Promise<boolean> {
  if (slotId > MAX_SLOT_ID) return false;
  const rows = await db.select({ id: slots.id }).from(slots).where(eq(slots.id, slotId)).limit(1);
  return rows.length > 0;
}
