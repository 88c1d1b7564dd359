// @ts-check
/**
 * What the page keeps on this device (localStorage), and nothing about the citizen's place itself: that
 * lives at the edge. Every read and write survives a browser that refuses storage (private mode).
 * @typedef {import("../src/contract/queue.js").QueueStatus} QueueStatus
 * @typedef {import("../src/contract/booking.js").Booking} Booking
 * @typedef {import("./strings.js").Lang} Lang
 */

const LANG_KEY = "wr:lang";
/** Only a line's label and a number: the ahead-count seen at joining, for the progress bar. */
const START_KEY = "wr:start:";
/** The booking made with a ticket, kept on this device only, so it can still be shown once the pass has expired. */
const BOOKING_KEY = "wr:booking:";

/** @returns {Lang} */
export function readLang() {
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "ko";
  } catch {
    return "ko";
  }
}

/** @param {Lang} lang */
export function saveLang(lang) {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // The choice then lasts for this page only.
  }
}

/**
 * @param {QueueStatus | null} s the status of the ticket the booking was made with
 * @param {Booking} booking
 */
export function keepBooking(s, booking) {
  if (!s) return;
  try {
    localStorage.setItem(`${BOOKING_KEY}${s.cohort}:${s.seq}`, JSON.stringify(booking));
  } catch {
    // Private mode: nothing is kept, and an expired pass then shows the lapse text.
  }
}

/** The booking is no longer the citizen's (cancelled): an expired pass must not show it as kept. */
export function forgetBooking(/** @type {QueueStatus | null} */ s) {
  if (!s) return;
  try {
    localStorage.removeItem(`${BOOKING_KEY}${s.cohort}:${s.seq}`);
  } catch {
    // Nothing was kept.
  }
}

/**
 * The booking kept on this device, whichever ticket made it, now as `booking` says (moved), or forgotten
 * once cancelled: what booking access did, with no ticket's status at hand.
 * @param {Booking} booking
 */
export function rewriteKeptBooking(booking) {
  try {
    for (const key of Object.keys(localStorage)) {
      if (!key.startsWith(BOOKING_KEY)) continue;
      const kept = JSON.parse(localStorage.getItem(key) ?? "null");
      if (kept?.id !== booking.id) continue;
      if (booking.status === "booked") localStorage.setItem(key, JSON.stringify(booking));
      else localStorage.removeItem(key);
    }
  } catch {
    // Nothing was kept.
  }
}

/** @param {QueueStatus} s @returns {Booking | null} */
export function keptBooking(s) {
  try {
    const text = localStorage.getItem(`${BOOKING_KEY}${s.cohort}:${s.seq}`);
    if (!text) return null;
    const booking = /** @type {Booking} */ (JSON.parse(text));
    return booking && typeof booking.id === "string" && booking.status === "booked" ? booking : null;
  } catch {
    return null;
  }
}

/** The ahead-count at joining, kept so the progress bar runs from there to the front across reloads. */
export function rememberStart(/** @type {QueueStatus} */ s) {
  const key = `${START_KEY}${s.cohort}:${s.seq}`;
  try {
    const stored = Number(localStorage.getItem(key));
    if (!(stored >= s.ahead)) {
      forgetStart();
      localStorage.setItem(key, String(s.ahead));
    }
  } catch {
    // Private mode: the bar then starts from the first count this page saw.
  }
}

export function startAhead(/** @type {QueueStatus} */ s) {
  try {
    const stored = Number(localStorage.getItem(`${START_KEY}${s.cohort}:${s.seq}`));
    if (stored >= s.ahead) return stored;
  } catch {
    // fall through
  }
  return s.ahead;
}

/**
 * Whether this device remembers a place in a line: a browser given its ticket before the edge set the
 * readable hint beside it (an earlier version) still holds one, and must be asked about it.
 */
export function rememberedPlace() {
  try {
    return Object.keys(localStorage).some((key) => key.startsWith(START_KEY));
  } catch {
    return false;
  }
}

export function forgetStart() {
  try {
    for (const key of Object.keys(localStorage)) if (key.startsWith(START_KEY)) localStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}

/** Notifications turned on on this device: `{ push }`, whether the edge holds a push subscription for `ticket`. */
const NOTIFY_KEY = "wr:notify";
/** The turn events a ticket's citizen was notified of, so each is notified once: `wr:notified:<cohort>:<seq>`. */
const NOTIFIED_KEY = "wr:notified:";

/** @typedef {{ push: boolean, ticket: string }} NotifyChoice */

/** @returns {NotifyChoice | null} null: notifications are off on this device */
export function readNotify() {
  try {
    const kept = JSON.parse(localStorage.getItem(NOTIFY_KEY) ?? "null");
    return kept && typeof kept === "object" ? { push: kept.push === true, ticket: typeof kept.ticket === "string" ? kept.ticket : "" } : null;
  } catch {
    return null;
  }
}

/** @param {NotifyChoice | null} choice */
export function saveNotify(choice) {
  try {
    if (choice) localStorage.setItem(NOTIFY_KEY, JSON.stringify(choice));
    else localStorage.removeItem(NOTIFY_KEY);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

/** Whether the citizen holding `ticket` was already notified of `event`. */
export function wasNotified(/** @type {string} */ ticket, /** @type {string} */ event) {
  try {
    return (localStorage.getItem(`${NOTIFIED_KEY}${ticket}`) ?? "").split(",").includes(event);
  } catch {
    return false;
  }
}

/** Keeps that `ticket`'s citizen was notified of `event`; another ticket's record goes (one place at a time). */
export function markNotified(/** @type {string} */ ticket, /** @type {string} */ event) {
  try {
    const key = `${NOTIFIED_KEY}${ticket}`;
    for (const other of Object.keys(localStorage)) if (other.startsWith(NOTIFIED_KEY) && other !== key) localStorage.removeItem(other);
    const events = (localStorage.getItem(key) ?? "").split(",").filter(Boolean);
    if (!events.includes(event)) localStorage.setItem(key, [...events, event].join(","));
  } catch {
    // Private mode: a reload may notify again.
  }
}
