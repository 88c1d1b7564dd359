// @ts-check
/**
 * The citizen's waiting page: sign in, watch the place fall, book once admitted, and while the pass
 * lives change the booking's slot or cancel it and book again.
 *
 * The page decides nothing about the citizen's place: it only shows what GET /api/queue/status says.
 * The ticket and the pass live in HttpOnly cookies the page cannot read, so resuming after a refresh,
 * a closed tab or a network error is simply asking for the status again.
 *
 * The page never sends an identity. Joining is a plain navigation to /auth/login: the edge sends the
 * citizen to the national identity provider, verifies what comes back, joins the line of the cohort the
 * verified birth date puts them in, sets the ticket cookie and returns them to `/`. A failed sign-in
 * returns to `/?signin=<reason>`; the page reads the reason once and takes it out of the address bar, so
 * the URL it keeps (and that a bookmark, a shared link or the history holds) carries nothing.
 *
 * The page is a handful of plain-JS ES modules, typed against the one contract (src/contract) through
 * JSDoc and served as written (scripts/fingerprint-page.ts only renames them by content): strings.js (every word, both languages), format.js (words, numbers, times, waits),
 * api.js (talking to the edge), storage.js (what this device keeps), state.js (the one state), flow.js
 * (what happens next), view.js (drawing), notify.js (being told the turn is near or has come) and this entry, which wires the buttons to the flow and starts it.
 */
import { book, cancelMine, changeSlot, changeToPicked, findDates, findSlots, leaveLine, poll, showBooking, start } from "./flow.js";
import { initNotify } from "./notify.js";
import { app } from "./state.js";
import { saveLang } from "./storage.js";
import { $, render } from "./view.js";

// ---------------------------------------------------------------------------------------------------
// Wiring

$("slot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  app.slots = null;
  void findSlots(/** @type {HTMLSelectElement} */ ($("region")).value, /** @type {HTMLSelectElement} */ ($("date")).value);
});

// Another region: the date picker moves to that region's first day with free seats.
$("region").addEventListener("change", () => {
  app.slots = null;
  void findDates(/** @type {HTMLSelectElement} */ ($("region")).value);
});

// A day the citizen picks stays picked across redraws.
$("date").addEventListener("change", () => {
  app.slotDate = /** @type {HTMLSelectElement} */ ($("date")).value;
});

$("book-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const picked = /** @type {HTMLInputElement | null} */ ($("book-form").querySelector("input[name=slot]:checked"));
  if (!picked) {
    app.bookError = { key: "errPickSlot" };
    return render();
  }
  void (app.changing ? changeSlot(Number(picked.value)) : book(Number(picked.value)));
});

$("change-btn").addEventListener("click", () => {
  if (!app.booking) return;
  app.changing = app.booking;
  app.bookError = null;
  app.view = "book";
  render("book-title");
  void findDates(/** @type {HTMLSelectElement} */ ($("region")).value);
});

$("keep-btn").addEventListener("click", () => app.booking && showBooking(app.booking, null));

$("elsewhere-keep").addEventListener("click", () => {
  app.elsewhere = null;
  if (app.booking) showBooking(app.booking, null);
});

$("elsewhere-change").addEventListener("click", () => changeToPicked());

$("cancel-btn").addEventListener("click", () => {
  app.confirmingCancel = true;
  app.doneError = null;
  render();
  $("cancel-no").focus();
});

$("cancel-no").addEventListener("click", () => {
  app.confirmingCancel = false;
  render();
  $("cancel-btn").focus();
});

$("cancel-yes").addEventListener("click", () => void cancelMine());

$("leave-btn").addEventListener("click", () => {
  app.confirmingLeave = true;
  app.leaveError = null;
  render();
  $("leave-no").focus();
});

$("leave-no").addEventListener("click", () => {
  app.confirmingLeave = false;
  render();
  $("leave-btn").focus();
});

$("leave-yes").addEventListener("click", () => void leaveLine());

$("lang").addEventListener("click", () => {
  app.lang = app.lang === "ko" ? "en" : "ko";
  saveLang(app.lang);
  render();
});

// Back online, back to the tab, or a page the browser froze or kept in its back-forward cache and now
// resumes: ask now rather than wait out a long interval or a backoff. Near the front the shard passes over
// a place whose holder it has not heard from lately, and asking at once is what tells it the holder is back.
const waiting = () => app.view === "wait" || app.failures > 0;
window.addEventListener("online", () => waiting() && void poll());
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && waiting() && void poll());
document.addEventListener("resume", () => waiting() && void poll());
window.addEventListener("pageshow", (event) => event.persisted && waiting() && void poll());

// After the language button's own listener, so a push subscription is handed over in the new language.
initNotify();
void start();
