/**
 * Joining from the bench: the load of joins (from the load generator's process) and the set-up joins
 * that give a suite its tickets (from the bench process, not measured). Every join carries an id_token
 * of bench/lib/identity.ts's provider, a different citizen each, minted before any load starts.
 */
import { joinResponse } from "../../src/contract/queue.js";
import { idTokens, joinBody } from "./identity.js";
import { runLoad, type LoadResult } from "./load.js";

export { BIRTH_DATE } from "./identity.js";

/**
 * More requests per second than any join load here reaches: above the best the bare-counter baseline (a
 * request into a Durable Object that does nothing) has reached on any machine in bench/README, straight
 * to its Worker, which a join, doing strictly more, cannot beat. A load gets this many distinct tokens
 * per second it lasts, so it never has to send a token twice (load results report `bodies.reused`, which
 * stays 0; the baseline gets the same list).
 */
export const JOIN_RATE_CEILING = 12_000;

/**
 * The citizens of one edge: each call hands out the next unused ones, so no citizen joins twice on
 * that edge. A fresh edge (fresh storage and rate-limit state) starts a fresh range; the tokens come
 * from one pool per process, so later edges reuse them without minting again.
 */
export class Citizens {
  private next = 0;

  /** id_tokens of the next `count` citizens. */
  async idTokens(count: number): Promise<string[]> {
    const tokens = await idTokens(this.next, count);
    this.next += count;
    return tokens;
  }

  /** Join bodies (`{"idToken":…}`) of the next `count` citizens. */
  async joinBodies(count: number): Promise<string[]> {
    return (await this.idTokens(count)).map(joinBody);
  }

  /** Join bodies for a load of `seconds`: enough that no token is sent twice at any rate reached here. */
  joinBodiesFor(seconds: number): Promise<string[]> {
    return this.joinBodies(Math.ceil(seconds * JOIN_RATE_CEILING));
  }
}

/** A load of joins at `url`, one body per request in turn, from the load generator's process. */
export function joinLoad(
  url: string,
  bodies: string[],
  opts: { connections: number; durationSeconds: number; amount?: number },
): Promise<LoadResult> {
  return runLoad({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    bodies,
    connections: opts.connections,
    durationSeconds: opts.durationSeconds,
    ...(opts.amount === undefined ? {} : { amount: opts.amount }),
    timeoutSeconds: 10,
  });
}

/** Joins one citizen per id_token, `concurrency` at a time; returns their tickets and states. */
export async function joinMany(edgeUrl: string, tokens: string[], concurrency = 16): Promise<Array<{ ticket: string; state: string; seq: number }>> {
  const out: Array<{ ticket: string; state: string; seq: number }> = [];
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++]!;
      const res = await fetch(`${edgeUrl}/api/queue/join`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: joinBody(token),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 200) throw new Error(`join answered ${res.status}: ${await res.text()}`);
      const body = joinResponse.parse(await res.json());
      // A pre-queue ticket has no place (seq) until the opening: 0 here.
      out.push({ ticket: body.ticket, state: body.status.state, seq: body.status.seq ?? 0 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

export async function getJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url} answered ${res.status}: ${await res.text()}`);
  return res.json();
}
