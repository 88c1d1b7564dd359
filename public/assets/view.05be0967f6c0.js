// @ts-check
/**
 * Drawing: the DOM is redrawn from `app` (state.js) by `render`, which decides nothing and calls nobody
 * back; what the citizen does reaches the flow through the wiring in app.js.
 * @typedef {import("../src/contract/queue.js").QueueStatus} QueueStatus
 * @typedef {import("../src/contract/booking.js").Slot} Slot
 * @typedef {import("../src/contract/booking.js").Booking} Booking
 * @typedef {import("./strings.js").Key} Key
 * @typedef {import("./strings.js").Message} Message
 */
import { bookingCalendar } from "./calendar.6d3e3e07d58b.js";
import { clock, clockSeconds, day, formatEta, number, seoulDays, slotTime, t, tm, when } from "./format.c624e3eadbc9.js";
import { app } from "./state.327ee715b947.js";
import { startAhead } from "./storage.9d4eab63eab8.js";
import { REGIONS } from "./strings.ccc2ef22e196.js";

/** Slots are seeded a week ahead; the page offers the same days. */
const BOOKING_DAYS = 7;
/** Where the sign-in starts; `lang` only chooses the language of the provider's pages. */
const LOGIN_PATH = "/auth/login";

export const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {Message | null} m */
export function showNotice(m) {
  const el = $("notice");
  el.hidden = !m;
  el.textContent = tm(m);
  el.dataset.key = m ? m.key : "";
}

/**
 * A button at work: disabled, marked busy, and saying what it is doing; `null` gives it back its label.
 * @param {string} id
 * @param {Key | null} busyKey
 */
