// @ts-check
/**
 * The flow: asks the edge where the ticket stands, follows it through waiting, admission, booking,
 * changing and cancelling, and tells the view what to show. It decides nothing about the citizen's place;
 * it only shows what GET /api/queue/status says.
 * @typedef {import("../src/contract/queue.js").QueueStatus} QueueStatus
 * @typedef {import("../src/contract/booking.js").Slot} Slot
 * @typedef {import("../src/contract/booking.js").Booking} Booking
 * @typedef {import("./strings.js").Key} Key
 * @typedef {import("./strings.js").Message} Message
 * @typedef {"cancelled" | "invalid_identity" | "not_eligible" | "cohort_not_open" | "place_given_up" | "rate_limited" | "unavailable"} SigninFailure
 */
import { api } from "./api.js";
import { clock, t } from "./format.js";
import { watchTurn } from "./notify.js";
import { app } from "./state.js";
import { forgetBooking, forgetStart, keepBooking, keptBooking, rememberedPlace, rememberStart, rewriteKeptBooking } from "./storage.js";
import { $, render, setBusy, showNotice } from "./view.js";

/** Backoff for failed polls: 2 s doubling to 30 s, with jitter so a recovering edge is not hit at once. */
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 30_000;
/**
 * A status answer that has not come in this long counts as a failed poll: an edge that accepts the
 * connection and never answers would otherwise keep the old numbers on screen without a word.
 */
const POLL_TIMEOUT_MS = 8_000;
/** From this many failed polls in a row the connection is called lost, not just unstable. */
const LOST_AFTER_FAILURES = 2;
/** Screen readers hear the place at most this often while it falls, and always on a change of state. */
const ANNOUNCE_EVERY_MS = 20_000;
/** How long booking access lasts (src/contract/booking-access.ts), as the page tells it. */
const ACCESS_MINUTES = 10;
/** Cohort ids in a returned URL: checked against /api/cohorts before anything is shown for them. */
const COHORT_ID = /^[A-Za-z0-9_-]{1,32}$/;
/**
 * The cookie the edge sets beside the ticket, for as long (TICKET_HINT_COOKIE in src/edge/tokens/ticket.ts):
 * the ticket itself is HttpOnly, so this is how the page knows it may hold one.
 */
const TICKET_HINT = "wr_ticket_held";

/**
 * Whether this browser may hold a ticket that has not run out: only then is there a status to ask for.
 * The hint cookie says so, or a place this device remembers from a status it was given.
 */
function ticketHeld() {
  return document.cookie.split(";").some((c) => c.trim().startsWith(`${TICKET_HINT}=`)) || rememberedPlace();
}

async function loadCohorts() {
  try {
    const { body } = await api("/api/cohorts");
    if (body && Array.isArray(body.cohorts)) app.cohorts = body.cohorts;
  } catch {
    // Only labels and the schedule come from here; the page works without them.
  }
  render();
}

function stopPolling() {
  clearTimeout(app.pollTimer);
  app.pollTimer = undefined;
}

/** @param {number} ms */
function pollIn(ms) {
  stopPolling();
  app.pollTimer = setTimeout(poll, Math.max(RETRY_MIN_MS, ms));
}

/** Asks where the ticket stands. On a failure the place is not in doubt: it lives at the edge. */
export async function poll() {
  stopPolling();
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(), POLL_TIMEOUT_MS);
  try {
    answer = await api("/api/queue/status", { signal: abort.signal });
  } catch {
    return retryLater();
  } finally {
    clearTimeout(timeout);
  }
  if (answer.status === 401) {
    // No ticket (not signed in on this browser) or one that has run out: the sign-in view, and never
    // anything about a place. A word only if a place was being shown a moment ago. The hint goes too, so
    // the next visit does not ask again for a ticket the edge has refused.
    document.cookie = `${TICKET_HINT}=; Max-Age=0; Path=/; Secure; SameSite=Lax`;
    forgetStart();
    const hadPlace = app.view !== "loading" || app.status !== null;
    if (hadPlace) {
      app.status = null;
      app.signinError = null;
      app.signinNote = { key: "ticketLost" };
      announce(app.signinNote);
    }
    return showSignin(hadPlace);
  }
  if (!answer.body || answer.error) return retryLater(answer.error?.retryAfterSeconds);
  app.failures = 0;
  app.heardAt = Date.now();
  showNotice(null);
  applyStatus(answer.body);
}

