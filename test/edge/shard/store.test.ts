import { describe, expect, it } from "vitest";
import { citizenTag } from "../../../src/edge/identity/citizen-key.js";
import { keyOf, randomIdentity } from "../helpers.js";
import { withStore } from "./support.js";

const T0 = Date.parse("2026-05-01T11:00:00Z");

describe("the shard's store", () => {
  it("forgets everything a rolled-back transaction taught it, and remembers what committed", async () => {
    const [first, second] = await Promise.all([keyOf(randomIdentity()), keyOf(randomIdentity())]);
    await withStore((store) => {
      store.atomically(() => {
        store.addTicket(1, "ticket-1", citizenTag(first), first, T0);
        store.setLastSeq(1);
      });
      // The citizen index is read now, so the rolled-back ticket below would reach it too.
      expect(store.latestTicketOf(citizenTag(first), first)?.seq).toBe(1);
      store.memory.holding = { count: 1, earliestExpiry: T0 + 60_000, countedAt: T0 };
      store.memory.pace = { minute: 1, perMinute: 5 };
      store.memory.returnersWaiting = 0;

      expect(() =>
        store.atomically(() => {
          store.addTicket(2, "ticket-2", citizenTag(second), second, T0);
          store.setLastSeq(2);
          store.setLine({ serving: 2, credit: 0, creditAt: T0, firstAdmittedAt: T0, admittedTotal: 2, passedTotal: 0, leastPresent: 1 });
          throw new Error("the commit failed");
        }),
      ).toThrow("the commit failed");

      // The counters are what SQLite holds, and every remembered thing was forgotten together.
      expect(store.counters).toMatchObject({ last_seq: 1, serving: 0, admitted_total: 0 });
      expect(Object.entries(store.memory).filter(([, value]) => value !== null)).toEqual([]);
      // The ticket the rolled-back transaction wrote is nowhere: not in SQLite, not in the index.
      expect(store.ticket(2)).toBeUndefined();
      expect(store.latestTicketOf(citizenTag(second), second)).toBeUndefined();
      expect(store.latestTicketOf(citizenTag(first), first)?.ticket_id).toBe("ticket-1");
    });
  });

  it("finds a citizen's newest ticket by the full key, whatever shares its tag", async () => {
    const key = await keyOf(randomIdentity());
    await withStore((store) => {
      const tag = citizenTag(key);
      store.atomically(() => {
        store.addTicket(1, "old", tag, key, T0);
        // Another citizen whose key happens to share the 48-bit tag.
        store.addTicket(2, "other", tag, `${key}-other`, T0);
        store.addTicket(3, "new", tag, key, T0);
        store.setLastSeq(3);
      });
      expect(store.latestTicketOf(tag, key)?.ticket_id).toBe("new");
      expect(store.latestTicketOf(tag, `${key}-other`)?.ticket_id).toBe("other");
      expect(store.latestTicketOf(tag, `${key}-nobody`)).toBeUndefined();
    });
  });
});
