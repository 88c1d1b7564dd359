import { z } from "zod";
import { noticeKind } from "../../contract/push.js";

/**
 * A message on the push queue: which ticket of which shard is due which notice. Nothing else: the consumer
 * asks the shard for the subscription when it sends, so the queue never holds a subscription's keys, and
 * a subscription dropped meanwhile gets nothing.
 */
export const noticeMessage = z.object({
  cohort: z.string().min(1),
  shard: z.number().int().nonnegative(),
  seq: z.number().int().positive(),
  ticketId: z.string().min(1),
  kind: noticeKind,
});
export type NoticeMessage = z.infer<typeof noticeMessage>;

/** The most messages one sendBatch takes. */
export const MAX_SEND_BATCH = 100;
