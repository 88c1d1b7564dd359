import { runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { shardCap, shardRate } from "../../src/edge/shard/admission.js";
import { signPass } from "../../src/edge/tokens/pass.js";
import type { QueueShard } from "../../src/edge/shard/queue-shard.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import type { ShardAddress } from "../../src/edge/queue/shard-name.js";
import { signTicket } from "../../src/edge/tokens/ticket.js";
import { presentFound } from "../../src/edge/queue/wait-estimate.js";
import { config, freshShard, getStatus, keyOf, ORIGIN, randomIdentity, setClock, stubOf } from "./helpers.js";

/**
 * Presence: a place the line reaches while its holder is away costs the line nothing, and a holder who
 * comes back within the return window keeps it. The edge tests run with PRESENCE_SECONDS of an hour
 * (vitest.config.ts), so these tests move a shard's clock past it to find people away.
 */

const T0 = Date.parse("2026-03-01T11:00:00Z");
const PRESENCE_MS = config.presenceSeconds * 1000;
const RETURN_MS = config.returnWindowSeconds * 1000;
const CAP = shardCap(config.maxActive, config.shards, 0);
/** Milliseconds for one admission at the shard's rate; the shard banks at most one such admission. */
const ONE_TURN_MS = 60_000 / shardRate(config.admitPerMinute, config.shards);

async function joinAt(address: ShardAddress, at: number, n: number) {
  const stub = stubOf(address);
  await setClock(stub, at);
  const tickets = [];
  for (let i = 0; i < n; i++) {
    const key = await keyOf(randomIdentity());
    tickets.push({ key, ...(await stub.join(key)) });
  }
  return tickets;
}

describe("presence at the front of the line", () => {
  it("passes over a ticket whose holder is away, using none of the rate and no capacity", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const [away] = await joinAt(address, T0, 1);
    // Long after: the first holder has not been seen for more than the presence window.
    const T1 = T0 + PRESENCE_MS + 60_000;
    const [here, next] = await joinAt(address, T1, 2);
    const snap = await stub.snapshot();
    // One admission's credit was banked: the line passed over the absent holder and spent it on the next.
    expect(snap.serving).toBe(2);
    expect(snap.active).toBe(1);
    expect(snap.presentShare).toBe(0.5);
    expect((await stub.claim(here!.seq, here!.ticketId)).state).toBe("admitted");
    // And the rate was not spent on the pass-over: the next person is in one turn later, not two.
    await setClock(stub, T1 + ONE_TURN_MS + 1);
    expect((await stub.claim(next!.seq, next!.ticketId)).state).toBe("admitted");
    expect(away!.seq).toBe(1);
    // Back now, with the cap full: next. Nothing was heard from them after they joined, so the line may
    // have reached them early (far back behind silent tickets): they are not told they were away.
    expect(await stub.claim(away!.seq, away!.ticketId)).toMatchObject({ state: "returning", returnedAhead: 0, wasAway: false });
    // The share found there rose as the next two were admitted; the least found, which the soonest counts,
    // stays what it was when the line had passed over the first and reached no one else.
    const later = await stub.snapshot();
    expect(later.presentShare).toBeCloseTo(2 / 3);
    expect(later.leastPresent).toBeCloseTo(presentFound(0, 1));
    expect(later.leastPresent).toBeLessThan(presentFound(2 / 3, 3));
  });

  it("admits one who comes back within the return window at the next free capacity, ahead of the line", async () => {
    // A shard of an open cohort that no citizen's key maps to (its number is past SHARDS), so the edge
    // answers its tickets' polls as any other's.
    const address: ShardAddress = { cohort: "55-59", shard: config.shards + crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000 };
    const stub = stubOf(address);
    const [away] = await joinAt(address, T0, 1);
    // Their page polled near the front a moment after they joined, then went silent.
    await setClock(stub, T0 + 2_000);
    await stub.seen([[away!.seq, away!.ticketId]]);
    const T1 = T0 + PRESENCE_MS + 60_000;
    const line = await joinAt(address, T1, CAP + 1);
    // Fill the cap: the absent holder is passed over, then CAP people get in, one a turn.
    let t = T1;
    for (let i = 0; i < CAP + 1; i++) {
      t += ONE_TURN_MS;
      await setClock(stub, t);
      await stub.snapshot();
    }
    let snap = await stub.snapshot();
    expect(snap.active).toBe(CAP);
    const last = line[CAP]!;
    expect((await stub.claim(last.seq, last.ticketId)).state).toBe("waiting");

    // The first holder comes back (their page polls): next, behind nobody, but the cap is full.
    const ticket = await signTicket(config, { sub: away!.key, jti: away!.ticketId, cohort: address.cohort, shard: address.shard, seq: away!.seq }, Date.now());
    const res = await getStatus(ticket);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: "waiting", seq: away!.seq, ahead: 0, cameBack: true });
    const back = await stub.claim(away!.seq, away!.ticketId);
    expect(back.state).toBe("returning");
    expect(back.returnedAhead).toBe(0);
    snap = await stub.snapshot();
    expect(snap.returning).toBe(1);

    // A booking frees one place: it goes to the one who came back, not to the next in the line.
    const first = line[0]!;
    expect((await stub.claim(first.seq, first.ticketId)).state).toBe("admitted");
    await stub.complete(first.seq, first.ticketId);
    t += ONE_TURN_MS;
    await setClock(stub, t);
    expect((await stub.claim(away!.seq, away!.ticketId)).state).toBe("admitted");
    expect((await stub.claim(last.seq, last.ticketId)).state).toBe("waiting");
  });

  it("keeps the place of one who joins again within the window, and gives a new place after it", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    // The first goes straight in with the banked admission (and lets it lapse); the two behind it are the test's.
    const [, early, late] = await joinAt(address, T0, 3);
    const T1 = T0 + PRESENCE_MS + 60_000;
    // Both away when the line reaches them: passed over.
    await setClock(stub, T1);
    const snap = await stub.snapshot();
    expect(snap.serving).toBe(3);
    expect(snap.active).toBe(0);

    // Signing in again within the window is coming back: the same ticket, then admitted.
    await setClock(stub, T1 + RETURN_MS - 1_000);
    const again = await stub.join(early!.key);
    expect(again).toMatchObject({ ticketId: early!.ticketId, seq: early!.seq, replacedExpired: false });
    expect((await stub.claim(early!.seq, early!.ticketId)).state).toBe("admitted");

    // After the window the place is gone: a status says so, and a join is a new place at the back.
    await setClock(stub, T1 + RETURN_MS + 1_000);
    expect((await stub.claim(late!.seq, late!.ticketId)).state).toBe("expired");
    const fresh = await stub.join(late!.key);
    expect(fresh.replacedExpired).toBe(true);
    expect(fresh.seq).toBe(4);
  });

  it("lets one whose admission lapsed unclaimed come back within the window", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const [lapsing] = await joinAt(address, T0, 1);
    expect((await stub.snapshot()).serving).toBe(1);
    // Admitted but never claimed: after the claim window the admission lapses and frees its capacity.
    await setClock(stub, T0 + config.claimWindowSeconds * 1000 + 1_000);
    expect((await stub.snapshot()).active).toBe(0);
    const back = await stub.claim(lapsing!.seq, lapsing!.ticketId);
    expect(back.state).toBe("admitted");
  });

  it("hears of the polls near the front only, in one call, after the answer", async () => {
    // A paused cohort's shard: nothing moves, so the test sees what the polls alone do.
    const address: ShardAddress = { cohort: "paused", shard: config.shards + crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000 };
    const stub = stubOf(address);
    const now = Date.now();
    // Past the horizon at this cohort's rate (6 a minute over 4 shards) and an hour's presence: 181 turns,
    // counting the share of those ahead likely there before anyone was reached (PRESENT_PRIOR_SHARE).
    await setClock(stub, now - PRESENCE_MS - 60_000);
    const keys = await Promise.all(Array.from({ length: 250 }, () => keyOf(randomIdentity())));
    const line = (await Promise.all(keys.map(async (key) => ({ key, ...(await stub.join(key)) })))).sort((a, b) => a.seq - b.seq);
    await setClock(stub, now);
    const seenAt = (seq: number) =>
      runInDurableObject(stub, (_shard: QueueShard, state) => state.storage.sql.exec<{ seen_at: number }>("SELECT seen_at FROM tickets WHERE seq = ?", seq).one().seen_at);
    const poll = async (t: (typeof line)[number]) => {
      const ticket = await signTicket(config, { sub: t.key, jti: t.ticketId, cohort: address.cohort, shard: address.shard, seq: t.seq }, Date.now());
      const res = await getStatus(ticket);
      expect(res.status).toBe(200);
      await res.body?.cancel();
    };
    const near = line[1]!;
    const far = line[249]!;
    const before = await seenAt(near.seq);
    await poll(far);
    await poll(near);
    // The report goes after the answer (waitUntil): wait for it, never for longer than a few seconds.
    for (let i = 0; i < 100 && (await seenAt(near.seq)) === before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await seenAt(near.seq)).toBe(now);
    expect(await seenAt(far.seq)).toBe(before);
    const calls = await runInDurableObject(stub, (shard: TestQueueShard) => shard.calls.seen);
    expect(calls).toBe(1);
  }, 30_000);
});

