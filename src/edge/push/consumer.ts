import { edgeConfig, type EdgeConfig } from "../config.js";
import { shardStub } from "../queue/shard-client.js";
import { noticeMessage, type NoticeMessage } from "./notice-message.js";
import { noticePayload } from "./notice-text.js";
import { pushRequest, type PushOptions } from "./web-push.js";

/**
 * The push queue's consumer: for each message, asks the ticket's shard for its subscription, encrypts the
 * notice for it and sends it to the citizen's push service. A push service that is busy or failing (429,
 * 5xx, no answer) gets the message again later, from the queue's own retries; one that no longer knows
 * the subscription (404, 410) has it dropped. Any other refusal would refuse the same request again: it is
 * logged and the message acknowledged.
 */

/** How long a push service waits for an answer before the message is retried. */
const SEND_TIMEOUT_MS = 10_000;
/** The longest a retry waits: the line moves on, and a notice much later than its event is little use. */
const MAX_RETRY_DELAY_SECONDS = 60;

/**
 * How each notice travels. "near" and "admitted" share a topic, so a device that was offline is handed
 * the admission instead of a stale "near". The admission's push lives as long as one can come back.
 */
function pushOptions(kind: NoticeMessage["kind"], config: EdgeConfig): PushOptions {
  switch (kind) {
    case "near":
      return { ttlSeconds: 120, urgency: "normal", topic: "turn" };
    case "admitted":
      return { ttlSeconds: config.returnWindowSeconds, urgency: "high", topic: "turn" };
    case "booked":
      return { ttlSeconds: 24 * 3600, urgency: "normal" };
  }
}

function retryDelay(attempts: number, retryAfter: string | null): number {
  const asked = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : 0;
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.max(asked, 2 ** Math.min(attempts, 6)));
}

/** The Worker's `queue` handler: each message of the batch is delivered, retried or dropped on its own. */
export async function consumeNotices(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const config = edgeConfig(env);
  await Promise.all(batch.messages.map((message) => deliver(message, env, config)));
}

async function deliver(message: Message<unknown>, env: Env, config: EdgeConfig): Promise<void> {
  const parsed = noticeMessage.safeParse(message.body);
  if (!parsed.success || !config.push) {
    console.error(parsed.success ? "a push notice with push turned off (no VAPID keys): dropped" : "a push queue message that is not a notice: dropped");
    return message.ack();
  }
  const notice = parsed.data;
  const stub = shardStub(env, { cohort: notice.cohort, shard: notice.shard });
  let response: Response;
  try {
    const target = await stub.pushTarget(notice.seq, notice.ticketId, notice.kind);
    // No subscription any more, or this notice was already taken by the push service (a redelivery).
    if (!target) return message.ack();
    const payload = noticePayload(notice.cohort, notice.kind, target.lang, target.code);
    const request = await pushRequest(target, payload, config.push, pushOptions(notice.kind, config), Date.now());
    response = await fetch(request, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
    await response.body?.cancel();
  } catch (err) {
    console.warn(`push notice ${notice.kind} for ${notice.cohort}/${notice.shard}#${notice.seq}: retried after`, err);
    return message.retry({ delaySeconds: retryDelay(message.attempts, null) });
  }
  if (response.status >= 200 && response.status < 300) {
    // Told even if this fails: sending again would show the citizen the same notice twice.
    await stub.pushAccepted(notice.seq, notice.ticketId, notice.kind).catch((err: unknown) => console.error("could not record a push notice as accepted:", err));
    return message.ack();
  }
  if (response.status === 404 || response.status === 410) {
    await stub.pushGone(notice.seq, notice.ticketId).catch((err: unknown) => console.error("could not drop a gone push subscription:", err));
    return message.ack();
  }
  if (response.status === 429 || response.status >= 500) {
    return message.retry({ delaySeconds: retryDelay(message.attempts, response.headers.get("retry-after")) });
  }
  console.error(`push notice ${notice.kind} refused by the push service: ${response.status}`);
  message.ack();
}
