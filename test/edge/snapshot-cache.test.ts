import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { burstFor, shardCap, shardRate } from "../../src/edge/shard/admission.js";
import { EXTRAPOLATION_HORIZON_MS, extrapolate } from "../../src/edge/queue/extrapolate.js";
import type { ShardSnapshot } from "../../src/edge/shard/snapshot.js";
import { ticketStatus } from "../../src/edge/queue/status.js";
import { cachedSnapshot, forgetSnapshots, REFRESH_TIMEOUT_MS, SNAPSHOT_TTL_MS } from "../../src/edge/queue/snapshot-cache.js";
import type { TicketFields } from "../../src/edge/tokens/ticket.js";
import { callsOf, config, freshShard, getStatus, join, ORIGIN, pollInIsolate, randomIdentity, setClock, stubOf } from "./helpers.js";

/**
 * The per-shard snapshot behind status polls: served stale while exactly one request refreshes it (no
 * poll ever awaits another request's promise), shared per location through the Cache API, and carried
 * forward by the admission rule between refreshes without ever admitting anyone.
 */

const COHORT = "55-59";
/** How long the objects are held busy: far longer than the Worker takes to reach them. */
const BUSY_MS = 300;
/** Far longer than any poll takes here, even with the objects busy. */
const POLL_DEADLINE_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Joins `n` citizens straight at a shard's object, as the Worker's join does, and returns their tickets. */
async function joinAt(address: { cohort: string; shard: number }, n: number): Promise<TicketFields[]> {
  const stub = stubOf(address);
  const tickets: TicketFields[] = [];
  for (let i = 0; i < n; i++) {
    const sub = `key-${crypto.randomUUID()}`;
    const joined = await stub.join(sub);
    tickets.push({ sub, jti: joined.ticketId, cohort: address.cohort, shard: address.shard, seq: joined.seq });
  }
  return tickets;
}

/** Whether this workerd keeps what is put in `caches.default` (it may be a no-op without a cache). */
async function locationCacheWorks(): Promise<boolean> {
  const key = `https://probe.waiting-room.internal/${crypto.randomUUID()}`;
  await caches.default.put(key, new Response("x", { headers: { "cache-control": "public, max-age=60" } }));
  return (await caches.default.match(key)) !== undefined;
}

describe("polls across a snapshot refresh", () => {
  it("answers 1,000 concurrent polls with 200 across a refresh whose requests were abandoned", async () => {
    // Enough tickets that none polls past POLL_LIMIT (30 in 10 s), across every shard of the cohort.
    const tickets: string[] = [];
    for (let i = 0; i < 48; i++) tickets.push((await join(randomIdentity())).ticket);
    for (const t of tickets) expect((await getStatus(t)).status).toBe(200);
    // Every shard's snapshot is now past its TTL: the next polls find it stale.
    await sleep(SNAPSHOT_TTL_MS + 100);

    // The objects are busy for a moment (as under a burst of joins), so a refresh stays under way.
    const stubs = Array.from({ length: config.shards }, (_, shard) => stubOf({ cohort: COHORT, shard }));
    const busy = Promise.all(stubs.map((stub) => runInDurableObject(stub, (_, state) => state.blockConcurrencyWhile(() => sleep(BUSY_MS)))));
    await sleep(20);
    // The first poll of each ticket starts the refreshes, and is then abandoned by its client, as when a
    // citizen closes the tab: a poll that waited on those requests' calls would never be answered.
    const abandon = new AbortController();
    const abandoned = tickets.map((t) => SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { authorization: `Bearer ${t}` }, signal: abandon.signal }));
    await sleep(50);
    abandon.abort();
    await Promise.allSettled(abandoned);

    // A poll left waiting on an abandoned request's call is never answered: each gets a deadline, so that
    // shows as a failed poll rather than a stuck test.
    const answers = await Promise.allSettled(
      Array.from({ length: 1_000 - tickets.length }, (_, i) =>
        // In the isolate, where the abandoned requests left the refresh: each poll is a request of its own.
        pollInIsolate(tickets[i % tickets.length]!, { signal: AbortSignal.timeout(POLL_DEADLINE_MS) }),
      ),
    );
    await busy;
    const statuses = answers.map((a) => (a.status === "fulfilled" ? a.value.status : "no answer"));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await Promise.all(answers.map((a) => (a.status === "fulfilled" ? a.value.body?.cancel() : undefined)));
  }, 60_000);

  it("serves the stale snapshot to every concurrent poll but one, which alone refreshes it from the object", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 3);
    const first = await cachedSnapshot(env, address, Date.now());
    // The line grows after the snapshot was taken: only a refreshed snapshot can know it.
    await joinAt(address, 4);
    const before = (await callsOf(stub)).snapshot;

    const later = first.fetchedAt + SNAPSHOT_TTL_MS + 1;
    const seen = await Promise.all(Array.from({ length: 50 }, () => cachedSnapshot(env, address, later)));
    expect((await callsOf(stub)).snapshot - before).toBe(1);
    const lastSeqs = seen.map((s) => s.snapshot.lastSeq);
    expect(lastSeqs.filter((n) => n === first.snapshot.lastSeq + 4)).toHaveLength(1);
    expect(lastSeqs.filter((n) => n === first.snapshot.lastSeq)).toHaveLength(49);

    // Once refreshed, everyone gets the new one, without another call.
    const after = await cachedSnapshot(env, address, later);
    expect(after.snapshot.lastSeq).toBe(first.snapshot.lastSeq + 4);
    expect((await callsOf(stub)).snapshot - before).toBe(1);
  });

  it("calls the object about once a second for polls that come one after another", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 3);
    forgetSnapshots();
    const before = (await callsOf(stub)).snapshot;
    // 50 polls, 100 ms apart on the Worker's clock, each after the previous one was answered: only the
    // snapshot's time-to-live keeps them from the object (there is never a refresh in flight to share).
    const start = Date.now();
    for (let i = 0; i < 50; i++) await cachedSnapshot(env, address, start + i * 100);
    // Five seconds of polling: about five calls (fewer if the runtime's own clock ran ahead of the steps).
    const calls = (await callsOf(stub)).snapshot - before;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(Math.ceil((50 * 100) / SNAPSHOT_TTL_MS) + 1);
  });

  it("lets a cold isolate's first polls wait briefly for the one call filling its cache, instead of each calling", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 3);
    forgetSnapshots();
    const before = (await callsOf(stub)).snapshot;
    const seen = await Promise.all(Array.from({ length: 50 }, () => cachedSnapshot(env, address, Date.now())));
    expect(seen.every((s) => s.snapshot.lastSeq === 3)).toBe(true);
    expect((await callsOf(stub)).snapshot - before).toBe(1);
  });

  it("does not let a refresh that never came back pin the stale snapshot", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 2);
    const first = await cachedSnapshot(env, address, Date.now());
    await joinAt(address, 1);
    const before = (await callsOf(stub)).snapshot;
    const noticed = first.fetchedAt + SNAPSHOT_TTL_MS;
    // The first refresh is still out (as a cancelled request's would be forever) when a poll comes after
    // REFRESH_TIMEOUT_MS: that poll refreshes with its own call instead of serving the stale one.
    const [, late] = await Promise.all([
      cachedSnapshot(env, address, noticed),
      cachedSnapshot(env, address, noticed + REFRESH_TIMEOUT_MS),
    ]);
    expect(late.snapshot.lastSeq).toBe(first.snapshot.lastSeq + 1);
    expect((await callsOf(stub)).snapshot - before).toBe(2);
  });
});

