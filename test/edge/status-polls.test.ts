import { describe, expect, it } from "vitest";
import { DECISION_MS, MIN_SAMPLES } from "../../src/edge/origin-health/autopilot.js";
import { forgetSnapshots } from "../../src/edge/queue/snapshot-cache.js";
import { MAX_POLL_MS, MIN_POLL_MS, PAUSED_POLL_MS } from "../../src/edge/queue/wait-estimate.js";
import { callsOf, config, identityInShard, join, pollInIsolate, randomIdentity, setClock, status, stubOf } from "./helpers.js";

const COHORT = "55-59";

describe("status polls", () => {
  it("answers 1,000 polls of waiting tickets while reaching each Durable Object only a handful of times", async () => {
    // A line in one shard, long enough that most tickets stay waiting for the whole test, and with
    // enough tickets that no one of them polls past its own limit (POLL_LIMIT: 30 in 10 s).
    const shard = 1;
    const tickets: string[] = [];
    for (let i = 0; i < 56; i++) tickets.push((await join(await identityInShard(shard))).ticket);
    // Only tickets the line cannot reach during the burst: a ticket admitted mid-burst would rightly
    // call its object on every poll (to claim its pass), and a slow machine admits more people while
    // the line is being built. The shard admits at most its cap (2) plus a burst at once, so the twelve
    // tickets nearest the front are left out.
    const waiting: string[] = [];
    for (const t of tickets.slice(12)) if ((await status(t)).state === "waiting") waiting.push(t);
    expect(waiting.length).toBeGreaterThanOrEqual(40);

    const stubs = Array.from({ length: config.shards }, (_, s) => stubOf({ cohort: COHORT, shard: s }));
    const before = await Promise.all(stubs.map(callsOf));
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        // In the isolate: what is counted here is how this isolate's cache meets a burst of polls.
        pollInIsolate(waiting[i % waiting.length]!),
      ),
    );
    const elapsedMs = Date.now() - started;
    expect(answers.every((r) => r.status === 200)).toBe(true);
    const after = await Promise.all(stubs.map(callsOf));
    const reached = after.map((a, s) => {
      const b = before[s]!;
      return a.join + a.snapshot + a.claim + a.complete - (b.join + b.snapshot + b.claim + b.complete);
    });
    // The snapshot of a shard is cached for a second, and when it goes stale one poll refreshes it while
    // the others are served the stale one, so each object hears about once per second of polling, not once
    // per poll: the citizens' own shard, and the cohort's other shards, read for the count ahead.
    const bound = Math.ceil(elapsedMs / 1000) + 1;
    for (const calls of reached) expect(calls).toBeLessThanOrEqual(bound);
    // 100 joins and polls one after another before the burst: more than the default 5 s on a busy machine.
  }, 30_000);

  it("tells a waiting citizen the people ahead, an ETA range and a poll interval that grows with distance", async () => {
    const shard = 2;
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await join(await identityInShard(shard)));
    const last = await status(answers.at(-1)!.ticket);
    const earlier = await status(answers[4]!.ticket);
    // The shard's cap (2) holds everyone from the third ticket on for the claim window, so both wait.
    for (const s of [last, earlier]) {
      expect(s.state).toBe("waiting");
      expect(s.cohort).toBe(COHORT);
      expect(s.etaSeconds).not.toBeNull();
      expect(s.etaSeconds!.low).toBeLessThan(s.etaSeconds!.high);
      expect(s.nextPollMs).toBeGreaterThanOrEqual(MIN_POLL_MS);
      expect(s.nextPollMs).toBeLessThanOrEqual(MAX_POLL_MS);
    }
    expect(last.ahead).toBeGreaterThan(0);
    // The cap lets in two of the shard's eight: five are ahead of the last in its own shard, and 60 per minute
    // over 4 shards is one turn per 4 s there. The ETA says at least that per person.
    expect(last.ahead).toBeGreaterThanOrEqual(5);
    expect(last.etaSeconds!.low).toBeGreaterThanOrEqual(5 * 4);
    expect(earlier.ahead).toBeLessThan(last.ahead);
    expect(earlier.etaSeconds!.low).toBeLessThan(last.etaSeconds!.low);
    expect(earlier.nextPollMs).toBeLessThanOrEqual(last.nextPollMs);
  });

  it("hands the first citizen of an empty line a pass, the same pass id on every poll", async () => {
    const shard = 3;
    const { ticket } = await join(await identityInShard(shard));
    let s = await status(ticket);
    for (let i = 0; i < 20 && s.state !== "admitted"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      s = await status(ticket);
    }
    expect(s.state).toBe("admitted");
    const again = await status(ticket);
    const jti = (token: string) => JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti;
    expect(jti(again.pass!)).toBe(jti(s.pass!));
    expect(again.passExpiresAt).toBe(s.passExpiresAt);
  });

  it("while paused: says so, promises no time, and asks again at the paused interval", async () => {
    const { ticket } = await join(randomIdentity(), "1945-03-03");
    const s = await status(ticket);
    expect(s).toMatchObject({ state: "paused", cohort: "paused", etaSeconds: null, nextPollMs: PAUSED_POLL_MS });
    expect(s.originBusy).toBeUndefined();
  });

  it("says the booking system is busy when the autopilot cut the rate for its errors, and estimates at the cut rate", async () => {
    const cohort = "53-54";
    const shard = 3;
    const stub = stubOf({ cohort, shard });
    const mine = [];
    for (let i = 0; i < 4; i++) mine.push((await join(await identityInShard(shard), "1967-04-05")).ticket);
    forgetSnapshots();
    const before = await status(mine.at(-1)!);
    expect(before.state).toBe("waiting");
    expect(before.originBusy).toBeUndefined();

    await stub.reportHealth(Array.from({ length: MIN_SAMPLES }, () => ({ latencyMs: 40, outcome: "5xx" as const })));
    await setClock(stub, Date.now() + DECISION_MS);
    forgetSnapshots();
    const after = await status(mine.at(-1)!);
    expect(after).toMatchObject({ state: "waiting", originBusy: true });
    // Half the rate in force: the soonest turn is at least twice as far.
    expect(after.etaSeconds!.low).toBeGreaterThanOrEqual(2 * before.etaSeconds!.low - 1);
    // Another shard of the cohort, its origin healthy, says nothing of the kind.
    const other = await status((await join(await identityInShard(0), "1967-04-05")).ticket);
    expect(other.originBusy).toBeUndefined();
  });

  it("says the line moves as people finish when the shard is at its cap, and not before", async () => {
    const cohort = "53-54";
    const shard = 2;
    const stub = stubOf({ cohort, shard });
    const mine = [];
    for (let i = 0; i < 4; i++) mine.push((await join(await identityInShard(shard), "1967-04-05")).ticket);
    const front = (await stub.snapshot()).serving;
    forgetSnapshots();
    const early = await status(mine.at(-1)!);
    // The cap (two a shard) is not yet full: nothing slows the line.
    if (front < 2) expect(early.slowedBy).toBeUndefined();
    // A minute later the rate has let two in and the cap holds the rest: the page says why it waits.
    await setClock(stub, Date.now() + 60_000);
    forgetSnapshots();
    const full = await status(mine.at(-1)!);
    expect((await stub.snapshot()).active).toBe(2);
    expect(full).toMatchObject({ state: "waiting", slowedBy: "capacity" });
    expect(full.originBusy).toBeUndefined();
  });
});
