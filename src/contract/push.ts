import { z } from "zod";
import { isLoopbackHost } from "../http/loopback.js";

/**
 * Web Push between the page, its service worker and the edge (docs/notifications.md): the subscription
 * the page gives for its ticket, what the service worker reports, and the payload each notice carries.
 */

/** What the page and the notices speak. */
export const pushLang = z.enum(["ko", "en"]);
export type PushLang = z.infer<typeof pushLang>;

/** The notices a ticket can get: near the front, admitted (claim the pass now), booked. */
export const noticeKind = z.enum(["near", "admitted", "booked"]);
export type NoticeKind = z.infer<typeof noticeKind>;

/** base64url without padding of exactly `bytes` bytes. */
const base64urlBytes = (bytes: number) => z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}$`), `must be ${bytes} bytes, base64url without padding`);

/**
 * A push service's address: https, as every browser's is; plain http only on this machine, for the local
 * push service `npm start` runs.
 */
export const pushEndpoint = z
  .url({ error: "the endpoint must be a URL" })
  .max(2048, "the endpoint is too long")
  .refine((u) => {
    const url = new URL(u);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  }, "the endpoint must be https");

/** PushSubscription.toJSON() as the browser gives it. */
export const pushSubscription = z.object({
  endpoint: pushEndpoint,
  keys: z.object({
    /** The browser's ECDH public key: a 65-byte uncompressed P-256 point. */
    p256dh: base64urlBytes(65).refine((k) => k.startsWith("B"), "must be an uncompressed P-256 point"),
    /** The browser's 16-byte authentication secret. */
    auth: base64urlBytes(16),
  }),
  expirationTime: z.number().nullable().optional(),
});

/** `PUT /api/queue/push-subscription`. */
export const pushSubscriptionRequest = z.object({ subscription: pushSubscription, lang: pushLang }).strict();
export type PushSubscriptionRequest = z.infer<typeof pushSubscriptionRequest>;

/** `POST /api/queue/push-received`: the service worker showed this notice. */
export const pushReceivedRequest = z.object({ kind: noticeKind }).strict();

/** `GET /api/push/key`: the application server key for PushManager.subscribe. */
export const pushKeyResponse = z.object({
  /** base64url of the 65-byte uncompressed P-256 point (applicationServerKey). */
  publicKey: z.string(),
});

/** What the service worker receives (decrypted) in its push event: nothing of the citizen's identity. */
export const pushPayload = z.object({
  cohort: z.string(),
  state: noticeKind,
  /** Where a tap on the notice leads: the waiting page. */
  url: z.string(),
  title: z.string(),
  body: z.string(),
  /** With `booked`: the booking's short code. */
  code: z.string().optional(),
});
export type PushPayload = z.infer<typeof pushPayload>;
export type PushKeyResponse = z.infer<typeof pushKeyResponse>;