/** @param {number} [retryAfterSeconds] */
function retryLater(retryAfterSeconds) {
  app.failures += 1;
  // Said at the first failure; the numbers on screen are redrawn as the last ones heard.
  showNotice({ key: app.failures >= LOST_AFTER_FAILURES ? "lost" : "unstable" });
  if (app.view === "wait") render();
  const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (app.failures - 1)) * (0.75 + Math.random() * 0.5);
  pollIn(Math.max(backoff, (retryAfterSeconds ?? 0) * 1000));
}

/** @param {QueueStatus} s */
function applyStatus(s) {
  // Paused, resumed, or slowed (and why): said at once, like a change of view.
  const lineChanged = s.state !== app.status?.state || Boolean(s.originBusy) !== Boolean(app.status?.originBusy) || s.slowedBy !== app.status?.slowedBy;
  watchTurn(app.status, s);
  app.status = s;
  if (s.state === "waiting" || s.state === "paused" || s.state === "prequeue") {
    const before = app.view;
    // The bar starts from the first count that is a place, not from one still being found.
    if (!s.placing) rememberStart(s);
    // Passed over while away and back in time: the place is kept, and the page says why it is "next".
    if (s.cameBack) app.waitNote = { key: "cameBack" };
    else if (app.waitNote?.key === "cameBack") app.waitNote = null;
    app.view = "wait";
    announceWait(s, before !== "wait" || lineChanged);
    render(before !== "wait" ? "wait-title" : undefined);
    pollIn(s.nextPollMs);
  } else if (s.state === "admitted") {
    if (app.view !== "book" && app.view !== "done") void admitted();
  } else if (s.state === "left") {
    // Given up on another tab or device: nothing to wait for here either.
    showLeft();
  } else {
    // A citizen who booked and comes back after the pass expired still has the booking: show it, not a lapse.
    const kept = keptBooking(s);
    if (kept) return showBooking(kept, { key: "bookingKept" });
    app.view = "expired";
    forgetStart();
    announce({ key: "liveExpired" });
    render("expired-title");
  }
}

/**
 * @param {QueueStatus} s
 * @param {boolean} changed the state changed, so it is said at once
 */
function announceWait(s, changed) {
  const now = Date.now();
  const soon = s.ahead <= 10;
  if (!changed && !soon && now - app.lastAnnounced < ANNOUNCE_EVERY_MS) return;
  if (s.state === "paused") announce({ key: "livePaused" });
  else if (s.placing) announce({ key: "livePlacing" });
  else if (s.originBusy && s.ahead > 0) announce({ key: "liveBusy", params: { n: s.ahead } });
  else if (s.slowedBy && s.ahead > 0) announce({ key: "liveSlowed", params: { n: s.ahead } });
  else if (s.state === "prequeue") announce({ key: "prequeue", params: { time: clock(s.opensAt ?? "") } });
  else if (s.cameBack) announce({ key: "cameBack" });
  else if (s.ahead === 0) announce({ key: "liveFront" });
  else if (s.etaSeconds) announce({ key: "liveWaiting", params: { n: s.ahead, etaLow: s.etaSeconds.low, etaHigh: s.etaSeconds.high } });
  else announce({ key: "liveAhead", params: { n: s.ahead } });
}

/** @param {Message} m */
function announce(m) {
  app.live = m;
  app.lastAnnounced = Date.now();
}

/** The citizen's live booking, as the booking API says (status 0: no answer). */
async function myBooking() {
  try {
    return await api("/api/bookings/me");
  } catch {
    return { status: 0, body: null, error: null };
  }
}

/** The citizen's turn: a booking already made is shown as such, otherwise the slot choice. */
async function admitted() {
  stopPolling();
  forgetStart();
  app.view = "book";
  app.changing = null;
  const mine = await myBooking();
  if (mine.status === 200 && mine.body?.booking?.status === "booked") return showBooking(mine.body.booking, null);
  if (mine.status === 401) return passLost();
  announce({ key: "liveAdmitted" });
  render("book-title");
  void findDates(/** @type {HTMLSelectElement} */ ($("region")).value);
}

/**
 * The pass cookie is missing or has run out: the status answer says which, and re-sets a live one.
 * Backs off like a failed poll, so a browser that refuses the cookie does not spin.
 */
function passLost() {
  app.view = "loading";
  app.passLosses += 1;
  showNotice({ key: "errPassLost" });
  render();
  pollIn(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (app.passLosses - 1)));
}

/**
 * Asks which days `region` has free seats on, so the date picker starts on the first of them rather than
 * on a day with nothing to book. A failure leaves the picker as it is: the citizen can still choose a day.
 */
