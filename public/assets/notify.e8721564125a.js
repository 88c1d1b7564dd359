// @ts-check
/**
 * Being told when the turn is near (about a minute) and when it has come, while the tab is in the
 * background. The tab's title says so always; with the citizen's permission, asked only when they press
 * "notify me" and never on load, a system notification says so too, in the page's language, once per event
 * per ticket. Pressing the button also registers the service worker (/sw.js: it shows the notifications
 * where a page may not, as on Android Chrome, and receives pushes) and, where the edge offers Web Push
 * (`GET /api/push/key`), subscribes and hands the subscription to the edge with the ticket, so the citizen
 * is told with the tab closed. Without push the page notifies from the tab and says to keep it open.
 * @typedef {import("../src/contract/queue.js").QueueStatus} QueueStatus
 * @typedef {import("./strings.js").Key} Key
 * @typedef {"near" | "admitted"} TurnEvent
 * @typedef {"off" | "working" | "on" | "blocked" | "unsupported"} NotifyMode
 */
import { api } from "./api.7cbecd5caee3.js";
import { t } from "./format.c624e3eadbc9.js";
import { app } from "./state.327ee715b947.js";
import { markNotified, readNotify, saveNotify, wasNotified } from "./storage.9d4eab63eab8.js";
import { $, render, setBusy } from "./view.05be0967f6c0.js";

/** "About a minute": the low end of the estimate at most this many seconds. */
const NEAR_SECONDS = 60;
/** The service worker, at the site's root so its scope is the whole page. */
const WORKER_URL = "/sw.js";
const KEY_PATH = "/api/push/key";
const SUBSCRIPTION_PATH = "/api/queue/push-subscription";
/**
 * How long the page waits for the service worker to start and for the browser's push service: a browser
 * with none reachable may never answer, and the page then notifies from the tab.
 */
const WAIT_MS = 10_000;

/** The notifications each event shows: the same tags as the pushes (sw.js), so one replaces the other. */
/** @type {Record<TurnEvent, { title: Key, body: Key, alert: Key }>} */
const EVENTS = {
  near: { title: "notifyNearTitle", body: "notifyNearBody", alert: "alertNear" },
  admitted: { title: "notifyTurnTitle", body: "notifyTurnBody", alert: "alertTurn" },
};
const tag = (/** @type {TurnEvent} */ event) => `wr-${event}`;

const supported = () => "Notification" in window;
const hidden = () => document.visibilityState === "hidden";
/** The ticket a status is about, as this device names it. */
const ticketOf = (/** @type {QueueStatus} */ s) => `${s.cohort}:${s.seq ?? "prequeue"}`;

/** @type {NotifyMode} */
let mode = "off";

/** What notifications can do here now, from the browser's permission and the choice kept on this device. */
function currentMode() {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  return Notification.permission === "granted" && readNotify() ? "on" : "off";
}

/** The button and the sentence beside it; `render` keeps both in the page's language through their `data-t`. */
function drawNotify() {
  const button = /** @type {HTMLButtonElement} */ ($("notify-btn"));
  const text = $("notify-text");
  const hadFocus = document.activeElement === button;
  button.hidden = mode === "blocked" || mode === "unsupported";
  button.dataset.t = mode === "on" ? "notifyOffBtn" : "notifyBtn";
  setBusy("notify-btn", mode === "working" ? "notifyWorking" : null);
  /** @type {Key} */
  const said =
    mode === "on" ? (readNotify()?.push ? "notifyOnPush" : "notifyOnTab") : mode === "blocked" ? "notifyBlocked" : mode === "unsupported" ? "notifyUnsupported" : "notifyOffer";
  text.dataset.t = said;
  text.textContent = t(said);
  // A button that goes away with the focus on it leaves the focus on what it says instead.
  if (hadFocus && button.hidden) text.focus();
}

/** The tab's title says the event (view.js draws it from `app.turnAlert`) until the tab is seen or the state moves on. */
function alertTitle(/** @type {TurnEvent | null} */ event) {
  if (app.turnAlert === event) return;
  app.turnAlert = event;
  render();
}

/**
 * Each status the page is given, with the one before it: when the tab is hidden and the turn is near or
 * has just come, the title says so and, if notifications are on, a notification does, once per ticket.
 * @param {QueueStatus | null} before
 * @param {QueueStatus} s
 */
export function watchTurn(before, s) {
  const ticket = ticketOf(s);
  const kept = readNotify();
  if (kept?.push && kept.ticket !== ticket) void sendSubscription(ticket);
  // Admitted is an event only when this page saw the wait end: reopening a page already admitted is not news.
  const justAdmitted = s.state === "admitted" && before !== null && before.state !== "admitted";
  const near = s.state === "waiting" && !s.placing && s.etaSeconds !== null && s.etaSeconds.low <= NEAR_SECONDS;
  /** @type {TurnEvent | null} */
  const event = justAdmitted ? "admitted" : near ? "near" : null;
  if (!event) {
    if (s.state !== "admitted") alertTitle(null);
    return;
  }
  if (!hidden()) return;
  alertTitle(event);
  if (mode === "on" && !wasNotified(ticket, event)) {
    void showTurn(event).then((shown) => shown && markNotified(ticket, event));
  }
}