export function setBusy(id, busyKey) {
  const button = /** @type {HTMLButtonElement} */ ($(id));
  button.disabled = busyKey !== null;
  button.setAttribute("aria-busy", String(busyKey !== null));
  button.textContent = busyKey ? t(busyKey) : t(/** @type {Key} */ (button.dataset.t));
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {Array<Node | string>} children
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const cohortLabel = (/** @type {string} */ id) => app.cohorts.find((c) => c.id === id)?.label[app.lang] ?? id;
const regionName = (/** @type {string} */ code) => REGIONS.find((r) => r.code === code)?.[app.lang] ?? code;

/**
 * A message's parameters that need the current language (cohorts, times, regions, dates).
 * @param {Message | null} m
 * @returns {Message | null}
 */
function localized(m) {
  if (!m?.params) return m;
  const p = { ...m.params };
  if (m.key === "notOpen" || m.key === "placeGivenUp") {
    // The returned URL names only the cohort; its label and opening time are what /api/cohorts says.
    const cohort = app.cohorts.find((c) => c.id === p.cohort);
    if (!cohort) return { key: m.key === "notOpen" ? "notOpenNoLabel" : "placeGivenUpNoLabel" };
    p.opensAt = cohort.opensAt;
  }
  if (p.cohort !== undefined) p.label = cohortLabel(String(p.cohort));
  if (p.until) p.time = clock(String(p.until));
  if (p.opensAt !== undefined) p.when = when(String(p.opensAt));
  if (m.key === "slotsFound" || m.key === "noSlots" || m.key === "noDates") p.region = regionName(String(p.region));
  if (m.key === "slotsFound" || m.key === "noSlots") p.date = day(String(p.date));
  if (typeof p.n === "number") p.n = number(p.n);
  if (typeof p.etaLow === "number" && typeof p.etaHigh === "number") p.eta = formatEta({ low: p.etaLow, high: p.etaHigh });
  return { key: m.key, params: p };
}

/**
 * @param {HTMLElement} el
 * @param {Message | null} m
 */
function message(el, m) {
  el.hidden = !m;
  el.textContent = tm(localized(m));
}

/** The page's heading names the screen: the waiting room until the citizen's turn, then the booking. */
function titleKey() {
  if (app.view === "book") return app.changing ? "titleChange" : "titleBook";
  if (app.view === "done") return "titleDone";
  return "title";
}

/** Redraws everything from `app`; `focus` names a heading to move focus to after a change of view. */
export function render(/** @type {string} */ focus = "") {
  const root = document.documentElement;
  root.lang = app.lang;
  const title = titleKey();
  $("page-title").dataset.t = title;
  const docTitle = title === "title" ? t("docTitle") : `${t(title)} · ${t("brand")}`;
  document.title = app.turnAlert ? t(app.turnAlert === "near" ? "alertNear" : "alertTurn", { title: docTitle }) : docTitle;
  for (const el of document.querySelectorAll("[data-t]")) {
    if (el.getAttribute("aria-busy") !== "true") el.textContent = t(/** @type {Key} */ (/** @type {HTMLElement} */ (el).dataset.t));
  }
  const langButton = $("lang");
  langButton.textContent = t("otherLang");
  langButton.lang = app.lang === "ko" ? "en" : "ko";

  for (const name of ["loading", "signin", "wait", "book", "done", "expired", "left"]) $(`view-${name}`).hidden = app.view !== name;
  const live = $("live");
  const liveText = tm(localized(app.live));
  if (live.textContent !== liveText) live.textContent = liveText;
  if ($("notice").dataset.key) showNotice({ key: /** @type {Key} */ ($("notice").dataset.key) });

  drawSignin();
  if (app.status && app.view === "wait") drawWait(app.status);
  if (app.view === "book") drawBook();
  if (app.view === "done" && app.booking) drawDone(app.booking);
  if (focus) $(focus).focus();
}

function drawSignin() {
  message($("signin-note"), app.signinNote);
  message($("signin-error"), app.signinError);
  // The provider's pages follow the language chosen here; the page itself keeps the choice in storage.
  for (const id of ["signin", "rejoin", "rejoin-left"]) $(id).setAttribute("href", `${LOGIN_PATH}?lang=${app.lang}`);
  const list = $("schedule");
  list.replaceChildren(
    ...app.cohorts.map((c) => h("li", {}, t(c.open ? "scheduleOpen" : "scheduleLater", { label: c.label[app.lang], from: c.birthYears[0], to: c.birthYears[1], when: when(c.opensAt) }))),
  );
  /** @type {HTMLElement} */ (list.parentElement).hidden = app.cohorts.length === 0;
}

function drawWait(/** @type {QueueStatus} */ s) {
  const paused = s.state === "paused";
  $("wait-title").textContent = t(paused ? "pausedTitle" : "waitTitle");
  $("paused-text").hidden = !paused;
  // Why the line moves more slowly, when it does: the booking system, the operators, or a full cohort.
  const slowed = s.originBusy ? "originBusy" : s.slowedBy === "operators" ? "slowedOperators" : s.slowedBy === "capacity" ? "slowedCapacity" : null;
  $("busy-text").hidden = paused || slowed === null;
  if (slowed) {
    $("busy-text").dataset.t = slowed;
    $("busy-text").textContent = t(slowed);
  }
  message($("wait-note"), app.waitNote);
  // One figure for the place: the count ahead. The ticket's number in its shard counts nothing cohort-wide.
  $("wait-queue").textContent = s.state === "prequeue" ? t("prequeue", { time: clock(s.opensAt ?? "") }) : t("queueOf", { label: cohortLabel(s.cohort) });
  // Polls failing: the last numbers stay, marked as of when they were heard.
  const stale = app.failures > 0 && app.heardAt > 0;
  message($("stale-text"), stale ? { key: "staleText", params: { time: clockSeconds(app.heardAt) } } : null);
  for (const id of ["ahead-figure", "eta-figure"]) $(id).classList.toggle("stale", stale);
  // In the pre-queue nobody has a place yet: no count ahead, progress or estimate to show.
  for (const el of $("view-wait").querySelectorAll(".figure, progress, label[for=progress], #progress-text")) {
    /** @type {HTMLElement} */ (el).hidden = s.state === "prequeue";
  }
  // Joined a second ago: the shards have not placed the citizen among them yet, so no number is shown.
  $("ahead").textContent = s.placing ? "…" : number(s.ahead);
  $("ahead-unit").textContent = t(s.placing ? "placing" : s.ahead === 1 ? "person" : "people");
  const start = startAhead(s);
  const progress = /** @type {HTMLProgressElement} */ ($("progress"));
  progress.max = Math.max(1, start);
  progress.value = start === 0 ? 1 : start - s.ahead;
  $("progress-text").textContent = start > 0 && !s.placing ? t("progressText", { start: number(start), done: number(start - s.ahead) }) : "";
  $("eta").textContent = s.placing ? t("etaPlacing") : paused || !s.etaSeconds ? t("etaPaused") : formatEta(s.etaSeconds);
  // Giving the place up: asked once more before it is done, since it cannot be undone.
  $("leave-btn").hidden = app.confirmingLeave;
  $("leave-confirm").hidden = !app.confirmingLeave;
  message($("leave-error"), app.leaveError);
}

function drawBook() {
  const s = app.status;
  const changing = app.changing;
  $("book-title").textContent = t(changing ? "changeTitle" : "bookTitle");
  const submit = $("book-btn");
  submit.dataset.t = changing ? "changeSubmit" : "bookBtn";
  if (submit.getAttribute("aria-busy") !== "true") submit.textContent = t(/** @type {Key} */ (submit.dataset.t));
  $("keep-btn").hidden = !changing;
  const intro = $("change-intro");
  intro.hidden = !changing;
  intro.textContent = changing ? t("changeIntro", { clinic: changing.slot.clinic.name, when: slotTime(changing.slot.startsAt) }) : "";
  message($("book-note"), changing ? null : app.bookNote);
  $("pass-until").textContent = s?.passExpiresAt ? t("passUntil", { time: clock(s.passExpiresAt) }) : "";
  fillSelect(/** @type {HTMLSelectElement} */ ($("region")), REGIONS.map((r) => [r.code, r[app.lang]]));
  drawDates();
  const found = app.slots;
  $("slots-msg").textContent = found
    ? tm(localized(found.slots.some((x) => x.remaining > 0) ? { key: "slotsFound", params: { region: found.region, date: found.date, n: found.slots.filter((x) => x.remaining > 0).length } } : { key: "noSlots", params: { region: found.region, date: found.date } }))
    : app.dates?.dates.length === 0
      ? tm(localized({ key: "noDates", params: { region: app.dates.region } }))
      : "";
  const form = $("book-form");
  form.hidden = !found || found.slots.length === 0;
  message($("book-error"), app.bookError);
  if (!found) return;
  const checked = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=slot]:checked"))?.value;
  /** @type {Map<number, Slot[]>} */
  const byClinic = new Map();
  for (const slot of found.slots) byClinic.set(slot.clinic.id, [...(byClinic.get(slot.clinic.id) ?? []), slot]);
  $("slot-list").replaceChildren(
    ...[...byClinic.values()].map((slots) => {
      const clinic = /** @type {Slot} */ (slots[0]).clinic;
      return h(
        "fieldset",
        { class: "clinic" },
        h("legend", {}, h("strong", {}, clinic.name), h("span", { class: "muted" }, clinic.address)),
        h(
          "div",
          { class: "times" },
          ...slots.map((slot) => {
            const input = /** @type {HTMLInputElement} */ (h("input", { type: "radio", name: "slot", value: String(slot.id) }));
            // The slot the booking already has is shown, but is no choice when changing.
            const current = slot.id === changing?.slot.id;
            input.disabled = slot.remaining === 0 || current;
            input.checked = String(slot.id) === checked && !input.disabled;
            const seats = current ? t("current") : slot.remaining === 0 ? t("full") : t("seatsLeft", { n: number(slot.remaining) });
            return h("label", { class: current ? "time current" : "time" }, input, h("span", {}, clock(slot.startsAt), h("small", {}, seats)));
          }),
        ),
      );
    }),
  );
}

