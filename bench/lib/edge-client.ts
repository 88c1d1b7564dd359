/** Set-up calls to the edge from the bench process (not measured): joining citizens to get tickets. */
import { joinResponse } from "../../src/contract/queue.js";
import { runLoad, type LoadResult } from "./load.js";

/** A birth date in the 55-59 cohort of wrangler.toml, which opened in 2021. */
export const BIRTH_DATE = "1964-05-17";

/** The JSON body of a join with `{{n}}` in the identity, for the load generator. */
export function joinBodyTemplate(prefix: string): string {
  return JSON.stringify({ identity: `${prefix}-{{n}}`, birthDate: BIRTH_DATE });
}

/** A load of joins of distinct citizens (`<prefix>-<n>`) at `url`, from the load generator's process. */
export function joinLoad(
  url: string,
  prefix: string,
  opts: { connections: number; durationSeconds: number; amount?: number },
): Promise<LoadResult> {
  return runLoad({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: joinBodyTemplate(prefix),
    connections: opts.connections,
    durationSeconds: opts.durationSeconds,
    ...(opts.amount === undefined ? {} : { amount: opts.amount }),
    timeoutSeconds: 10,
  });
}

/** Joins `count` distinct citizens, `concurrency` at a time; returns their tickets and states. */
export async function joinMany(edgeUrl: string, prefix: string, count: number, concurrency = 16): Promise<Array<{ ticket: string; state: string; seq: number }>> {
  const out: Array<{ ticket: string; state: string; seq: number }> = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${edgeUrl}/api/queue/join`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ identity: `${prefix}-${i}`, birthDate: BIRTH_DATE }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 200) throw new Error(`join answered ${res.status}: ${await res.text()}`);
      const body = joinResponse.parse(await res.json());
      out.push({ ticket: body.ticket, state: body.status.state, seq: body.status.seq });
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
