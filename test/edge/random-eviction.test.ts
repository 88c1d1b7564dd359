import { describe, expect, it } from "vitest";
import { RandomEvictionMemory } from "../../src/edge/random-eviction.js";

/**
 * The isolate's memory of verified tickets (src/edge/tokens/ticket.ts) is asked for the same tickets in
 * cycles: every waiting citizen polls every few seconds. With more of them than it keeps, dropping the
 * oldest first found none of them ever again; dropping one at random must keep a share found, and it must
 * never hold more than it may.
 */
describe("a memory that forgets at random", () => {
  it("finds what it holds, and keeps every entry while all fit", () => {
    const memory = new RandomEvictionMemory<number>(100);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) {
        if (round > 0) expect(memory.get(`ticket-${i}`)).toBe(i * round);
        memory.set(`ticket-${i}`, i * (round + 1));
      }
    }
    expect(memory.size).toBe(100);
    expect(memory.get("ticket-none")).toBeUndefined();
  });

  it("keeps a share of a cycle larger than it holds found, never holding more than it may", () => {
    const memory = new RandomEvictionMemory<string>(100);
    let asked = 0;
    let found = 0;
    // 125 tickets polled in turn, 40 times round; the last 20 rounds are counted. Dropping the oldest
    // first finds none; a random victim about two in three (the bound leaves room for chance).
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 125; i++) {
        const token = `ticket-${i}`;
        const known = memory.get(token);
        if (round >= 20) {
          asked++;
          if (known !== undefined) found++;
        }
        if (known === undefined) memory.set(token, `claims of ${i}`);
        else expect(known).toBe(`claims of ${i}`);
        expect(memory.size).toBeLessThanOrEqual(100);
      }
    }
    expect(found / asked).toBeGreaterThan(0.4);
  });

  it("refuses a capacity that holds nothing", () => {
    expect(() => new RandomEvictionMemory(0)).toThrow(RangeError);
    expect(() => new RandomEvictionMemory(1.5)).toThrow(RangeError);
  });
});