/**
 * The date picker: the coming days, and any later day the region has free seats on; a day known to have
 * none says so. It shows `app.slotDate` (the first day with free seats, once the origin has said which)
 * until the citizen picks another.
 */
function drawDates() {
  const free = app.dates && app.dates.region === /** @type {HTMLSelectElement} */ ($("region")).value ? app.dates.dates.map((d) => d.date) : null;
  const days = [...new Set([...seoulDays(BOOKING_DAYS), ...(free ?? [])])].sort();
  const select = /** @type {HTMLSelectElement} */ ($("date"));
  fillSelect(select, days.map((d) => [d, free && !free.includes(d) ? t("dayFull", { day: day(d) }) : day(d)]));
  if (app.slotDate && days.includes(app.slotDate)) select.value = app.slotDate;
}

/**
 * Replaces a select's options, keeping the choice.
 * @param {HTMLSelectElement} select
 * @param {Array<[string, string]>} options
 */
function fillSelect(select, options) {
  const value = select.value;
  select.replaceChildren(...options.map(([v, label]) => h("option", { value: v }, label)));
  if (options.some(([v]) => v === value)) select.value = value;
}

/** The object URL of the calendar file now linked, released when the next one replaces it. */
let calendarUrl = "";

/** A slot as a sentence names it: clinic, day and time. */
const slotLabel = (/** @type {Slot} */ slot) => `${slot.clinic.name}, ${slotTime(slot.startsAt)}`;