describe("a pass holds capacity only while used", () => {
  it("stops holding it after PASS_IDLE_SECONDS without a request, and holds it again when used through the gate", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    const start = Date.now();
    const [citizen] = await joinAt(address, start, 1);
    const claim = await stub.claim(citizen!.seq, citizen!.ticketId);
    expect(claim.state).toBe("admitted");
    expect((await stub.snapshot()).active).toBe(1);

    // Idle past PASS_IDLE_SECONDS: no longer counted, though the pass stays valid for booking.
    const idle = start + config.passIdleSeconds * 1000 + 1_000;
    await setClock(stub, idle);
    expect((await stub.snapshot()).active).toBe(0);
    expect((await stub.claim(citizen!.seq, citizen!.ticketId)).state).toBe("admitted");

    // A request through the gate with the pass (the origin is absent here: 503, but the pass was used).
    const pass = await signPass(config, { sub: citizen!.key, jti: citizen!.ticketId, cohort: address.cohort, shard: address.shard, seq: citizen!.seq, iat: claim.pass!.iat, exp: claim.pass!.exp });
    const res = await SELF.fetch(`${ORIGIN}/api/bookings/me`, { headers: { authorization: `Bearer ${pass}` } });
    await res.body?.cancel();
    let active = 0;
    for (let i = 0; i < 100 && active === 0; i++) {
      active = (await stub.snapshot()).active;
      if (active === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(active).toBe(1);
    // …for PASS_IDLE_SECONDS from that request (on the shard's clock), then not.
    await setClock(stub, idle + config.passIdleSeconds * 1000 + 1_000);
    expect((await stub.snapshot()).active).toBe(0);
  });
});
