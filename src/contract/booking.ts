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

/** `POST /api/bookings`: the citizen and cohort come from the pass, never from the body. */
export const bookingRequest = z.object({ slotId: z.number().int().positive() }).strict();
export type BookingRequest = z.infer<typeof bookingRequest>;

/** `PATCH /api/bookings/{id}`: the slot to move the citizen's live booking to. */
export const bookingChange = z.object({ slotId: z.number().int().positive() }).strict();
export type BookingChange = z.infer<typeof bookingChange>;

export const booking = z.object({
  id: z.string(),
  cohort: z.string(),
  status: z.enum(["booked", "cancelled"]),
  createdAt: z.string(),
  slot,
});
export type Booking = z.infer<typeof booking>;
export const bookingResponse = z.object({ booking });
