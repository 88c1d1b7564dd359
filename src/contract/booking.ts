import { z } from "zod";
import { calendarDate } from "./dates.js";
import { regionCodes } from "./regions.js";

/** `GET /api/slots?region=&date=`: `date` is a day in Korea (Asia/Seoul). */
export const slotsQuery = z.object({
  region: z.enum(regionCodes).optional(),
  date: calendarDate.optional(),
});
export type SlotsQuery = z.infer<typeof slotsQuery>;

export const clinic = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  region: z.enum(regionCodes),
  address: z.string(),
});

export const slot = z.object({
  id: z.number().int().positive(),
  clinic,
  startsAt: z.string(),
  capacity: z.number().int().nonnegative(),
  remaining: z.number().int().nonnegative(),
});
export type Slot = z.infer<typeof slot>;
export const slotsResponse = z.object({ slots: z.array(slot) });

/** `GET /api/slots/dates?region=`: the days (in Korea) a region still has free seats on. */
export const slotDatesQuery = z.object({ region: z.enum(regionCodes) });
export type SlotDatesQuery = z.infer<typeof slotDatesQuery>;

/** A day in Korea with at least one seat free in a slot that has not started, and how many seats. */
export const slotDate = z.object({ date: calendarDate, remaining: z.number().int().positive() });
export type SlotDate = z.infer<typeof slotDate>;
/** Earliest first, from today in Korea; an empty list says no slot in the region has a seat left. */
export const slotDatesResponse = z.object({ dates: z.array(slotDate) });

/** `POST /api/bookings`: the citizen and cohort come from the pass, never from the body. */
export const bookingRequest = z.object({ slotId: z.number().int().positive() }).strict();
export type BookingRequest = z.infer<typeof bookingRequest>;

/** `PATCH /api/bookings/{id}`: the slot to move the citizen's live booking to. */
export const bookingChange = z.object({ slotId: z.number().int().positive() }).strict();
export type BookingChange = z.infer<typeof bookingChange>;

/**
 * A booking code is what a person reads out or types: Crockford's base32 without 0 and 1, so no two
 * characters look or sound alike (no 0/O, 1/I/L; U is not in Crockford's set either). Eight characters
 * give 30^8 (about 6.6e11) codes, so a random one rarely meets a taken one, and the origin draws again
 * when it does (a unique index decides).
 */
export const BOOKING_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
export const BOOKING_CODE_LENGTH = 8;
export const bookingCode = z.string().regex(new RegExp(`^[${BOOKING_CODE_ALPHABET}]{${BOOKING_CODE_LENGTH}}$`));

export const booking = z.object({
  id: z.string(),
  /** The short code shown to the citizen; `id` stays the reference for the API. */
  code: bookingCode,
  cohort: z.string(),
  status: z.enum(["booked", "cancelled"]),
  createdAt: z.string(),
  slot,
});
export type Booking = z.infer<typeof booking>;
export const bookingResponse = z.object({ booking });