function drawDone(/** @type {Booking} */ b) {
  // A booking found made elsewhere says so in its heading and note, never "confirmed" as if made here.
  const elsewhere = app.doneNote?.key === "bookedElsewhere";
  $("done-title").textContent = t(elsewhere ? "elsewhereTitle" : "doneTitle");
  const picked = elsewhere ? app.elsewhere : null;
  message($("done-note"), elsewhere ? null : app.doneNote);
  const choice = $("elsewhere");
  choice.hidden = !elsewhere;
  $("elsewhere-text").textContent = elsewhere
    ? picked
      ? t("bookedElsewhere", { held: slotLabel(b.slot), picked: slotLabel(picked) })
      : t("bookedElsewhereSame", { held: slotLabel(b.slot) })
    : "";
  $("elsewhere-change").hidden = !picked;
  $("elsewhere-change").textContent = picked ? t("elsewhereChange", { picked: slotLabel(picked) }) : "";
  // A booking kept on this device before bookings had codes has none to show; its id still names it.
  $("booking-code-row").hidden = !b.code;
  $("booking-code").textContent = b.code ?? "";
  $("booking-id").textContent = b.id;
  drawCalendarLink(b);
  $("done-clinic").textContent = b.slot.clinic.name;
  $("done-address").textContent = b.slot.clinic.address;
  $("done-time").textContent = slotTime(b.slot.startsAt);
  // A booking shown from this device after the pass expired is changed or cancelled with booking access:
  // the page offers to sign in again for it (no place in the line is taken).
  const live = (passLive() || app.access) && b.status === "booked";
  $("done-actions").hidden = !live || app.confirmingCancel || elsewhere;
  $("cancel-confirm").hidden = !live || !app.confirmingCancel;
  $("access-offer").hidden = live || b.status !== "booked";
  $("access-signin").setAttribute("href", `/auth/booking-access?lang=${app.lang}`);
  message($("done-error"), app.doneError);
}

/** "Add to calendar": the booking as an .ics file made here, in the reader's language, offered as a download. */
function drawCalendarLink(/** @type {Booking} */ b) {
  const link = /** @type {HTMLAnchorElement} */ ($("add-calendar"));
  // Made again only when what the file says changes (not its DTSTAMP), so a link being clicked stays put.
  const key = `${app.lang}|${b.id}|${b.slot.id}|${b.status}`;
  if (link.dataset.key === key) return;
  const text = bookingCalendar(b, {
    summary: t("calendarSummary"),
    description: t("calendarDescription", { code: b.code ?? "-", id: b.id }),
    host: location.hostname,
    now: Date.now(),
  });
  if (calendarUrl) URL.revokeObjectURL(calendarUrl);
  calendarUrl = URL.createObjectURL(new Blob([text], { type: "text/calendar;charset=utf-8" }));
  link.href = calendarUrl;
  link.download = `vaccination-${b.code ?? b.id}.ics`;
  link.dataset.key = key;
  link.hidden = b.status !== "booked";
}

/** Whether the pass can still act at the origin: only then are changing and cancelling offered. */
function passLive() {
  const s = app.status;
  return s?.state === "admitted" && (!s.passExpiresAt || Date.parse(s.passExpiresAt) > Date.now());
}
