import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject, SELF, waitOnExecutionContext } from "cloudflare:test";
import { importJWK, SignJWT, type JWTPayload } from "jose";
import { inject } from "vitest";
import { joinResponse, queueStatus } from "../../src/contract/queue.js";
import { errorBody } from "../../src/contract/errors.js";
import { citizenKey, shardOf } from "../../src/edge/identity/citizen-key.js";
import { edgeConfig } from "../../src/edge/config.js";
import { mintOperatorSession } from "../../src/edge/operators/operator-tokens.js";
import { originBreaker } from "../../src/edge/origin-health/breaker.js";
import { forgetSamples } from "../../src/edge/origin-health/sample-buffer.js";
import type { ShardAddress } from "../../src/edge/queue/shard-name.js";
import { shardStub } from "../../src/edge/queue/shard-client.js";
import edgeWorker from "../workers/edge-test.js";
import type { TestQueueShard } from "../workers/test-queue-shard.js";
import type { TestCohortCoordinator } from "../workers/test-cohort-coordinator.js";

export const config = edgeConfig(env);
export const ORIGIN = "https://edge.test";
/** A birth date in the open test cohort (55-59) and one in the cohort that opens in 2099. */
export const OPEN_BIRTH_DATE = "1964-05-17";
export const CLOSED_BIRTH_DATE = "1970-01-02";

/** Forgets this isolate's held health samples, report times and the breaker's history: each test starts clean. */
export function forgetOriginHealth(): void {
  forgetSamples();
  originBreaker.reset();
}

/** A shard of a cohort no other test uses, so tests never share a line. */
export function freshShard(shard = 0): ShardAddress {
  return { cohort: `t-${crypto.randomUUID().slice(0, 8)}`, shard };
}

/** The shard as the test Worker binds it (wrangler.test.toml): the production object with the tests' clock and counters. */
export function stubOf(address: ShardAddress): DurableObjectStub<TestQueueShard> {
  return shardStub(env, address) as unknown as DurableObjectStub<TestQueueShard>;
}

/** Sets the object's clock: the tests' way to let minutes pass. */
export async function setClock(stub: DurableObjectStub<TestQueueShard>, at: number): Promise<void> {
  await runInDurableObject(stub, (shard: TestQueueShard) => {
    shard.setClock(() => at);
  });
}

/**
 * Restarts the object as the runtime does after an eviction or a crash: the instance and everything it
 * held in memory are dropped, calls under way fail, and the next call builds a new instance from its
 * SQLite storage. The fault suite's hook resets it from inside with `ctx.abort()`, the runtime's own way
 * to drop one instance and no other (the Workers vitest integration offers no per-object eviction on
 * this workerd). A reset breaks the stubs that saw it, as in production: callers go on with the new stub
 * this returns.
 */
export async function restartObject(stub: DurableObjectStub<TestQueueShard>): Promise<DurableObjectStub<TestQueueShard>> {
  const dropped = await runInDurableObject(stub, (shard: TestQueueShard) => shard);
  await stub.injectFault({ evict: true }).then(
    () => {
      throw new Error("the object was not reset: injectFault returned");
    },
    () => undefined,
  );
  const fresh = env.QUEUE_SHARD.get(stub.id) as unknown as DurableObjectStub<TestQueueShard>;
  // The tests share the object's isolate, so they can see that the next call meets a new instance.
  if ((await runInDurableObject(fresh, (shard: TestQueueShard) => shard)) === dropped) throw new Error("the object kept its instance");
  return fresh;
}

export async function callsOf(stub: DurableObjectStub<TestQueueShard>) {
  return runInDurableObject(stub, (shard: TestQueueShard) => ({ ...shard.calls }));
}

/** A citizen as the identity provider knows them: an opaque subject, fresh for every call. */
export function randomIdentity(): string {
  return `sub-${crypto.randomUUID()}`;
}

/** The citizen key the edge derives for a subject of the test provider. */
export function keyOf(subject: string): Promise<string> {
  return citizenKey(config.citizenKeySecret, { issuer: config.identity.issuer, subject });
}

/** An identity whose citizen key lands in the given shard of the open cohort. */
export async function identityInShard(shard: number): Promise<string> {
  if (!Number.isInteger(shard) || shard < 0 || shard >= config.shards) throw new Error(`no shard ${shard} among ${config.shards}`);
  // Keys are uniform over the shards: 200 tries miss one shard of 4 with odds of about 1 in 10^25.
  for (let tries = 0; tries < 200; tries++) {
    const identity = randomIdentity();
    if (shardOf(await keyOf(identity), config.shards) === shard) return identity;
  }
  throw new Error(`no identity found for shard ${shard} in 200 tries: is shardOf still uniform?`);
}

const idpKey = importJWK(inject("idpSigningJwk"), "RS256");

/**
 * An id_token as the test provider signs it for `subject` born on `birthdate`; `claims` overrides or
 * adds claims (undefined removes one), `header` the protected header.
 */
export async function idToken(subject: string, birthdate = OPEN_BIRTH_DATE, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: config.identity.issuer,
    aud: config.identity.clientId,
    sub: subject,
    iat: now,
    exp: now + 600,
    birthdate,
    phone_number_verified: true,
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const kid = inject("idpSigningJwk").kid;
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: "RS256", kid, typ: "JWT", ...header }).sign(await idpKey);
}

