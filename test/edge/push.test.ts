import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { pushPayload } from "../../src/contract/push.js";
import type { ShardStore } from "../../src/edge/shard/store.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import { config, errorCode, freshShard, identityInShard, join, jwtParts, keyOf, ORIGIN, randomIdentity, restartObject, setClock, stubOf } from "./helpers.js";

const LOCAL = inject("localPushService");
const SCRIPTED = inject("scriptedPushService");
const T0 = Date.parse("2026-03-01T11:00:00Z");

/** A subscription of the local push service (web-push-testing), for our application server key. */
async function localSubscription(): Promise<{ endpoint: string; keys: { p256dh: string; auth: string }; clientHash: string }> {
  const res = await fetch(`${LOCAL}/subscribe`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // web-push-testing takes the form-encoded strings its README's clients send.
    body: JSON.stringify({ userVisibleOnly: "true", applicationServerKey: env.VAPID_PUBLIC_KEY }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { endpoint: string; keys: { p256dh: string; auth: string }; clientHash: string } }).data;
}

/** What the local push service received for a subscription, decrypted. */
async function received(clientHash: string): Promise<string[]> {
  const res = await fetch(`${LOCAL}/get-notifications`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ clientHash }) });
  return ((await res.json()) as { data: { messages: string[] } }).data.messages;
}

