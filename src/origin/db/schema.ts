import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { regionCodes } from "../../contract/regions.js";

/**
 * The single source of the origin's tables. Column names are camelCase here and snake_case in SQL
 * (`casing: "snake_case"` in drizzle.config.ts and in every `drizzle(...)` call).
 *
 * The never-oversell and one-booking-per-citizen invariants are enforced by the constraints below, not
 * by application code: whatever the concurrency, Postgres refuses the row that would break them.
 */

const regionList = sql.raw(regionCodes.map((code) => `'${code}'`).join(", "));

export const clinics = pgTable(
  "clinics",
  {
    id: integer().primaryKey().generatedAlwaysAsIdentity(),
    name: text().notNull(),
    /** Administrative code of one of Korea's 17 regions (src/contract/regions.ts). */
    region: text().notNull(),
    address: text().notNull(),
  },
  (t) => [check("clinics_region_known", sql`${t.region} in (${regionList})`), index("clinics_region_idx").on(t.region)],
);

export const slots = pgTable(
  "slots",
  {
    id: integer().primaryKey().generatedAlwaysAsIdentity(),
    clinicId: integer()
      .notNull()
      .references(() => clinics.id),
    startsAt: timestamp({ withTimezone: true, mode: "date" }).notNull(),
    capacity: integer().notNull(),
    /** Seats taken; moved only by a conditional UPDATE in the same transaction as the booking row. */
    booked: integer().notNull().default(0),
  },
  (t) => [
    check("slots_booked_within_capacity", sql`${t.booked} >= 0 and ${t.booked} <= ${t.capacity}`),
    uniqueIndex("slots_clinic_starts_at_idx").on(t.clinicId, t.startsAt),
    index("slots_starts_at_idx").on(t.startsAt),
  ],
);

export const bookingStatuses = ["booked", "cancelled"] as const;

export const bookings = pgTable(
  "bookings",
  {
    id: uuid().primaryKey().defaultRandom(),
    /**
     * The short code a citizen reads out (BOOKING_CODE_ALPHABET of src/contract/booking.ts), drawn at
     * random by the origin when it books; unique over all bookings, cancelled ones included, so a code
     * once given never names another booking.
     */
    code: text().notNull(),
    /** The pass's `sub`: an HMAC of the identity made at the edge, never the identity itself. */
    citizenKey: text().notNull(),
    cohort: text().notNull(),
    slotId: integer()
      .notNull()
      .references(() => slots.id),
    /** The `jti` of the pass that made the booking: a replay of that pass finds its live booking by it. */
    passJti: text().notNull(),
    status: text({ enum: bookingStatuses }).notNull().default("booked"),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    check("bookings_status_known", sql`${t.status} in ('booked', 'cancelled')`),
    // Partial: a cancelled booking no longer blocks the citizen from booking again in the cohort.
    uniqueIndex("bookings_one_live_per_citizen_idx")
      .on(t.citizenKey, t.cohort)
      .where(sql`${t.status} = 'booked'`),
    // A pass holds at most one live booking, so a replayed request names that booking instead of making
    // a second; partial, so after a cancel the same live pass may book again.
    uniqueIndex("bookings_one_live_per_pass_idx")
      .on(t.passJti)
      .where(sql`${t.status} = 'booked'`),
    index("bookings_slot_idx").on(t.slotId),
    uniqueIndex("bookings_code_idx").on(t.code),
  ],
);
