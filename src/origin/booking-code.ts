import { BOOKING_CODE_ALPHABET, BOOKING_CODE_LENGTH } from "../contract/booking.js";

// The largest multiple of the alphabet's size a byte can hold: bytes at or above it are drawn again, so
// every character is equally likely (a plain `byte % 30` would favour the first 16).
const FAIR_LIMIT = 256 - (256 % BOOKING_CODE_ALPHABET.length);

/** A new booking code: BOOKING_CODE_LENGTH characters drawn uniformly from BOOKING_CODE_ALPHABET. */
export function newBookingCode(): string {
  let code = "";
  while (code.length < BOOKING_CODE_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(BOOKING_CODE_LENGTH * 2))) {
      if (byte < FAIR_LIMIT && code.length < BOOKING_CODE_LENGTH) code += BOOKING_CODE_ALPHABET[byte % BOOKING_CODE_ALPHABET.length];
    }
  }
  return code;
}