/** Waits (real time: the queue's batches and retries run on the runtime's clock) until `check` holds. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Keys a browser would give, for subscriptions whose pushes go to the scripted service. */
const SOME_KEYS = { p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4", auth: "BTBZMqHH6r4Tts7J_aSIgg" };

function putSubscription(ticket: string | null, body: unknown): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/queue/push-subscription`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(ticket ? { authorization: `Bearer ${ticket}` } : {}) },
    body: JSON.stringify(body),
  });
}

/** A line of `n` on a fresh shard at T0 (the first is admitted at once, from the banked burst). */
async function lineOf(n: number) {
  const stub = stubOf(freshShard(0));
  await setClock(stub, T0);
  const tickets = [];
  for (let i = 0; i < n; i++) tickets.push(await stub.join(await keyOf(randomIdentity())));
  return { stub, tickets };
}

const storeOf = (shard: TestQueueShard) => (shard as unknown as { store: ShardStore }).store;
const subscriptionOf = (stub: DurableObjectStub<TestQueueShard>, seq: number) => runInDurableObject(stub, (shard: TestQueueShard) => storeOf(shard).pushSubscription(seq) ?? null);
/** Until when the ticket's admission holds capacity. */
const heldUntil = (stub: DurableObjectStub<TestQueueShard>, seq: number) => runInDurableObject(stub, (shard: TestQueueShard) => storeOf(shard).ticket(seq)?.active_until ?? null);
const noticesOf = (stub: DurableObjectStub<TestQueueShard>) => runInDurableObject(stub, (shard: TestQueueShard) => shard.noticesQueued());

describe("Web Push: the key and the subscription routes", () => {
  it("gives the application server key as PushManager.subscribe takes it", async () => {
    const res = await SELF.fetch(`${ORIGIN}/api/push/key`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ publicKey: env.VAPID_PUBLIC_KEY });
    expect(env.VAPID_PUBLIC_KEY).toMatch(/^B[A-Za-z0-9_-]{86}$/);
  });

  it("refuses a subscription without a ticket, to a push service not on https, or with keys of the wrong length", async () => {
    const good = { subscription: { endpoint: "https://push.example.net/send/x", keys: SOME_KEYS, expirationTime: null }, lang: "ko" };
    let res = await putSubscription(null, good);
    expect([res.status, await errorCode(res)]).toEqual([401, "invalid_ticket"]);
    // A shard of its own in this file, so that the admitted notice below meets an empty line.
    const { ticket } = await join(await identityInShard(3));
    for (const bad of [
      { ...good, subscription: { ...good.subscription, endpoint: "http://push.example.net/send/x" } },
      { ...good, subscription: { ...good.subscription, keys: { ...SOME_KEYS, p256dh: SOME_KEYS.p256dh.slice(0, 60) } } },
      { ...good, subscription: { ...good.subscription, keys: { ...SOME_KEYS, auth: "short" } } },
      { ...good, lang: "fr" },
    ]) {
      res = await putSubscription(ticket, bad);
      expect([res.status, await errorCode(res)]).toEqual([400, "invalid_request"]);
    }
  });
});

describe("Web Push: notices through the queue to the push service", () => {
  it("an admitted citizen's browser gets the admitted notice, encrypted for its keys, in its language and nothing of who they are", async () => {
    // Joining an empty line is admitted at once; the subscription then finds the admission to tell.
    const { ticket } = await join(await identityInShard(0));
    const sub = await localSubscription();
    const res = await putSubscription(ticket, { subscription: { endpoint: sub.endpoint, keys: sub.keys, expirationTime: null }, lang: "en" });
    expect(res.status).toBe(204);
    const messages = await eventually(() => received(sub.clientHash), (m) => m.length > 0);
    expect(messages).toHaveLength(1);
    const payload = pushPayload.strict().parse(JSON.parse(messages[0]!));
    expect(payload).toEqual({ cohort: "55-59", state: "admitted", url: "/", title: "It is your turn", body: expect.any(String) });
    // The push service took it: the shard knows, and keeps the admission at least a claim window from then.
    const { shard, seq } = jwtParts(ticket).payload as { shard: number; seq: number };
    const stub = stubOf({ cohort: "55-59", shard });
    const row = await eventually(() => subscriptionOf(stub, seq), (r) => r?.admitted_accepted_at !== null);
    expect(row?.admitted_accepted_at).toEqual(expect.any(Number));
  });

  it("a ticket near the front gets one near notice however often the line ticks or the object restarts, then one admitted notice", async () => {
    let { stub, tickets } = await lineOf(4);
    const third = tickets[2]!;
    const sub = await localSubscription();
    // Place 3, one admitted: within a minute of the shard's admissions (15 a minute here).
    expect(await stub.subscribePush(third.seq, third.ticketId, { endpoint: sub.endpoint, ...sub.keys }, "ko")).toBe(true);
    await stub.snapshot();
    await stub.snapshot();
    stub = await restartObject(stub);
    await setClock(stub, T0 + 1_000);
    await stub.snapshot();
    let queued = (await noticesOf(stub)).filter((n) => n.seq === third.seq);
    expect(queued.map((n) => n.kind)).toEqual(["near"]);
    const near = await eventually(() => received(sub.clientHash), (m) => m.length > 0);
    expect(JSON.parse(near[0]!)).toMatchObject({ state: "near", title: "곧 차례입니다" });
    // Its turn, once the first booking frees room (the shard's cap is 2): the admission is told once, even
    // with the tick run again and the object restarted.
    const first = tickets[0]!;
    await setClock(stub, T0 + 5_000);
    expect((await stub.claim(first.seq, first.ticketId)).state).toBe("admitted");
    expect(await stub.complete(first.seq, first.ticketId)).toEqual({ completed: true });
    await setClock(stub, T0 + 10_000);
    await stub.snapshot();
    stub = await restartObject(stub);
    await setClock(stub, T0 + 11_000);
    await stub.snapshot();
    await stub.snapshot();
    queued = (await noticesOf(stub)).filter((n) => n.seq === third.seq);
    expect(queued.map((n) => n.kind)).toEqual(["near", "admitted"]);
    const both = await eventually(() => received(sub.clientHash), (m) => m.length > 1);
    expect(both.map((m) => (JSON.parse(m) as { state: string }).state)).toEqual(["near", "admitted"]);
  });

  it("a push service that no longer knows the subscription (410) has it dropped", async () => {
    const { stub, tickets } = await lineOf(1);
    const sub = await localSubscription();
    const expired = await fetch(`${LOCAL}/expire-subscription/${sub.clientHash}`, { method: "POST" });
    expect(expired.status).toBe(200);
    const first = tickets[0]!;
    expect(await stub.subscribePush(first.seq, first.ticketId, { endpoint: sub.endpoint, ...sub.keys }, "ko")).toBe(true);
    expect(await eventually(() => subscriptionOf(stub, first.seq), (r) => r === null)).toBeNull();
  });

  it("a push service answering 503 gets the notice again later, until it takes it: once", async () => {
    const { stub, tickets } = await lineOf(1);
    const first = tickets[0]!;
    const id = crypto.randomUUID();
    expect(await stub.subscribePush(first.seq, first.ticketId, { endpoint: `${SCRIPTED}/flaky/${id}`, ...SOME_KEYS }, "ko")).toBe(true);
    const hits = () => fetch(`${SCRIPTED}/hits/flaky/${id}`).then((r) => r.json() as Promise<{ count: number; headers: Record<string, string> }>);
    // 503, 503, then 201 (the queue's retries wait 2 s, then 4 s).
    const seen = await eventually(hits, (h) => h.count >= 3, 30_000);
    expect(seen.count).toBe(3);
    expect(seen.headers).toMatchObject({ "content-encoding": "aes128gcm", urgency: "high", ttl: String(config.returnWindowSeconds) });
    expect(seen.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=B[\w-]{86}$/);
    expect(await eventually(() => subscriptionOf(stub, first.seq), (r) => r?.admitted_accepted_at !== null)).toMatchObject({ admitted_accepted_at: expect.any(Number) });
    expect((await noticesOf(stub)).length).toBe(1);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await hits()).count).toBe(3);
  }, 40_000);
});

describe("Web Push: the subscription ends with the ticket", () => {
  it("is dropped once the admission lapsed and the return window is over, and kept until then", async () => {
    const { stub, tickets } = await lineOf(1);
    const first = tickets[0]!;
    expect(await stub.subscribePush(first.seq, first.ticketId, { endpoint: `${SCRIPTED}/ok/${crypto.randomUUID()}`, ...SOME_KEYS }, "ko")).toBe(true);
    await eventually(() => subscriptionOf(stub, first.seq), (r) => r?.admitted_accepted_at !== null);
    const lapsedAt = (await heldUntil(stub, first.seq))!;
    // Lapsed, but the citizen may still come back: the subscription stays.
    await setClock(stub, lapsedAt + 60_000);
    await stub.snapshot();
    expect(await subscriptionOf(stub, first.seq)).not.toBeNull();
    await setClock(stub, lapsedAt + config.returnWindowSeconds * 1000 + 60_000);
    await stub.snapshot();
    expect(await subscriptionOf(stub, first.seq)).toBeNull();
    // Nothing to subscribe any more once the ticket is done with: a completed one is refused.
    const other = await lineOf(1);
    const t = other.tickets[0]!;
    expect((await other.stub.claim(t.seq, t.ticketId)).state).toBe("admitted");
    await other.stub.complete(t.seq, t.ticketId);
    expect(await other.stub.subscribePush(t.seq, t.ticketId, { endpoint: `${SCRIPTED}/ok/${crypto.randomUUID()}`, ...SOME_KEYS }, "ko")).toBe(false);
  });

  it("is gone when the page deletes it, and a wrong ticket id changes nothing", async () => {
    const { stub, tickets } = await lineOf(3);
    const third = tickets[2]!;
    const target = { endpoint: `${SCRIPTED}/ok/${crypto.randomUUID()}`, ...SOME_KEYS };
    expect(await stub.subscribePush(third.seq, "not-its-id", target, "ko")).toBe(false);
    expect(await stub.subscribePush(third.seq, third.ticketId, target, "ko")).toBe(true);
    await stub.unsubscribePush(third.seq, "not-its-id");
    expect(await subscriptionOf(stub, third.seq)).not.toBeNull();
    await stub.unsubscribePush(third.seq, third.ticketId);
    expect(await subscriptionOf(stub, third.seq)).toBeNull();
  });

  it("is gone when the citizen gives up the place, and a place given up takes none", async () => {
    const { stub, tickets } = await lineOf(3);
    const third = tickets[2]!;
    const target = { endpoint: `${SCRIPTED}/ok/${crypto.randomUUID()}`, ...SOME_KEYS };
    expect(await stub.subscribePush(third.seq, third.ticketId, target, "ko")).toBe(true);
    expect((await stub.leave(third.seq, third.ticketId)).state).toBe("left");
    expect(await subscriptionOf(stub, third.seq)).toBeNull();
    expect(await stub.subscribePush(third.seq, third.ticketId, target, "ko")).toBe(false);
  });
});

describe("Web Push: the booked notice", () => {
  it("tells the booking's code once the booking went through, then forgets the subscription", async () => {
    const { stub, tickets } = await lineOf(1);
    const first = tickets[0]!;
    const sub = await localSubscription();
    expect(await stub.subscribePush(first.seq, first.ticketId, { endpoint: sub.endpoint, ...sub.keys }, "ko")).toBe(true);
    expect((await stub.claim(first.seq, first.ticketId)).state).toBe("admitted");
    expect(await stub.complete(first.seq, first.ticketId, [], [], "K7M4QX9B")).toEqual({ completed: true });
    // Confirmed again (a replay): no second notice.
    expect(await stub.complete(first.seq, first.ticketId, [], [], "K7M4QX9B")).toEqual({ completed: true });
    const messages = await eventually(() => received(sub.clientHash), (m) => m.some((x) => x.includes('"booked"')));
    const booked = messages.map((m) => pushPayload.parse(JSON.parse(m))).filter((p) => p.state === "booked");
    expect(booked).toEqual([{ cohort: expect.stringMatching(/^t-/), state: "booked", url: "/", title: "예약이 확정되었습니다", body: "예약 코드 K7M4QX9B.", code: "K7M4QX9B" }]);
    expect(await eventually(() => subscriptionOf(stub, first.seq), (r) => r === null)).toBeNull();
    expect((await noticesOf(stub)).filter((n) => n.kind === "booked")).toHaveLength(1);
  });
});

describe("Web Push: the claim window counts from delivery", () => {
  it("holds an unclaimed admission a claim window from when the push service took its notice", async () => {
    const { stub, tickets } = await lineOf(1);
    const first = tickets[0]!;
    const windowMs = config.claimWindowSeconds * 1000;
    expect((await stub.snapshot()).serving).toBe(1);
    expect(await heldUntil(stub, first.seq)).toBe(T0 + windowMs);
    // Subscribed a minute after the admission (shard time): the notice goes out, and the push service takes it then.
    await setClock(stub, T0 + 60_000);
    expect(await stub.subscribePush(first.seq, first.ticketId, { endpoint: `${SCRIPTED}/ok/${crypto.randomUUID()}`, ...SOME_KEYS }, "en")).toBe(true);
    await eventually(() => subscriptionOf(stub, first.seq), (r) => r?.admitted_accepted_at !== null);
    expect(await heldUntil(stub, first.seq)).toBe(T0 + 60_000 + windowMs);
  });

  it("holds an unclaimed admission a claim window from the device's receipt, and only the first receipt counts", async () => {
    const { stub, tickets } = await lineOf(2);
    const [told, other] = [tickets[0]!, tickets[1]!];
    await setClock(stub, T0 + 4_000);
    await stub.snapshot();
    const id = crypto.randomUUID();
    // Pushes go to a service that takes them; its acceptance would hold too, so both tickets wait for it first.
    for (const t of [told, other]) expect(await stub.subscribePush(t.seq, t.ticketId, { endpoint: `${SCRIPTED}/ok/${id}-${t.seq}`, ...SOME_KEYS }, "ko")).toBe(true);
    await eventually(() => subscriptionOf(stub, other.seq), (r) => r?.admitted_accepted_at !== null);
    // The device shows the admission late in its claim window (120 s in the tests).
    const windowMs = config.claimWindowSeconds * 1000;
    await setClock(stub, T0 + windowMs - 5_000);
    await stub.pushReceived(told.seq, told.ticketId, "admitted");
    // A second report cannot stretch it further.
    await setClock(stub, T0 + 2 * windowMs - 10_000);
    await stub.pushReceived(told.seq, told.ticketId, "admitted");
    const at = T0 + windowMs + 30_000;
    await setClock(stub, at);
    // The other ticket's admission lapsed at its claim window (admitted and accepted at T0 + 4 s, shard time) ...
    expect(await heldUntil(stub, other.seq)).toBe(T0 + 4_000 + windowMs);
    // ... the one whose device showed the notice is held a claim window from the receipt, and claims its pass.
    expect(await heldUntil(stub, told.seq)).toBe(T0 + 2 * windowMs - 5_000);
    expect((await stub.claim(told.seq, told.ticketId)).state).toBe("admitted");
  });
});
