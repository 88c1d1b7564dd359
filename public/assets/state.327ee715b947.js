// @ts-check
/**
 * The page's one state: everything it shows is drawn from `app` (view.js), and only the flow (flow.js)
 * and the wiring (app.js) change it.
 * @typedef {import("../src/contract/queue.js").QueueStatus} QueueStatus
 * @typedef {import("../src/contract/queue.js").CohortInfo} CohortInfo
 * @typedef {import("../src/contract/booking.js").Slot} Slot
 * @typedef {import("../src/contract/booking.js").SlotDate} SlotDate
 * @typedef {import("../src/contract/booking.js").Booking} Booking
 * @typedef {import("./strings.js").Lang} Lang
 * @typedef {import("./strings.js").Message} Message
 */
import { readLang } from "./storage.9d4eab63eab8.js";

/** Everything the page shows is drawn from this; switching language redraws it. */
export const app = {
  /** @type {Lang} */
  lang: readLang(),
  /** @type {"loading" | "signin" | "wait" | "book" | "done" | "expired" | "left"} */
  view: "loading",
  /** @type {QueueStatus | null} */
  status: null,
  /** @type {CohortInfo[]} */
  cohorts: [],
  /** @type {Message | null} shown on the sign-in view: when a cohort opens, a cancelled sign-in, why the ticket is gone */
  signinNote: null,
  /** @type {Message | null} shown on the sign-in view: why the last sign-in failed */
  signinError: null,
  /** @type {Message | null} shown while waiting: that this is a new place, the old one having lapsed */
  waitNote: null,
  /** @type {{ region: string, date: string, slots: Slot[] } | null} */
  slots: null,
  /** @type {{ region: string, dates: SlotDate[] } | null} the days the chosen region has free seats on */
  dates: null,
  /** @type {string | null} the day the date picker shows: the first with free seats, until the citizen picks one */
  slotDate: null,
  /** @type {Message | null} */
  bookError: null,
  /** @type {Booking | null} */
  booking: null,
  /** @type {Message | null} */
  doneNote: null,
  /** @type {Booking | null} the booking whose slot is being changed: the slot choice then moves it */
  changing: null,
  /** @type {Message | null} shown above the slot choice: that the booking was just cancelled */
  bookNote: null,
  /** @type {Message | null} why changing or cancelling did not go through */
  doneError: null,
  /** @type {Slot | null} the slot this tab picked, not booked because a booking made elsewhere was found */
  elsewhere: null,
  /** The page reaches the booking with booking access (signed in again after the pass expired), not a pass. */
  access: false,
  /** The citizen asked to cancel and is being asked to confirm. */
  confirmingCancel: false,
  /** @type {"near" | "admitted" | null} the turn is near or has come while the tab was hidden: the tab's title says so (notify.js) */
  turnAlert: null,
  /** The citizen asked to give up their place in the line and is being asked to confirm. */
  confirmingLeave: false,
  /** @type {Message | null} why giving up the place did not go through */
  leaveError: null,
  /** @type {Message | null} */
  live: null,
  lastAnnounced: 0,
  /** Failed polls in a row: from the first, the page says the connection is unstable and marks its numbers old. */
  failures: 0,
  /** When the last status answer arrived (ms, this device's clock): the time the numbers shown are from. */
  heardAt: 0,
  passLosses: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  pollTimer: undefined,
};
