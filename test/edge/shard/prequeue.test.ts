import { describe, expect, it } from "vitest";
import { citizenTag } from "../../../src/edge/identity/citizen-key.js";
import { holdPrequeueTicket, placePrequeueIfDue, publishedDraw } from "../../../src/edge/shard/prequeue.js";
import { keyOf, randomIdentity } from "../helpers.js";
import { withStore } from "./support.js";

const OPENS_AT = Date.parse("2026-05-01T11:00:00Z");
const schedule = { cohort: "pq", opensAt: OPENS_AT };

describe("placing a shard's pre-queue", () => {
  it("places every ticket once, at the opening, in draw order, behind the places already given", async () => {
    const keys = await Promise.all(Array.from({ length: 3 }, () => keyOf(randomIdentity())));
    await withStore((store) => {
      store.atomically(() => {
        // Draw values sort "a" < "b" < "c"; joined in another order.
        ["c", "a", "b"].forEach((drawValue, i) =>
          holdPrequeueTicket(store, { tag: citizenTag(keys[i]!), citizenKey: keys[i]!, ticketId: `t-${drawValue}`, drawValue }, OPENS_AT - 60_000 + i),
        );
        // Joining again holds the same ticket, under its first draw value.
        const again = holdPrequeueTicket(store, { tag: citizenTag(keys[0]!), citizenKey: keys[0]!, ticketId: "t-new", drawValue: "0" }, OPENS_AT - 1);
        expect(again).toEqual({ ticketId: "t-c", joinedAt: OPENS_AT - 60_000 });
        store.setLastSeq(4);
      });
      expect(publishedDraw(store)).toEqual({ placedAt: null, firstSeq: 1, values: [] });

      store.atomically(() => placePrequeueIfDue(store, schedule, OPENS_AT - 1));
      expect(store.counters.prequeue_placed_at).toBeNull();
      expect(store.ticket(5)).toBeUndefined();

      store.atomically(() => placePrequeueIfDue(store, schedule, OPENS_AT));
      expect([5, 6, 7].map((seq) => store.ticket(seq)?.ticket_id)).toEqual(["t-a", "t-b", "t-c"]);
      // Placed counts as seen at the opening.
      expect(store.ticket(5)?.seen_at).toBe(OPENS_AT);
      expect(store.counters).toMatchObject({ last_seq: 7, prequeue_placed_at: OPENS_AT, prequeue_first_seq: 5 });
      expect(publishedDraw(store)).toEqual({ placedAt: OPENS_AT, firstSeq: 5, values: ["a", "b", "c"] });

      store.atomically(() => placePrequeueIfDue(store, schedule, OPENS_AT + 60_000));
      expect(store.counters.last_seq).toBe(7);
    });
  });

  it("does nothing for a cohort without a pre-queue", async () => {
    await withStore((store) => {
      store.atomically(() => placePrequeueIfDue(store, null, OPENS_AT));
      expect(store.counters.prequeue_placed_at).toBeNull();
    });
  });
});