/** Shows the event's notification: through the service worker when one is registered, else from the page. */
async function showTurn(/** @type {TurnEvent} */ event) {
  const { title, body } = EVENTS[event];
  /** @type {NotificationOptions} */
  const options = { body: t(body), tag: tag(event), lang: app.lang, data: { url: `${location.origin}/` } };
  try {
    if (Notification.permission !== "granted") return false;
    const registration = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration() : undefined;
    if (event === "admitted") await closeShown(registration, "near");
    if (registration?.active) {
      await registration.showNotification(t(title), options);
    } else {
      const shown = new Notification(t(title), options);
      shown.onclick = () => {
        window.focus();
        shown.close();
      };
      fromPage.push(shown);
    }
    return true;
  } catch {
    // A browser that shows notifications only through a service worker, and has none: the title says it.
    return false;
  }
}

/** Notifications the page showed itself (the service worker's are found by tag). */
/** @type {Notification[]} */
const fromPage = [];

/** Takes away the notifications of `event` (all, if none is named): the citizen is looking at the page. */
async function closeShown(/** @type {ServiceWorkerRegistration | undefined} */ registration, /** @type {TurnEvent | undefined} */ event) {
  const closing = fromPage.filter((shown) => !event || shown.tag === tag(event));
  for (const shown of closing) {
    shown.close();
    fromPage.splice(fromPage.indexOf(shown), 1);
  }
  const byWorker = registration ? await registration.getNotifications(event ? { tag: tag(event) } : {}) : [];
  for (const shown of byWorker) if (shown.tag.startsWith("wr-")) shown.close();
}

/**
 * `promise`'s value, or `undefined` once `ms` have passed.
 * @template T
 * @param {number} ms
 * @param {Promise<T>} promise
 * @returns {Promise<T | undefined>}
 */
function within(ms, promise) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

/** A base64url string as bytes (the applicationServerKey). */
function base64url(/** @type {string} */ text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "="));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The service worker, registered and started; undefined where there is none to be had. */
async function worker() {
  if (!("serviceWorker" in navigator)) return undefined;
  try {
    await navigator.serviceWorker.register(WORKER_URL, { scope: "/" });
    return await within(WAIT_MS, navigator.serviceWorker.ready);
  } catch {
    return undefined;
  }
}

/**
 * Subscribes to Web Push with the edge's key and hands the subscription to the edge with the ticket.
 * False, quietly, when the edge offers no push (404), the browser has no push service, or the edge
 * refuses it: the page then notifies from the tab.
 * @param {ServiceWorkerRegistration} registration
 */
async function subscribe(registration) {
  try {
    const key = await api(KEY_PATH);
    if (key.status !== 200 || typeof key.body?.publicKey !== "string") return false;
    const subscription = await within(WAIT_MS, registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64url(key.body.publicKey) }));
    if (!subscription) return false;
    if (await putSubscription(subscription)) return true;
    await subscription.unsubscribe();
  } catch {
    // No push service (a headless or offline browser) or a malformed key: notified from the tab.
  }
  return false;
}

/** `PUT /api/queue/push-subscription`: the edge keeps the subscription with the ticket (its cookie), in the page's language. */
async function putSubscription(/** @type {PushSubscription} */ subscription) {
  const answer = await api(SUBSCRIPTION_PATH, { method: "PUT", body: JSON.stringify({ subscription: subscription.toJSON(), lang: app.lang }) });
  return answer.status === 204;
}

/**
 * Hands the subscription this browser already has to the edge again: for a new ticket (the edge keeps
 * it with the ticket) or a new language. A refusal turns push off here; the tab still notifies.
 * @param {string} [ticket] the ticket it is now for, when that changed
 */
async function sendSubscription(ticket) {
  const kept = readNotify();
  if (!kept?.push) return;
  saveNotify({ push: true, ticket: ticket ?? kept.ticket });
  try {
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = await registration?.pushManager.getSubscription();
    if (subscription && (await putSubscription(subscription))) return;
  } catch {
    // Unreachable now: treated as refused.
  }
  saveNotify({ push: false, ticket: ticket ?? kept.ticket });
  drawNotify();
}

/** "Notify me": asks for permission (only here), starts the service worker and subscribes where push is offered. */
async function turnOn() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    mode = currentMode();
    return;
  }
  mode = "working";
  drawNotify();
  const registration = await worker();
  const push = registration ? await subscribe(registration) : false;
  saveNotify({ push, ticket: app.status ? ticketOf(app.status) : "" });
  mode = "on";
}

/** "Turn off": no more notifications from the tab, and the edge forgets the push subscription. */
async function turnOff() {
  const kept = readNotify();
  saveNotify(null);
  mode = currentMode();
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    const subscription = await registration?.pushManager.getSubscription();
    if (kept?.push) await api(SUBSCRIPTION_PATH, { method: "DELETE" });
    await subscription?.unsubscribe();
  } catch {
    // Unreachable edge: the subscription ends with the ticket anyway.
  }
}

/** Wires the button and the tab's visibility; draws the choice this device kept (asking the browser nothing). */
export function initNotify() {
  mode = currentMode();
  drawNotify();
  $("notify-btn").addEventListener("click", async () => {
    if (mode === "working") return;
    await (mode === "on" ? turnOff() : turnOn());
    drawNotify();
  });
  // Seen again: the title is the page's own, and the notifications have been read.
  document.addEventListener("visibilitychange", () => {
    if (hidden()) return;
    alertTitle(null);
    if (supported()) void navigator.serviceWorker?.getRegistration().then((registration) => closeShown(registration, undefined), () => undefined);
  });
  // Another language (app.js switched it before this listener runs): pushes come in it from now on.
  $("lang").addEventListener("click", () => void sendSubscription());
}
