import { z } from "zod";
import { booking } from "./booking.js";

/**
 * The one error shape every 4xx/5xx of the edge and the origin carries. `code` is stable and meant for
 * programs; `message` is for people and never holds a stack or an internal detail. A few codes carry one
 * extra field a client needs to act on (when a cohort opens, which booking the citizen already holds,
 * how long to wait before retrying).
 */
export const errorCodes = [
  "bad_json",
  "invalid_request",
  "payload_too_large",
  "unsupported_media_type",
  "not_found",
  "method_not_allowed",
  "headers_too_large",
  "request_timeout",
  "invalid_ticket",
  "invalid_token",
  "insufficient_scope",
  "invalid_identity",
  "operator_required",
  "rate_limited",
  "not_eligible",
  "cohort_not_open",
  "already_booked",
  "slot_full",
  "booking_not_found",
  "booking_cancelled",
  "unavailable",
  "line_busy",
  "ticket_admitted",
  "place_given_up",
  "push_unavailable",
  "internal",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/**
 * How long a client waits before retrying an `unavailable` answer (a busy shard, an origin or database
 * briefly down, an identity provider out of reach). One figure for all of them: a citizen's page retries
 * on it, and a shorter one anywhere would only bring the crowd back sooner to whatever is struggling.
 */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 3;

export const errorBody = z.object({
  error: z.object({
    code: z.enum(errorCodes),
    message: z.string(),
    opensAt: z.string().optional(),
    cohort: z.string().optional(),
    retryAfterSeconds: z.number().int().nonnegative().optional(),
    /**
     * With `already_booked`: the live booking the citizen holds, which this request did not make (another
     * tab's or device's): nothing was booked. With `booking_cancelled`: the cancelled booking.
     */
    booking: booking.optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBody>;
