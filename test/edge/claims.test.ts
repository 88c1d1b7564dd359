import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { burstFor, shardCap, shardRate } from "../../src/edge/shard/admission.js";
import type { QueueShard } from "../../src/edge/shard/queue-shard.js";
import { config, freshShard, keyOf, randomIdentity, setClock, stubOf } from "./helpers.js";

const T0 = Date.parse("2026-03-01T11:00:00Z");
const CAP = shardCap(config.maxActive, config.shards, 0);
/** Milliseconds for one admission at the shard's rate. */
const ONE_TURN_MS = 60_000 / shardRate(config.admitPerMinute, config.shards);

async function lineOf(n: number) {
  const address = freshShard(0);
  const stub = stubOf(address);
  await setClock(stub, T0);
  const tickets = [];
  for (let i = 0; i < n; i++) {
    const key = await keyOf(randomIdentity());
    tickets.push({ key, ...(await stub.join(key)) });
  }
  return { stub, tickets };
}

describe("admission and claiming", () => {
  it("admits in order at the shard's rate, up to its cap", async () => {
    expect(CAP).toBe(2);
    const { stub, tickets } = await lineOf(10);
    // An empty shard had banked one burst, so the first arrival goes straight in ...
    expect((await stub.snapshot()).serving).toBe(1);
    // ... and after that one person per turn.
    await setClock(stub, T0 + ONE_TURN_MS * 0.9);
    expect((await stub.snapshot()).serving).toBe(1);
    await setClock(stub, T0 + ONE_TURN_MS * 1.5);
    expect((await stub.snapshot()).serving).toBe(2);
    // The cap (2 for this shard) now holds the line, however much time passes within the claim window.
    await setClock(stub, T0 + ONE_TURN_MS * 20);
    expect((await stub.snapshot()).serving).toBe(2);
    // A booking completes: one turn later the next person is in, not a crowd.
    expect((await stub.claim(1, tickets[0]!.ticketId)).state).toBe("admitted");
    await stub.complete(tickets[0]!.seq, tickets[0]!.ticketId);
    await setClock(stub, T0 + ONE_TURN_MS * 21);
    expect((await stub.snapshot()).serving).toBe(3);
    await setClock(stub, T0 + ONE_TURN_MS * 22);
    expect((await stub.snapshot()).serving).toBe(3);
  });

  it("gives an admitted ticket one pass: claiming again returns the same pass times", async () => {
    const { stub, tickets } = await lineOf(3);
    const first = tickets[0]!;
    await setClock(stub, T0 + ONE_TURN_MS);
    const a = await stub.claim(first.seq, first.ticketId);
    await setClock(stub, T0 + ONE_TURN_MS + 30_000);
    const b = await stub.claim(first.seq, first.ticketId);
    expect(a.state).toBe("admitted");
    expect(b).toEqual(a);
    expect(a.pass!.exp - a.pass!.iat).toBe(config.passTtlSeconds);
    // Claimed or not, everyone admitted so far holds capacity.
    const snap = await stub.snapshot();
    expect(snap.active).toBe(snap.serving);
    expect(snap.serving).toBeGreaterThanOrEqual(1);
  });

  it("keeps a waiting ticket waiting and refuses a ticket id that does not match its place", async () => {
    const { stub, tickets } = await lineOf(3);
    expect((await stub.claim(tickets[2]!.seq, tickets[2]!.ticketId)).state).toBe("waiting");
    expect((await stub.claim(tickets[2]!.seq, tickets[1]!.ticketId)).state).toBe("unknown");
  });

  it("halts at the cap, and an unclaimed admission lapses after the claim window, freeing its capacity", async () => {
    const { stub, tickets } = await lineOf(CAP + 3);
    // Long enough for many turns: only the cap holds the line back.
    let t = T0;
    for (let i = 0; i < CAP + 3; i++) {
      t += ONE_TURN_MS;
      await setClock(stub, t);
      await stub.snapshot();
    }
    let snap = await stub.snapshot();
    expect(snap.serving).toBe(CAP);
    expect(snap.active).toBe(CAP);

    // Nobody claims. Once the window has passed for the first admitted, the line moves on.
    t = T0 + ONE_TURN_MS + config.claimWindowSeconds * 1000 + 1;
    await setClock(stub, t);
    snap = await stub.snapshot();
    expect(snap.serving).toBeGreaterThan(CAP);
    // Within the return window the place could still be taken up again (test/edge/presence.test.ts); after
    // it, it is gone.
    await setClock(stub, T0 + ONE_TURN_MS + (config.claimWindowSeconds + config.returnWindowSeconds) * 1000 + 1);
    expect(await stub.claim(tickets[0]!.seq, tickets[0]!.ticketId)).toEqual({ state: "expired" });

    // The citizen whose place lapsed may join again and gets a new place at the back.
    const again = await stub.join(tickets[0]!.key);
    expect(again.replacedExpired).toBe(true);
    expect(again.seq).toBe(CAP + 4);
    expect(again.ticketId).not.toBe(tickets[0]!.ticketId);
  });

  it("stops counting a pass as active once the booking completes", async () => {
    const { stub, tickets } = await lineOf(CAP + 1);
    let t = T0;
    for (let i = 0; i < CAP + 1; i++) {
      t += ONE_TURN_MS;
      await setClock(stub, t);
      await stub.snapshot();
    }
    const first = tickets[0]!;
    const claimed = await stub.claim(first.seq, first.ticketId);
    expect(claimed.state).toBe("admitted");
    expect((await stub.snapshot()).serving).toBe(CAP);

    expect(await stub.complete(first.seq, first.ticketId)).toEqual({ completed: true });
    t += ONE_TURN_MS;
    await setClock(stub, t);
    const snap = await stub.snapshot();
    expect(snap.serving).toBe(CAP + 1);
    // The completed citizen keeps their pass until it expires (to see or cancel the booking) ...
    expect((await stub.claim(first.seq, first.ticketId)).state).toBe("admitted");
    // ... and completing twice, or a ticket that never claimed, changes nothing.
    expect(await stub.complete(first.seq, first.ticketId)).toEqual({ completed: true });
    expect(await stub.complete(tickets[CAP]!.seq, tickets[CAP]!.ticketId)).toEqual({ completed: false });
  });

  it("expires a claimed pass at its end, and the citizen may join again", async () => {
    const { stub, tickets } = await lineOf(1);
    await setClock(stub, T0 + ONE_TURN_MS);
    const first = tickets[0]!;
    expect((await stub.claim(first.seq, first.ticketId)).state).toBe("admitted");
    await setClock(stub, T0 + ONE_TURN_MS + config.passTtlSeconds * 1000 + 1);
    expect((await stub.claim(first.seq, first.ticketId)).state).toBe("expired");
    expect((await stub.snapshot()).active).toBe(0);
    const again = await stub.join(first.key);
    expect(again.seq).toBe(2);
  });

  it("admits nobody while paused, however much time passes, and says so; resumes without a burst", async () => {
    const { stub, tickets } = await lineOf(5);
    // The first arrival went straight in (an empty shard banks one burst); the rest wait.
    const served = (await stub.snapshot()).serving;
    expect(served).toBe(1);
    // The object reads PAUSED from its bindings on every tick, as after an operator's deploy.
    await setPaused(stub, true);
    await setClock(stub, T0 + ONE_TURN_MS * 30);
    const paused = await stub.snapshot();
    expect(paused.paused).toBe(true);
    expect(paused.serving).toBe(served);
    expect((await stub.join(await keyOf(randomIdentity()))).seq).toBe(tickets.length + 1);
    await setClock(stub, T0 + ONE_TURN_MS * 60);
    expect((await stub.snapshot()).serving).toBe(served);
    expect((await stub.claim(tickets[served]!.seq, tickets[served]!.ticketId)).state).toBe("waiting");

    // Credit did not pile up while paused: a turn and a half after resuming, one burst at most, not thirty.
    await setPaused(stub, false);
    await setClock(stub, T0 + ONE_TURN_MS * 61.5);
    const resumed = await stub.snapshot();
    expect(resumed.paused).toBe(false);
    expect(resumed.serving).toBeGreaterThan(served);
    expect(resumed.serving - served).toBeLessThanOrEqual(Math.ceil(burstFor(shardRate(config.admitPerMinute, config.shards))));
  });
});

/** Gives the object bindings with PAUSED set as an operator would, through the same parser as production. */
async function setPaused(stub: DurableObjectStub<QueueShard>, paused: boolean): Promise<void> {
  await runInDurableObject(stub, (shard: QueueShard) => {
    Object.assign(shard, { env: { ...env, PAUSED: String(paused) } });
  });
}