describe("snapshots per location", () => {
  it("gives a new isolate of the same location the snapshot another isolate fetched, without calling the object", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 2);
    const now = Date.now();
    const filled = await cachedSnapshot(env, address, now);
    const before = (await callsOf(stub)).snapshot;

    forgetSnapshots("isolate");
    const again = await cachedSnapshot(env, address, now);
    const calls = (await callsOf(stub)).snapshot - before;
    if (await locationCacheWorks()) {
      // The location's cache answered: same snapshot, same moment, no call.
      expect(calls).toBe(0);
      expect(again).toEqual(filled);
    } else {
      // A workerd without a cache: the isolate cache alone does the job, one call per isolate.
      expect(calls).toBe(1);
      expect(again.snapshot.lastSeq).toBe(filled.snapshot.lastSeq);
    }
    // Either way the refreshed snapshot is in this isolate now: no further call within the TTL.
    await cachedSnapshot(env, address, now + SNAPSHOT_TTL_MS - 1);
    expect((await callsOf(stub)).snapshot - before).toBe(calls);
  });

  it("does not take a location snapshot older than the TTL", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 2);
    const filled = await cachedSnapshot(env, address, Date.now());
    await joinAt(address, 1);
    const before = (await callsOf(stub)).snapshot;
    forgetSnapshots("isolate");
    const later = await cachedSnapshot(env, address, filled.fetchedAt + SNAPSHOT_TTL_MS);
    expect((await callsOf(stub)).snapshot - before).toBe(1);
    expect(later.snapshot.lastSeq).toBe(filled.snapshot.lastSeq + 1);
  });
  it("keeps answering from the isolate's cache when the location's cache fails", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await joinAt(address, 2);
    // The platform's cache, not ours, failing as a data center's cache may: every read and write throws.
    const cache = caches.default;
    const match = vi.spyOn(cache, "match").mockRejectedValue(new Error("cache unavailable"));
    const put = vi.spyOn(cache, "put").mockRejectedValue(new Error("cache unavailable"));
    try {
      const before = (await callsOf(stub)).snapshot;
      const now = Date.now();
      const filled = await cachedSnapshot(env, address, now);
      expect(match).toHaveBeenCalled();
      expect(put).toHaveBeenCalled();
      expect(filled.snapshot.lastSeq).toBe(2);
      const again = await cachedSnapshot(env, address, now + SNAPSHOT_TTL_MS - 1);
      expect(again).toEqual(filled);
      expect((await callsOf(stub)).snapshot - before).toBe(1);
    } finally {
      match.mockRestore();
      put.mockRestore();
    }
  });
});

