import type { NoticeKind, PushLang } from "../../contract/push.js";
import type { Shard } from "./line.js";
import type { PushRow } from "./schema.js";

/**
 * A shard's side of Web Push (docs/notifications.md). A ticket may carry one subscription; the shard
 * decides when its citizen gets a notice, records it in the same transaction as the event that made it
 * due, and leaves it in the store's outbox for the object to put on the queue after the commit, so a tick
 * run again, a retried call or a restart never puts the same notice on the queue twice. The consumer
 * (src/edge/push/consumer.ts) asks here for the subscription when it sends, and says how it went.
 */

/** Whether the ticket `seq` is still `ticketId`'s: a wrong or stale reference changes nothing. */
function ticketIs(shard: Shard, seq: number, ticketId: string): boolean {
  return shard.store.ticket(seq)?.ticket_id === ticketId;
}

/**
 * After a tick, inside its transaction: the notices the line made due. `near` when a subscribed ticket is
 * within about a minute of the shard's admissions from the front (its place minus serving at most the
 * shard's rate per minute), `admitted` when it holds an unclaimed admission. Costs nothing while no ticket
 * has a subscription, and only looks when the line moved or the window changed.
 */
export function noticesAfterTick(shard: Shard, ratePerMinute: number, now: number): void {
  const { store, config } = shard;
  if (store.memory.pushSubscribers === 0) return;
  const minute = Math.floor(now / 60_000);
  if (store.memory.pushSweptMinute !== minute) {
    store.dropEndedPushSubscriptions(store.counters.serving, now, config.returnWindowSeconds * 1000);
    store.memory.pushSweptMinute = minute;
  }
  if (store.pushSubscribers() === 0) return;
  const { serving, admitted_total: admittedTotal } = store.counters;
  const window = Math.max(1, Math.ceil(ratePerMinute));
  const looked = store.memory.noticesLooked;
  if (looked && looked.serving === serving && looked.admittedTotal === admittedTotal && looked.window === window) return;
  for (const row of store.admittedNoticesDue(serving, now)) queue(shard, row.seq, row.ticket_id, "admitted", now);
  for (const row of store.nearNoticesDue(serving, serving + window)) queue(shard, row.seq, row.ticket_id, "near", now);
  store.memory.noticesLooked = { serving, admittedTotal, window };
}

function queue(shard: Shard, seq: number, ticketId: string, kind: NoticeKind, now: number, code: string | null = null): void {
  shard.store.markNoticeQueued(seq, kind, now, code);
  shard.store.outbox.push({ seq, ticketId, kind });
}

/** The page's subscription for its ticket; false when the ticket is not this shard's or has ended. */
export function subscribe(shard: Shard, seq: number, ticketId: string, target: { endpoint: string; p256dh: string; auth: string }, lang: PushLang): boolean {
  const row = shard.store.ticket(seq);
  if (!row || row.ticket_id !== ticketId || row.completed_at !== null || row.left_at !== null) return false;
  shard.store.savePushSubscription(seq, ticketId, target, lang);
  return true;
}

/** The page no longer wants notices for its ticket. */
export function unsubscribe(shard: Shard, seq: number, ticketId: string): void {
  if (ticketIs(shard, seq, ticketId)) shard.store.dropPushSubscription(seq);
}

/**
 * Until when (ms) an unclaimed admission made at `admittedAt` is held once its notice is out at `at` (the
 * push service took it, or the device showed it): the claim window counted from `at`, never past the
 * return window from the admission, so a notice stuck on its way cannot hold capacity for long. The store
 * only ever lengthens a hold, so an admission is never held less than its own claim window.
 */
export function noticeHoldUntil(at: number, admittedAt: number, claimWindowSeconds: number, returnWindowSeconds: number): number {
  return Math.min(at + claimWindowSeconds * 1000, admittedAt + returnWindowSeconds * 1000);
}

function holdFromNotice(shard: Shard, seq: number, at: number, now: number): void {
  const row = shard.store.ticket(seq);
  if (!row || row.admitted_at === null) return;
  const until = noticeHoldUntil(at, row.admitted_at, shard.config.claimWindowSeconds, shard.config.returnWindowSeconds);
  shard.store.holdAdmissionUntil(seq, until, now);
}

/** The service worker showed the notice: the true delivery. An admission's claim window counts from here. */
export function noticeReceived(shard: Shard, seq: number, ticketId: string, kind: NoticeKind, now: number): void {
  const row = shard.store.pushSubscription(seq);
  if (kind === "booked" || !row || row.ticket_id !== ticketId) return;
  // The first report counts: reporting again cannot stretch the hold.
  if (row[`${kind}_received_at`] !== null) return;
  shard.store.markNotice(seq, kind, "received", now);
  if (kind === "admitted") holdFromNotice(shard, seq, now, now);
}

/** What the consumer needs to send a notice: the subscription, its language, and the code of a booking. */
export interface NoticeTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
  lang: PushLang;
  code: string | null;
}

/**
 * The subscription to send `kind` to, or null when there is nothing to send: no subscription (any more),
 * another ticket in the place, or the push service already took this notice (a message delivered twice).
 */
export function noticeTarget(shard: Shard, seq: number, ticketId: string, kind: NoticeKind): NoticeTarget | null {
  const row: PushRow | undefined = shard.store.pushSubscription(seq);
  if (!row || row.ticket_id !== ticketId) return null;
  if (kind === "booked" ? row.booked_queued_at === null : row[`${kind}_accepted_at`] !== null) return null;
  return { endpoint: row.endpoint, p256dh: row.p256dh, auth: row.auth, lang: row.lang === "en" ? "en" : "ko", code: row.booked_code };
}

/**
 * The push service took the notice. An admission is then held for at least the claim window from now;
 * after the booked notice the subscription has nothing more to carry and goes.
 */
export function noticeAccepted(shard: Shard, seq: number, ticketId: string, kind: NoticeKind, now: number): void {
  const row = shard.store.pushSubscription(seq);
  if (!row || row.ticket_id !== ticketId) return;
  if (kind === "booked") return shard.store.dropPushSubscription(seq);
  if (row[`${kind}_accepted_at`] !== null) return;
  shard.store.markNotice(seq, kind, "accepted", now);
  if (kind === "admitted") holdFromNotice(shard, seq, now, now);
}

/** The push service no longer knows the subscription (404/410): it goes. */
export function subscriptionGone(shard: Shard, seq: number, ticketId: string): void {
  const row = shard.store.pushSubscription(seq);
  if (row && row.ticket_id === ticketId) shard.store.dropPushSubscription(seq);
}

/** The booking went through: a subscribed ticket gets its booked notice, with the booking's code when known. */
export function noticeBooked(shard: Shard, seq: number, ticketId: string, code: string | null, now: number): void {
  const row = shard.store.pushSubscription(seq);
  if (!row || row.ticket_id !== ticketId || row.booked_queued_at !== null) return;
  queue(shard, seq, ticketId, "booked", now, code);
}
