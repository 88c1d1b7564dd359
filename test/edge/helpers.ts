import { env, runInDurableObject, SELF } from "cloudflare:test";
import { joinResponse, queueStatus } from "../../src/contract/queue.js";
import { errorBody } from "../../src/contract/errors.js";
import { citizenKey, shardOf } from "../../src/edge/citizen-key.js";
import { edgeConfig } from "../../src/edge/config.js";
import type { QueueShard, ShardAddress } from "../../src/edge/queue-shard.js";
import { shardStub } from "../../src/edge/shard-client.js";

export const config = edgeConfig(env);
export const ORIGIN = "https://edge.test";
/** A birth date in the open test cohort (55-59) and one in the cohort that opens in 2099. */
export const OPEN_BIRTH_DATE = "1964-05-17";
export const CLOSED_BIRTH_DATE = "1970-01-02";

/** A shard of a cohort no other test uses, so tests never share a line. */
export function freshShard(shard = 0): ShardAddress {
  return { cohort: `t-${crypto.randomUUID().slice(0, 8)}`, shard };
}

export function stubOf(address: ShardAddress): DurableObjectStub<QueueShard> {
  return shardStub(env, address);
}

/** Sets the object's clock: the tests' way to let minutes pass. */
export async function setClock(stub: DurableObjectStub<QueueShard>, at: number): Promise<void> {
  await runInDurableObject(stub, (shard: QueueShard) => {
    shard.now = () => at;
  });
}

export async function callsOf(stub: DurableObjectStub<QueueShard>) {
  return runInDurableObject(stub, (shard: QueueShard) => ({ ...shard.calls }));
}

export function randomIdentity(): string {
  return `+82-10-${crypto.randomUUID()}`;
}

/** An identity whose citizen key lands in the given shard of the open cohort. */
export async function identityInShard(shard: number): Promise<string> {
  for (;;) {
    const identity = randomIdentity();
    if (shardOf(await citizenKey(config.citizenKeySecret, identity), config.shards) === shard) return identity;
  }
}

export async function postJoin(body: unknown, init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/queue/join`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(init.headers ?? {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  } as RequestInit);
}

export async function join(identity: string, birthDate = OPEN_BIRTH_DATE) {
  const res = await postJoin({ identity, birthDate });
  if (res.status !== 200) throw new Error(`join answered ${res.status}: ${await res.text()}`);
  return joinResponse.parse(await res.json());
}

export async function getStatus(ticket: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
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
