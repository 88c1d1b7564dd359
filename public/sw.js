// @ts-check
/**
 * The page's service worker, served as /sw.js at the site's root (scripts/fingerprint-page.ts copies it
 * there under its own name: a browser finds a new version by fetching the same URL again, so it is never
 * content-hashed and public/_headers keeps it from long caches). It handles no fetch: the page loads as
 * it would without it. It shows what the edge pushes (the turn near, the turn come, the booking made),
 * tells the edge the push arrived, and brings the citizen to the page when they click a notification.
 *
 * A push's payload (JSON): `{ cohort, state: "near" | "admitted" | "booked", url, title, body, code? }`,
 * already in the citizen's language. Its tag is the state's, as the page's own notifications (notify.js)
 * use, so a later one replaces an earlier one of the same event rather than stacking beside it.
 */

const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

const STATES = ["near", "admitted", "booked"];
/** Shown for a push that cannot be read: a push must always show something, and its language is unknown. */
const FALLBACK = { title: "예약 대기실 · Waiting room", body: "대기실 화면을 열어 확인해 주세요. · Open the waiting room page to see where you stand." };

/** @typedef {{ state: string, url: string, title: string, body: string }} Message */

/**
 * The payload, with only what is to be shown taken from it; the link must stay on this site.
 * @param {PushMessageData | null} data
 * @returns {Message | null}
 */
function read(data) {
  try {
    const message = /** @type {unknown} */ (data?.json());
    if (!message || typeof message !== "object") return null;
    const { state, url, title, body } = /** @type {Record<string, unknown>} */ (message);
    if (typeof state !== "string" || !STATES.includes(state) || typeof title !== "string" || typeof body !== "string") return null;
    return { state, url: sameSite(url), title, body };
  } catch {
    return null;
  }
}

/** A link on this site, or the page itself. */
function sameSite(/** @type {unknown} */ url) {
  try {
    const target = new URL(typeof url === "string" ? url : "/", sw.location.origin);
    return target.origin === sw.location.origin ? target.href : `${sw.location.origin}/`;
  } catch {
    return `${sw.location.origin}/`;
  }
}

// A new version takes over at once: it holds no state worth waiting for.
sw.addEventListener("install", () => void sw.skipWaiting());
sw.addEventListener("activate", (event) => event.waitUntil(sw.clients.claim()));

sw.addEventListener("push", (event) => {
  const message = read(event.data);
  if (!message) {
    event.waitUntil(sw.registration.showNotification(FALLBACK.title, { body: FALLBACK.body, tag: "wr-update", data: { url: `${sw.location.origin}/` } }));
    return;
  }
  event.waitUntil(
    (async () => {
      await show(message);
      // Shown: the edge counts the claim window from now. The ticket's cookie says whose; a failure is not the citizen's to see.
      await fetch("/api/queue/push-received", {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ kind: message.state }),
      }).catch(() => undefined);
    })(),
  );
});

/** Shows the message; the turn having come takes away the notice that it was near. */
async function show(/** @type {Message} */ message) {
  if (message.state !== "near") for (const shown of await sw.registration.getNotifications({ tag: "wr-near" })) shown.close();
  await sw.registration.showNotification(message.title, { body: message.body, tag: `wr-${message.state}`, data: { url: message.url } });
}

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameSite(event.notification.data?.url);
  event.waitUntil(
    (async () => {
      // The page already open in a tab is brought forward rather than opened twice.
      const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === sw.location.origin && new URL(client.url).pathname === "/");
      if (open) return void (await open.focus());
      await sw.clients.openWindow(url);
    })(),
  );
});