describe("positions carried forward between refreshes", () => {
  const policyFor = (shard: number) => ({
    ratePerMinute: shardRate(config.admitPerMinute, config.shards),
    activeCap: shardCap(config.maxActive, config.shards, shard),
  });

  it("never moves past the last ticket, past the cap, or while paused, and never backwards", () => {
    // Many shapes of shard, at many ages of snapshot.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    let moved = 0;
    for (let i = 0; i < 2_000; i++) {
      const serving = random(50);
      const activeCap = 1 + random(10);
      const snap: ShardSnapshot = {
        lastSeq: serving + random(20),
        serving,
        active: random(activeCap + 3),
        activeCap,
        ratePerMinute: [0, 1, 15, 60, 600, 6_000][random(6)]!,
        observedPerMinute: null,
        paused: random(5) === 0,
        at: 1_000_000,
      };
      let previous = snap.serving;
      for (const elapsed of [-5_000, 0, 500, 1_000, 2_500, 4_000, 5_000, 60_000, 3_600_000]) {
        const next = extrapolate(snap, elapsed).serving;
        expect(next).toBeGreaterThanOrEqual(previous);
        expect(next).toBeLessThanOrEqual(snap.lastSeq);
        expect(next - snap.serving).toBeLessThanOrEqual(Math.max(0, snap.activeCap - snap.active));
        // No faster than the rule's rate over the horizon, plus the one burst it may bank.
        const span = Math.min(Math.max(0, elapsed), EXTRAPOLATION_HORIZON_MS);
        expect(next - snap.serving).toBeLessThanOrEqual(Math.floor((span * snap.ratePerMinute) / 60_000 + burstFor(snap.ratePerMinute)));
        if (snap.paused || elapsed <= 0) expect(next).toBe(snap.serving);
        previous = next;
      }
      if (previous > snap.serving) moved++;
    }
    // The property holds of something that does move.
    expect(moved).toBeGreaterThan(100);
  });

  it("moves a waiting citizen forward between refreshes, but only the object admits: the front asks it and waits", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    // The object's clock stands still, so it admits no one during the test, whatever time the Worker sees.
    const frozen = Date.now();
    await setClock(stub, frozen);
    const tickets = await joinAt(address, 6);
    const first = await cachedSnapshot(env, address, Date.now());
    const { serving, active, lastSeq } = first.snapshot;
    const { ratePerMinute, activeCap } = policyFor(address.shard);
    expect(active).toBeLessThan(activeCap);
    expect(lastSeq - serving).toBeGreaterThanOrEqual(3);
    const front = tickets.find((t) => t.seq === serving + 1)!;
    const next = tickets.find((t) => t.seq === serving + 2)!;

    // Long enough for the rule to admit one person at this shard's rate, short enough to be trusted.
    const elapsed = Math.ceil(60_000 / ratePerMinute) + 500;
    expect(elapsed).toBeLessThanOrEqual(EXTRAPOLATION_HORIZON_MS);
    const later = first.fetchedAt + elapsed;
    const claimsBefore = (await callsOf(stub)).claim;
    // The first request refreshes; the other two are answered from the stale snapshot, carried forward.
    const [, atFront, behind] = await Promise.all([
      cachedSnapshot(env, address, later),
      ticketStatus(env, config, front, later),
      ticketStatus(env, config, next, later),
    ]);
    // Carried forward one turn: the one behind the front is told no one is ahead (not the shard's count).
    expect(behind.status).toMatchObject({ state: "waiting", ahead: 0 });
    // The front was sent to the object, which has admitted no one: still waiting, no pass.
    expect(atFront.status.state).toBe("waiting");
    expect(atFront.pass).toBeUndefined();
    expect((await callsOf(stub)).claim - claimsBefore).toBe(1);

    // When the object does admit, the front gets its pass from it.
    await setClock(stub, frozen + 60_000);
    const admitted = await ticketStatus(env, config, front, later + SNAPSHOT_TTL_MS);
    expect(admitted.status.state).toBe("admitted");
    expect(admitted.pass).toBeDefined();
  });

  it("does not carry forward past the last ticket the snapshot knew of", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await setClock(stub, Date.now());
    await joinAt(address, 1);
    const first = await cachedSnapshot(env, address, Date.now());
    // The whole line is admitted and there is room for more: only the last ticket holds the count back.
    expect(first.snapshot.serving).toBe(first.snapshot.lastSeq);
    expect(first.snapshot.active).toBeLessThan(policyFor(address.shard).activeCap);
    // Joined after the snapshot: whatever the time, the snapshot cannot have admitted them, so they are
    // told to wait without asking the object.
    const [late] = await joinAt(address, 1);
    expect(late!.seq).toBe(first.snapshot.lastSeq + 1);
    const claimsBefore = (await callsOf(stub)).claim;
    const later = first.fetchedAt + EXTRAPOLATION_HORIZON_MS;
    const [, answer] = await Promise.all([cachedSnapshot(env, address, later), ticketStatus(env, config, late!, later)]);
    expect(answer.status.state).toBe("waiting");
    expect((await callsOf(stub)).claim - claimsBefore).toBe(0);
  });
});
