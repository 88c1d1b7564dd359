import { describe, expect, it } from "vitest";
import { freshShard, keyOf, randomIdentity, restartObject, setClock, stubOf } from "./helpers.js";

const T0 = Date.parse("2026-05-01T11:00:00Z");

describe("a Durable Object restart", () => {
  it("keeps tickets, their order, admissions and counters", async () => {
    const address = freshShard();
    let stub = stubOf(address);
    await setClock(stub, T0);
    const keys = await Promise.all(Array.from({ length: 6 }, () => keyOf(randomIdentity())));
    const joined = [];
    for (const key of keys) joined.push(await stub.join(key));
    await setClock(stub, T0 + 5_000);
    const claimed = await stub.claim(joined[0]!.seq, joined[0]!.ticketId);
    expect(claimed.state).toBe("admitted");
    const before = await stub.snapshot();

    stub = await restartObject(stub);
    // A restarted object starts with the runtime's clock; put the test's clock back.
    await setClock(stub, T0 + 5_000);

    const after = await stub.snapshot();
    expect({ ...after, at: 0 }).toEqual({ ...before, at: 0 });
    // Every citizen still holds the same place, and the admitted one the same pass.
    for (let i = 0; i < keys.length; i++) {
      const again = await stub.join(keys[i]!);
      expect([again.seq, again.ticketId]).toEqual([joined[i]!.seq, joined[i]!.ticketId]);
    }
    expect(await stub.claim(joined[0]!.seq, joined[0]!.ticketId)).toEqual(claimed);
    // And the line goes on from where it was, with no gap.
    const next = await stub.join(await keyOf(randomIdentity()));
    expect(next.seq).toBe(7);
  });
});
