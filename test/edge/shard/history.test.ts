import { describe, expect, it } from "vitest";
import { citizenTag } from "../../../src/edge/identity/citizen-key.js";
import { HISTORY_MINUTES, recordMinute, shardHistory } from "../../../src/edge/shard/history.js";
import { keyOf, randomIdentity } from "../helpers.js";
import { withStore } from "./support.js";

const MINUTE = 60_000;
/** The start of a minute. */
const M0 = Math.floor(Date.parse("2026-05-01T11:00:00Z") / MINUTE) * MINUTE;

describe("a shard's per-minute history", () => {
  it("closes each minute at the first tick of the next, fills quiet minutes and counts the minute under way", async () => {
    const keys = await Promise.all(Array.from({ length: 5 }, () => keyOf(randomIdentity())));
    await withStore((store) => {
      const counters = (lastSeq: number, serving: number) => ({ lastSeq, serving, credit: 0, creditAt: 0 });
      store.atomically(() => recordMinute(store, M0 + 1_000, counters(0, 0), 0, 0));
      // In minute 0: five join (at +1 s … +5 s), three are admitted at +40 s (waits 39, 38 and 37 s).
      store.atomically(() => {
        keys.forEach((key, i) => store.addTicket(i + 1, `t${i + 1}`, citizenTag(key), key, M0 + (i + 1) * 1_000));
        store.setLastSeq(5);
        store.admitRange(0, 3, M0 + 40_000, M0 + 160_000);
        store.setLine({ serving: 3, credit: 0, creditAt: M0 + 40_000, firstAdmittedAt: M0 + 40_000, admittedTotal: 3, passedTotal: 0, leastPresent: 1 });
        recordMinute(store, M0 + 40_000, counters(5, 0), 0, 3);
      });
      // Minute 1 is quiet; the first tick in minute 2 closes minute 0, with the counters minute 0 left.
      store.atomically(() => recordMinute(store, M0 + 2 * MINUTE + 5_000, counters(5, 3), 3, 2));

      const minutes = shardHistory(store, { lastSeq: 5, serving: 3, active: 2 }, 3);
      expect(minutes).toEqual([
        { minute: M0 / MINUTE, joined: 5, admitted: 3, departed: 0, waiting: 2, active: 3, activeMax: 3, medianWaitMs: 38_000 },
        // Nothing called the shard: what minute 0 ended with carries on.
        { minute: M0 / MINUTE + 1, joined: 0, admitted: 0, departed: 0, waiting: 2, active: 3, activeMax: 3, medianWaitMs: null },
        { minute: M0 / MINUTE + 2, joined: 0, admitted: 0, departed: 0, waiting: 2, active: 2, activeMax: 2, medianWaitMs: null },
      ]);
    });
  });

  it("keeps at most HISTORY_MINUTES minutes", async () => {
    await withStore((store) => {
      const counters = { lastSeq: 0, serving: 0, credit: 0, creditAt: 0 };
      for (let m = 0; m <= HISTORY_MINUTES + 5; m++) store.atomically(() => recordMinute(store, M0 + m * MINUTE, counters, 0, 0));
      expect(store.minutesFrom(0).length).toBeLessThan(HISTORY_MINUTES);
      expect(shardHistory(store, { lastSeq: 0, serving: 0, active: 0 }, 10_000)).toHaveLength(HISTORY_MINUTES);
    });
  });
});
