import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueueShard } from "../../src/edge/shard/queue-shard.js";
import { freshShard, keyOf, join, randomIdentity, setClock, stubOf } from "./helpers.js";

describe("joining a shard", () => {
  // 500 concurrent joins in arrival order, gap-free: test/edge/group-commit.test.ts.

  it("gives 20 concurrent joins of one citizen one ticket", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const key = await keyOf(randomIdentity());
    const results = await Promise.all(Array.from({ length: 20 }, () => stub.join(key)));
    expect(new Set(results.map((r) => r.ticketId)).size).toBe(1);
    expect(new Set(results.map((r) => r.seq))).toEqual(new Set([1]));
    expect((await stub.snapshot()).lastSeq).toBe(1);
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
    await stub.join(await keyOf(randomIdentity()));
    const first = await stub.join(mine);
    for (let i = 0; i < 5; i++) await stub.join(await keyOf(randomIdentity()));
    const again = await stub.join(mine);
    expect(again.seq).toBe(first.seq);
    expect(again.ticketId).toBe(first.ticketId);
    expect(again.replacedExpired).toBe(false);
  });

  it("knows which shard it is from its own name, and records it for when its alarm wakes it", async () => {
    const address = freshShard(3);
    const stub = stubOf(address);
    await stub.join(await keyOf(randomIdentity()));
    const recorded = await runInDurableObject(stub, (_shard: QueueShard, state) =>
      state.storage.sql.exec<{ cohort: string; shard: number }>("SELECT cohort, shard FROM counters").one(),
    );
    expect(recorded).toEqual({ cohort: address.cohort, shard: 3 });
  });

  it("refuses to serve when reached without a name, instead of guessing which line it is", async () => {
    const nameless = env.QUEUE_SHARD.get(env.QUEUE_SHARD.newUniqueId());
    const key = await keyOf(randomIdentity());
    const settled = await Promise.allSettled([nameless.snapshot(), nameless.join(key)]);
    for (const s of settled) {
      expect(s.status).toBe("rejected");
      if (s.status === "rejected") expect(String(s.reason)).toMatch(/reached by its name/);
    }
  });
});