export async function findDates(/** @type {string} */ region) {
  app.dates = null;
  app.slotDate = null;
  render();
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/slots/dates?region=${encodeURIComponent(region)}`);
  } catch {
    return;
  }
  if (answer.status === 401) return passLost();
  // A region changed again meanwhile: its own answer is the one to show.
  if (answer.status !== 200 || !Array.isArray(answer.body?.dates) || app.view !== "book" || /** @type {HTMLSelectElement} */ ($("region")).value !== region) return;
  app.dates = { region, dates: answer.body.dates };
  // A day the citizen chose while the answer was on its way stays chosen.
  if (app.slotDate === null) app.slotDate = app.dates.dates[0]?.date ?? null;
  render();
}

export async function findSlots(/** @type {string} */ region, /** @type {string} */ date) {
  app.bookError = null;
  $("slots-msg").textContent = t("loadingSlots");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/slots?region=${encodeURIComponent(region)}&date=${encodeURIComponent(date)}`);
  } catch {
    app.bookError = { key: "errBookNetwork" };
    return render();
  }
  if (answer.status === 401) return credentialLost();
  if (answer.error) {
    app.bookError = { key: "errUnavailable", params: { s: answer.error.retryAfterSeconds ?? 3 } };
    return render();
  }
  const now = Date.now();
  app.slots = { region, date, slots: answer.body.slots.filter((/** @type {Slot} */ s) => Date.parse(s.startsAt) > now) };
  // #slots-msg is itself a polite live region, so the count is heard where it is shown.
  render();
}

export async function book(/** @type {number} */ slotId) {
  app.bookError = null;
  app.elsewhere = null;
  setBusy("book-btn", "booking");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api("/api/bookings", { method: "POST", body: JSON.stringify({ slotId }) });
  } catch {
    app.bookError = { key: "errBookNetwork" };
    return render();
  } finally {
    setBusy("book-btn", null);
  }
  if (answer.status === 200 || answer.status === 201) return showBooking(answer.body.booking, null);
  const error = answer.error;
  // A booking this request did not make (another tab's or device's): shown as such, with what was not booked.
  if (error?.code === "already_booked" && error.booking) return bookedElsewhere(error.booking, slotId);
  if (answer.status === 401) return passLost();
  if (error?.code === "slot_full" || answer.status === 404) {
    app.bookError = { key: error?.code === "slot_full" ? "errSlotFull" : "errSlotGone" };
    if (app.slots) return findSlots(app.slots.region, app.slots.date);
    return render();
  }
  app.bookError = { key: "errUnavailable", params: { s: error?.retryAfterSeconds ?? 3 } };
  render();
}

/**
 * Moves the citizen's live booking to `slotId` (PATCH): in one step at the origin, so on any failure the
 * booking stays where it was, and asking again after a lost answer cannot move it twice.
 */
export async function changeSlot(/** @type {number} */ slotId) {
  const booking = app.changing;
  if (!booking) return;
  app.bookError = null;
  app.elsewhere = null;
  setBusy("book-btn", "changing");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/bookings/${encodeURIComponent(booking.id)}`, { method: "PATCH", body: JSON.stringify({ slotId }) });
  } catch {
    app.bookError = { key: "errActionNetwork" };
    return render();
  } finally {
    setBusy("book-btn", null);
  }
  if (answer.status === 200) return showBooking(answer.body.booking, { key: "changed" }, "liveChanged");
  if (answer.status === 401) return credentialLost();
  const code = answer.error?.code;
  // Booking access during a surge: the change waits for room in the line, as a booking does.
  if (code === "line_busy") {
    app.bookError = { key: "errLineBusy", params: { s: answer.error?.retryAfterSeconds ?? 10 } };
    return render();
  }
  // Cancelled meanwhile (on another device, say): there is nothing to move, and the citizen may book afresh
  // (with booking access, only through the line).
  if (code === "booking_cancelled" || code === "booking_not_found") {
    return app.access ? accessCancelled({ ...booking, status: "cancelled" }) : bookingGone({ key: "errBookingGone" });
  }
  if (code === "slot_full" || code === "not_found") {
    app.bookError = { key: code === "slot_full" ? "errSlotFull" : "errSlotGone" };
    if (app.slots) return findSlots(app.slots.region, app.slots.date);
    return render();
  }
  app.bookError = { key: "errUnavailable", params: { s: answer.error?.retryAfterSeconds ?? 3 } };
  render();
}

/** Cancels the citizen's booking (DELETE); the same pass may then book again while it lives. */
export async function cancelMine() {
  const booking = app.booking;
  if (!booking) return;
  app.doneError = null;
  setBusy("cancel-yes", "cancelling");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/bookings/${encodeURIComponent(booking.id)}`, { method: "DELETE" });
  } catch {
    app.doneError = { key: "errActionNetwork" };
    return render();
  } finally {
    setBusy("cancel-yes", null);
  }
  if (answer.status === 200) {
    if (app.access) return accessCancelled(answer.body.booking);
    return bookingGone({ key: "cancelled", params: { until: app.status?.passExpiresAt ?? "" } });
  }
  if (answer.status === 401) return credentialLost();
  app.doneError = { key: "errUnavailable", params: { s: answer.error?.retryAfterSeconds ?? 3 } };
  render();
}

