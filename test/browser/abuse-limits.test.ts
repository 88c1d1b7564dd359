import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { joinResponse, queueStatus } from "../../src/contract/queue.js";
import { idTokens, newPhone } from "./support/identity.js";
import { operatorCookie } from "./support/operator.js";
import { sleep, startStack, type Stack } from "./support/stack.js";

/**
 * The flood of the first milestone's attack (one client inventing 4,000 citizens in 15 s, which filled the
 * active cap and cut the real pace from 600/min to 24/min), replayed against the stack as `npm start` runs
 * it. Invented or invalid tokens must get nowhere and be limited, and the real line must keep moving at
 * the configured pace while it happens: the pace is measured here, from the shard's own counters.
 */

const ADMIT_PER_MINUTE = 120;
// More than the window admits (40 at 120/min over 20 s), with room for those admitted while the crowd joins.
const HONEST = 90;
/** The flood lasts this long, so the pace is measured over a window of known length, whatever the flood's speed. */
const FLOOD_SECONDS = 20;
/** A bound on the flood's count as well as its time. */
const FLOOD_MAX_REQUESTS = 40_000;
const FLOOD_CONCURRENCY = 16;
const BIRTH = "1963-08-09";

const opsView = z.object({ cohorts: z.array(z.object({ id: z.string(), joined: z.number(), admitted: z.number(), active: z.number() })) });

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    SHARDS: "1",
    ADMIT_PER_MINUTE: String(ADMIT_PER_MINUTE),
    // Far above what the honest crowd needs, so the rate, not the cap, sets the pace being measured.
    MAX_ACTIVE: "1000",
    COHORTS: cohortsBinding(["55-59"]),
  });
});

/** The counters are the operators' view, so the test signs in as one with the link the stack printed. */
let operator: string | undefined;

afterAll(async () => {
  await stack?.stop();
});

async function cohortCounters() {
  operator ??= await operatorCookie(stack);
  const res = await fetch(`${stack.base}/api/ops/queue`, { headers: { cookie: operator } });
  expect(res.status).toBe(200);
  const cohort = opsView.parse(await res.json()).cohorts.find((c) => c.id === "55-59");
  if (!cohort) throw new Error("no 55-59 in the ops view");
  return { ...cohort, at: Date.now() };
}

function join(idToken: string): Promise<Response> {
  return fetch(`${stack.base}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
}

/** What a flooder can make without the provider: tokens signed with its own key, and junk. */
async function inventedTokens(count: number): Promise<string[]> {
  const { privateKey } = await generateKeyPair("RS256");
  const now = Math.floor(Date.now() / 1000);
  const signed = await Promise.all(
    Array.from({ length: Math.min(count, 200) }, (_, i) =>
      new SignJWT({ birthdate: BIRTH, phone_number_verified: true })
        .setProtectedHeader({ alg: "RS256", kid: `invented-${i % 3}` })
        .setIssuer(stack.idp)
        .setAudience("waiting-room-edge")
        .setSubject(`invented-${i}`)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey),
    ),
  );
  return Array.from({ length: Math.min(count, 4_000) }, (_, i) => (i % 4 === 3 ? `junk.${i}.token` : signed[i % signed.length]!));
}

describe("a flood of joins with invented identities", () => {
  it("is refused and limited, while the real line is admitted at the configured pace", async () => {
    // The honest crowd: distinct citizens the provider vouched for, all waiting in one shard.
    const tokens = await idTokens(stack, Array.from({ length: HONEST }, () => ({ phoneNumber: newPhone(), birthdate: BIRTH })));
    const tickets: string[] = [];
    for (const token of tokens) {
      const res = await join(token);
      expect(res.status).toBe(200);
      tickets.push(joinResponse.parse(await res.json()).ticket);
    }
    const lastHonest = tickets[tickets.length - 1]!;

    // The flooder also holds one real identity of its own and re-joins with it in a loop.
    const [flooderOwn] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate: BIRTH }]);
    const invented = await inventedTokens(FLOOD_MAX_REQUESTS);
    const outcomes = { invented: new Map<number, number>(), ownRejoins: [] as number[] };
    const retryAfter = new Set<string>();

    const before = await cohortCounters();
    const floodEnds = Date.now() + FLOOD_SECONDS * 1000;
    let next = 0;
    const flooder = async () => {
      while (Date.now() < floodEnds && next < FLOOD_MAX_REQUESTS) {
        const i = next++;
        const rejoin = i % 50 === 0;
        const res = await join(rejoin ? flooderOwn! : invented[i % invented.length]!);
        if (res.status === 429) retryAfter.add(res.headers.get("retry-after") ?? "none");
        await res.body?.cancel();
        if (rejoin) outcomes.ownRejoins.push(res.status);
        else outcomes.invented.set(res.status, (outcomes.invented.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, flooder));
    const after = await cohortCounters();

    // Nothing invented got in; past the failure limit (20 a minute per address) the answer is 429.
    const sent = [...outcomes.invented.values()].reduce((a, b) => a + b, 0);
    expect(sent).toBeGreaterThan(200);
    expect([...outcomes.invented.keys()].sort()).toEqual([401, 429]);
    // 20 failures a minute per address, in minutes aligned to the wall clock: a 20 s flood touches two at most.
    expect(outcomes.invented.get(401)).toBeGreaterThanOrEqual(20);
    expect(outcomes.invented.get(401)).toBeLessThanOrEqual(40);
    expect(retryAfter).toEqual(new Set(["60"]));
    // The flooder's own identity re-joins ten times a minute at most (two minutes' worth if the flood
    // straddles one's end), always to its one place.
    expect(outcomes.ownRejoins.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(outcomes.ownRejoins.every((s) => s === 200 || s === 429)).toBe(true);
    expect(outcomes.ownRejoins.filter((s) => s === 200).length).toBeLessThanOrEqual(20);
    expect(outcomes.ownRejoins).toContain(429);
    expect(after.joined - before.joined).toBe(1);

    // The pace the shard kept while the flood ran, from its own serving counter, over the whole window.
    expect(after.at - before.at).toBeGreaterThanOrEqual(FLOOD_SECONDS * 1000 - 1_000);
    const minutes = (after.at - before.at) / 60_000;
    const pace = (after.admitted - before.admitted) / minutes;
    console.log(`flood: ${sent} invented joins (${JSON.stringify(Object.fromEntries(outcomes.invented))}) in ${(minutes * 60).toFixed(1)} s; admitted meanwhile ${after.admitted - before.admitted} → ${pace.toFixed(0)}/min against ${ADMIT_PER_MINUTE}/min configured`);
    expect(after.admitted - before.admitted).toBeLessThan(HONEST);
    expect(pace).toBeGreaterThan(ADMIT_PER_MINUTE * 0.75);
    expect(pace).toBeLessThan(ADMIT_PER_MINUTE * 1.25);

    // And the last honest citizen is admitted, about when the rate says.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${stack.base}/api/queue/status`, { headers: { authorization: `Bearer ${lastHonest}` } });
      expect(res.status).toBe(200);
      if (queueStatus.parse(await res.json()).state === "admitted") break;
      if (Date.now() > deadline) throw new Error("the last honest citizen was not admitted within a minute of the flood");
      await sleep(1_000);
    }
  });
});