/**
 * A client address no other request of the run uses: the failed-sign-in limit is kept per address, so
 * tests that send bad tokens on purpose never spend each other's allowance.
 */
export function randomAddress(): string {
  // From the documentation prefix (RFC 3849): a header value only, never an address anything is sent to.
  const [a, b] = crypto.getRandomValues(new Uint16Array(2));
  return `2001:db8::${a!.toString(16)}:${b!.toString(16)}`;
}

export async function postJoin(body: unknown, init: RequestInit = {}): Promise<Response> {
  const { headers, ...rest } = init;
  return SELF.fetch(`${ORIGIN}/api/queue/join`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...rest,
    headers: { "content-type": "application/json", "cf-connecting-ip": randomAddress(), ...(headers as Record<string, string> | undefined) },
  } as RequestInit);
}

/** Joins as the citizen `identity` (a provider subject) with a freshly signed id_token. */
export async function join(identity: string, birthDate = OPEN_BIRTH_DATE) {
  const res = await postJoin({ idToken: await idToken(identity, birthDate) });
  if (res.status !== 200) throw new Error(`join answered ${res.status}: ${await res.text()}`);
  return joinResponse.parse(await res.json());
}

export async function getStatus(ticket: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
}

/**
 * Hands a request to the Worker's fetch handler inside the test's own isolate: the same module instance
 * SELF.fetch reaches, so the same module-level caches, but without the integration passing the request
 * through the Node process. For tests whose point is what one isolate does under hundreds of concurrent
 * requests (its snapshot cache and refresh coalescing); the request's waitUntil work is awaited too.
 */
export async function fetchInIsolate(input: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await edgeWorker.fetch(new Request(input, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A status poll through fetchInIsolate. */
export function pollInIsolate(ticket: string, init: RequestInit = {}): Promise<Response> {
  return fetchInIsolate(`${ORIGIN}/api/queue/status`, { ...init, headers: { authorization: `Bearer ${ticket}` } });
}

export async function status(ticket: string) {
  const res = await getStatus(ticket);
  if (res.status !== 200) throw new Error(`status answered ${res.status}: ${await res.text()}`);
  return queueStatus.parse(await res.json());
}

/** Asserts the one error shape and returns its code. */
export async function errorCode(res: Response): Promise<string> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.includes("application/json")) throw new Error(`error without JSON: ${res.status} ${type}`);
  return errorBody.parse(await res.json()).error.code;
}

/** Splits a compact JWT, for tests that tamper with one. */
export function jwtParts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } {
  const [h, p, s] = token.split(".") as [string, string, string];
  const decode = (part: string) => JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
  return { header: decode(h), payload: decode(p), signature: s };
}

export function encodePart(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The test cohort whose pre-queue ran and whose line opened in 2021 (vitest.config.ts); tests set shards back in time to join it. */
export const PREQUEUE_OPENED = {
  cohort: "pq-opened",
  birthDate: "1958-03-04",
  prequeueOpensAt: Date.parse("2021-07-01T10:00:00Z"),
  opensAt: Date.parse("2021-07-01T11:00:00Z"),
};

/**
 * A shard of the pre-queue cohort that no other test uses. Its number is past SHARDS, so no citizen's key
 * maps to it: only a test that calls it directly reaches it, with the cohort's real schedule.
 */
export function freshPrequeueShard(): ShardAddress {
  return { cohort: PREQUEUE_OPENED.cohort, shard: config.shards + crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000 };
}

/** A request as an operator signed in through the local one-time login (test/edge/operator-auth.test.ts covers the login). */
export async function asOperator(path: string): Promise<Response> {
  const session = await mintOperatorSession(config.operators.localSecret!);
  return SELF.fetch(`${ORIGIN}${path}`, { headers: { cookie: `wr_operator=${session}` } });
}

export function coordinatorOf(cohort: string): DurableObjectStub<TestCohortCoordinator> {
  return env.COHORT_COORDINATOR.getByName(cohort) as unknown as DurableObjectStub<TestCohortCoordinator>;
}

/** The shards of a fresh cohort, each keeping one line with the others, on the tests' clock. */
export async function coordinatedCohort(at: number) {
  const cohort = `t-${crypto.randomUUID().slice(0, 8)}`;
  const shards: Array<DurableObjectStub<TestQueueShard>> = [];
  for (let shard = 0; shard < config.shards; shard++) {
    const stub = stubOf({ cohort, shard });
    await stub.setCoordinated(true);
    await setClock(stub, at);
    shards.push(stub);
  }
  const coordinator = coordinatorOf(cohort);
  await setCoordinatorClock(coordinator, at);
  return { cohort, shards, coordinator };
}

export async function setCoordinatorClock(stub: DurableObjectStub<TestCohortCoordinator>, at: number): Promise<void> {
  await runInDurableObject(stub, (coordinator: TestCohortCoordinator) => coordinator.setClock(() => at));
}

/** One beat of the cohort at `at`: every shard's alarm runs (it reports), on the same clock as the coordinator. */
export async function beat(cohort: Awaited<ReturnType<typeof coordinatedCohort>>, at: number): Promise<void> {
  await setCoordinatorClock(cohort.coordinator, at);
  for (const stub of cohort.shards) {
    await setClock(stub, at);
    await runDurableObjectAlarm(stub);
  }
}
