import { describe, expect, it } from "vitest";
import { freshShard, keyOf, join, randomIdentity, setClock, stubOf } from "./helpers.js";

describe("joining a shard", () => {
  // 500 concurrent joins in arrival order, gap-free: test/edge/group-commit.test.ts.

  it("gives 20 concurrent joins of one citizen one ticket", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const key = await keyOf(randomIdentity());
    const results = await Promise.all(Array.from({ length: 20 }, () => stub.join(address, key)));
    expect(new Set(results.map((r) => r.ticketId)).size).toBe(1);
    expect(new Set(results.map((r) => r.seq))).toEqual(new Set([1]));
    expect((await stub.snapshot(address)).lastSeq).toBe(1);
  });

  it("gives 10 concurrent joins of one citizen over HTTP one ticket and one place", async () => {
    const identity = randomIdentity();
    // Ten: as many as JOIN_LIMIT lets one citizen make in a minute.
    const answers = await Promise.all(Array.from({ length: 10 }, () => join(identity)));
    const places = new Set(answers.map((a) => `${a.status.cohort}:${a.status.seq}`));
    expect(places.size).toBe(1);
    // Tickets are re-signed per answer but all name the same place and ticket id.
    const ids = new Set(answers.map((a) => JSON.parse(atob(a.ticket.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti));
    expect(ids.size).toBe(1);
  });

  it("keeps a waiting citizen's place when they join again later (refresh, new tab, second device)", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await setClock(stub, Date.parse("2026-01-01T11:00:00Z"));
    const mine = await keyOf(randomIdentity());
    await stub.join(address, await keyOf(randomIdentity()));
    const first = await stub.join(address, mine);
    for (let i = 0; i < 5; i++) await stub.join(address, await keyOf(randomIdentity()));
    const again = await stub.join(address, mine);
    expect(again.seq).toBe(first.seq);
    expect(again.ticketId).toBe(first.ticketId);
    expect(again.replacedExpired).toBe(false);
  });
});
