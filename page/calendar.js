// @ts-check
/**
 * "Add to calendar": the booked slot as an iCalendar file (RFC 5545), made here on the device from the
 * booking the page already holds, so no request and no server is needed for it. Data in, text out: no
 * DOM, no state, so the tests can read exactly what a calendar app reads.
 * @typedef {import("../src/contract/booking.js").Booking} Booking
 */

/** A vaccination takes a few minutes, and the wait after it about fifteen: the event holds half an hour. */
export const VISIT_MINUTES = 30;
/** RFC 5545 3.1: lines are folded to at most this many octets, not counting the CRLF. */
const MAX_LINE_OCTETS = 75;

/** A UTC instant as iCalendar's form-2 DATE-TIME (`20210726T003000Z`): no time-zone component is needed. */
const utc = (/** @type {number} */ ms) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

/** RFC 5545 3.3.11: a TEXT value with its backslashes, semicolons, commas and line breaks escaped. */
export const escapeText = (/** @type {string} */ text) => text.replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,").replace(/\r?\n/g, "\\n");

/**
 * RFC 5545 3.1: a content line folded into lines of at most 75 octets of UTF-8, each continuation starting
 * with a space, and never splitting a character (Korean takes 3 octets a character).
 */
export function fold(/** @type {string} */ line) {
  const encoder = new TextEncoder();
  const out = [];
  let current = "";
  let octets = 0;
  for (const char of line) {
    const size = encoder.encode(char).length;
    // A continuation line's leading space counts against its 75.
    const limit = out.length === 0 ? MAX_LINE_OCTETS : MAX_LINE_OCTETS - 1;
    if (octets + size > limit) {
      out.push(current);
      current = "";
      octets = 0;
    }
    current += char;
    octets += size;
  }
  out.push(current);
  return out.join("\r\n ");
}

/**
 * The booking as an .ics file's text: one event, from the slot's start for VISIT_MINUTES, at the clinic,
 * with the booking code in its description. Its UID is the booking's id, so a calendar that imports the
 * file again after a change of slot updates the event rather than adding a second.
 * @param {Booking} booking
 * @param {{ summary: string, description: string, host: string, now: number }} words in the reader's language
 */
export function bookingCalendar(booking, words) {
  const start = Date.parse(booking.slot.startsAt);
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//waiting-room//booking//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    "BEGIN:VEVENT",
    `UID:${booking.id}@${words.host}`,
    `DTSTAMP:${utc(words.now)}`,
    `DTSTART:${utc(start)}`,
    `DTEND:${utc(start + VISIT_MINUTES * 60_000)}`,
    `SUMMARY:${escapeText(words.summary)}`,
    `LOCATION:${escapeText(`${booking.slot.clinic.name}, ${booking.slot.clinic.address}`)}`,
    `DESCRIPTION:${escapeText(words.description)}`,
    "STATUS:CONFIRMED",
    "TRANSP:OPAQUE",
    "END:VEVENT",
    "END:VCALENDAR",
  ];
  return `${lines.map(fold).join("\r\n")}\r\n`;
}
