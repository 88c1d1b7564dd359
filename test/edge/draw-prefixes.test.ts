import { describe, expect, it } from "vitest";
import { drawPosition, type ShardValues } from "../../src/edge/prequeue/draw-order.js";
import { drawLength, drawPrefixes, indexInDraw, isAtIndex, positionInDraws } from "../../src/edge/prequeue/draw-prefixes.js";
import { rankOf, toHex } from "../../src/edge/prequeue/draw.js";

/**
 * A citizen's status finds its draw rank from each shard's value prefixes (draw-prefixes.ts), not the
 * full lists: it must give what drawPosition gives over the full lists, and find the same index as
 * rankOf, for every value, including values whose first 64 bits another value of its list shares.
 */

const randomHex = (length: number) => toHex(crypto.getRandomValues(new Uint8Array(length / 2)));

/** Lists over a few buckets (so shards often share one), some values of a shard sharing a 64-bit prefix. */
function randomLists(shards: number): ShardValues[] {
  const buckets = ["000", "0aa", "7ff", "800", "fff", ...Array.from({ length: 4 }, () => randomHex(4).slice(0, 3))];
  return Array.from({ length: shards }, (_, shard) => {
    const values = new Set<string>();
    const count = shard === 1 ? 0 : 1 + Math.floor(Math.random() * 60);
    while (values.size < count) {
      const bucket = buckets[Math.floor(Math.random() * buckets.length)]!;
      const value = bucket + randomHex(64).slice(3);
      values.add(value);
      // Now and then another value of the same first 16 hex digits (64 bits), even three.
      if (Math.random() < 0.1) values.add(value.slice(0, 16) + randomHex(48));
      if (Math.random() < 0.02) values.add(value.slice(0, 16) + randomHex(48));
    }
    return { shard, values: [...values].sort() };
  });
}

describe("a draw as prefixes (draw-prefixes.ts)", () => {
  it("ranks every value as drawPosition does over the full lists, and finds it where rankOf does", () => {
    let tiesSeen = 0;
    for (let round = 0; round < 40; round++) {
      const lists = randomLists(1 + (round % 7));
      const draws = lists.map((l) => drawPrefixes({ placedAt: 1, firstSeq: 1, values: l.values }));
      tiesSeen += draws.reduce((sum, d) => sum + d.tied.length, 0);
      for (const l of lists) {
        const own = draws[l.shard]!;
        expect(drawLength(own)).toBe(l.values.length);
        l.values.forEach((value, index) => {
          expect(positionInDraws(draws, l.shard, index)).toBe(drawPosition(lists, l.shard, index));
          expect(indexInDraw(own, value)).toBe(index);
          expect(isAtIndex(own, index, value)).toBe(true);
        });
      }
    }
    expect(tiesSeen).toBeGreaterThan(0);
  });

  it("tells apart values that share their first 64 bits, and finds no value that is not in the list", () => {
    const tie = "0aa1234567890abc";
    const values = [`0aa0${"1".repeat(60)}`, `${tie}${"2".repeat(48)}`, `${tie}${"5".repeat(48)}`, `${tie}${"9".repeat(48)}`, `fff${"0".repeat(61)}`];
    const draw = drawPrefixes({ placedAt: 1, firstSeq: 7, values });
    expect(draw.tied.map((t) => t.index)).toEqual([1, 2, 3]);
    values.forEach((value, index) => {
      expect(indexInDraw(draw, value)).toBe(index);
      expect(indexInDraw(draw, value)).toBe(rankOf(values, value));
    });
    // Same prefix as the tied three, in none of them: not in the list, at any index.
    const absent = `${tie}${"4".repeat(48)}`;
    expect(indexInDraw(draw, absent)).toBe(-1);
    expect([0, 1, 2, 3, 4].some((index) => isAtIndex(draw, index, absent))).toBe(false);
    expect(isAtIndex(draw, 2, values[1]!)).toBe(false);
    expect(isAtIndex(draw, 5, values[4]!)).toBe(false);
    expect(isAtIndex(draw, -1, values[0]!)).toBe(false);
    expect(indexInDraw(draw, `1${"0".repeat(63)}`)).toBe(-1);
    // A second shard with a value of the tied prefix: ranks across shards follow the rule all the same.
    const lists: ShardValues[] = [
      { shard: 0, values },
      { shard: 1, values: [`${tie}${"3".repeat(48)}`, `0a9${"f".repeat(61)}`].sort() },
    ];
    const draws = lists.map((l) => drawPrefixes({ placedAt: 1, firstSeq: 1, values: l.values }));
    for (const l of lists) l.values.forEach((_, index) => expect(positionInDraws(draws, l.shard, index)).toBe(drawPosition(lists, l.shard, index)));
  });
});