/**
 * Gives the place up for good (DELETE /api/queue/ticket), once the citizen has confirmed: the edge clears
 * the ticket, and the page says what follows. A turn that came meanwhile (the pass was issued) is no place
 * to give up: the page says so and shows the turn.
 */
export async function leaveLine() {
  app.leaveError = null;
  setBusy("leave-yes", "leaving");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api("/api/queue/ticket", { method: "DELETE" });
  } catch {
    app.leaveError = { key: "errActionNetwork" };
    return render();
  } finally {
    setBusy("leave-yes", null);
  }
  if (answer.status === 200) return showLeft();
  app.confirmingLeave = false;
  if (answer.error?.code === "ticket_admitted") {
    app.leaveError = { key: "errLeaveAdmitted" };
    return poll();
  }
  // No ticket any more (it ran out, or was given up elsewhere): the status says where things stand.
  if (answer.status === 401) return poll();
  app.leaveError = { key: "errUnavailable", params: { s: answer.error?.retryAfterSeconds ?? 3 } };
  render();
}

/** The place is given up: no more polling, nothing remembered of it, and the way back in (at the back) offered. */
function showLeft() {
  stopPolling();
  forgetStart();
  document.cookie = `${TICKET_HINT}=; Max-Age=0; Path=/; Secure; SameSite=Lax`;
  app.confirmingLeave = false;
  app.leaveError = null;
  app.waitNote = null;
  app.view = "left";
  announce({ key: "liveLeft" });
  render("left-title");
}

/** The booking is cancelled: back to the slot choice, to book again with the same pass. */
function bookingGone(/** @type {Message} */ note) {
  forgetBooking(app.status);
  app.booking = null;
  app.changing = null;
  app.confirmingCancel = false;
  app.slots = null;
  app.bookError = null;
  app.bookNote = note;
  app.view = "book";
  announce({ key: "liveCancelled" });
  render("book-title");
  void findDates(/** @type {HTMLSelectElement} */ ($("region")).value);
}

/**
 * @param {Booking} booking
 * @param {Message | null} note
 * @param {Key} [said] what the live region says
 */
export function showBooking(booking, note, said = "liveBooked") {
  app.booking = booking;
  keepBooking(app.status, booking);
  if (app.access) rewriteKeptBooking(booking);
  app.doneNote = note;
  app.changing = null;
  app.bookNote = null;
  app.doneError = null;
  app.confirmingCancel = false;
  app.view = "done";
  // Said a character at a time, so a screen reader spells the code out rather than reading it as a word.
  announce({ key: said, params: { code: [...(booking.code ?? "")].join(" ") } });
  render("done-title");
}

/**
 * The citizen already holds a booking this tab did not make (booked in another tab or on another device):
 * it is shown as made elsewhere, with the slot picked here as not booked, and the choice to keep it or
 * move it to that slot (the change flow).
 * @param {unknown} held the booking the answer names
 * @param {number} slotId the slot picked here
 */
function bookedElsewhere(held, slotId) {
  const booking = /** @type {Booking} */ (held);
  const picked = app.slots?.slots.find((x) => x.id === slotId) ?? null;
  showBooking(booking, { key: "bookedElsewhere" });
  app.elsewhere = picked && picked.id !== booking.slot.id ? picked : null;
  render("done-title");
}

/** The elsewhere choice: move the booking to the slot picked here, through the change flow. */
export function changeToPicked() {
  const picked = app.elsewhere;
  if (!picked || !app.booking) return;
  app.changing = app.booking;
  app.elsewhere = null;
  app.doneNote = null;
  app.view = "book";
  render("book-title");
  void changeSlot(picked.id);
}

/** A refused pass or booking access: a pass is looked for again; booking access has ended, the booking stays shown. */
function credentialLost() {
  if (!app.access) return passLost();
  app.access = false;
  const booking = app.booking;
  if (!booking) return showSignin();
  showBooking(booking, { key: "accessEnded" });
}

/**
 * Back from signing in again for booking access (`?signin=booking_access`): the booking is read with it,
 * and shown with Change and Cancel; a citizen with no booking is told so and shown the way into the line.
 */
async function accessBooking() {
  app.access = true;
  const mine = await myBooking();
  if (mine.status === 200 && mine.body?.booking?.status === "booked") {
    return showBooking(mine.body.booking, { key: "accessGranted", params: { min: ACCESS_MINUTES } });
  }
  app.access = false;
  if (mine.status === 404) app.signinNote = { key: "accessNoBooking" };
  else app.signinError = { key: mine.status === 429 ? "signinRateLimited" : mine.status === 401 ? "signinFailed" : "signinUnavailable" };
  announce(/** @type {Message} */ (app.signinNote ?? app.signinError));
  showSignin();
}

/** Cancelled with booking access: nothing is left to reach, and booking again is through the line. */
function accessCancelled(/** @type {Booking} */ cancelled) {
  rewriteKeptBooking(cancelled);
  app.access = false;
  app.booking = null;
  app.confirmingCancel = false;
  app.signinNote = { key: "accessCancelled" };
  app.signinError = null;
  announce({ key: "liveCancelled" });
  showSignin();
}

/** @param {boolean} [focus] move focus to the view's heading (not on a plain first load: nothing has changed yet) */
function showSignin(focus = true) {
  stopPolling();
  app.view = "signin";
  render(focus ? "signin-title" : "");
}

/**
 * What the edge said on the way back from the provider, read once: `/?signin=<reason>[&cohort=<id>]`.
 * The values are matched against known words and cohorts, never shown as given.
 * @returns {{ reason: SigninFailure | "rejoined" | "booking_access" | "other", cohort: string | null } | null}
 */
function takeSigninResult() {
  const query = new URLSearchParams(location.search);
  const reason = query.get("signin");
  if (location.search || location.hash) {
    // Whatever came with the return (today only the reason; never a code, a token or an identity, but
    // the page does not rely on that) leaves the address bar, the history entry and any bookmark.
    history.replaceState(null, "", location.pathname);
  }
  if (reason === null) return null;
  const cohort = query.get("cohort");
  const known = ["cancelled", "invalid_identity", "not_eligible", "cohort_not_open", "place_given_up", "rate_limited", "unavailable", "rejoined", "booking_access"];
  return {
    reason: known.includes(reason) ? /** @type {SigninFailure | "rejoined" | "booking_access"} */ (reason) : "other",
    cohort: cohort && COHORT_ID.test(cohort) ? cohort : null,
  };
}

/** @type {Record<SigninFailure | "other", { note?: Key, error?: Key }>} */
const SIGNIN_MESSAGES = {
  cancelled: { note: "signinCancelled" },
  invalid_identity: { error: "signinInvalid" },
  not_eligible: { error: "signinNotEligible" },
  cohort_not_open: { note: "notOpen" },
  place_given_up: { note: "placeGivenUp" },
  rate_limited: { error: "signinRateLimited" },
  unavailable: { error: "signinUnavailable" },
  other: { error: "signinFailed" },
};

export async function start() {
  const returned = takeSigninResult();
  render();
  const cohorts = loadCohorts();
  // Signed in again to change or cancel: no place in the line to look for, only the booking.
  if (returned?.reason === "booking_access") return accessBooking();
  if (returned?.reason === "rejoined") {
    // A sign-in that found the earlier place lapsed: the status shows the new place, this says why it is at the back.
    app.waitNote = { key: "rejoined" };
  } else if (returned) {
    const { note, error } = SIGNIN_MESSAGES[returned.reason];
    if (note) app.signinNote = { key: note, params: returned.cohort ? { cohort: returned.cohort } : {} };
    if (error) app.signinError = { key: error };
    // The cohort's label and opening time come from /api/cohorts: wait for it, so the message is said once and whole.
    if (returned.cohort) await cohorts;
  }
  // Without a ticket there is no status to ask for (the edge would answer 401): the sign-in view at once.
  if (ticketHeld()) await poll();
  else showSignin(false);
  // Said once the view is known: a citizen who already holds a place (signed in on another tab) sees it, not the failure.
  const said = app.view === "signin" ? app.signinError ?? app.signinNote : app.view === "wait" ? app.waitNote : null;
  if (returned && said) {
    announce(said);
    render(app.view === "signin" ? "signin-title" : "");
  }
}
