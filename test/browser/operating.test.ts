import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opsQueue, type OpsQueue } from "../../src/contract/ops.js";
import { cohortsResponse, queueStatus, type QueueStatus } from "../../src/contract/queue.js";
import { joinAs } from "./support/app-client.js";
import { operatorCookie } from "./support/operator.js";
import { root, sleep, startStack, type Stack } from "./support/stack.js";

/**
 * Operating a live line without a restart: `npm run ops` (the real command, as an operator types it)
 * pauses a cohort, changes its rate and resumes it while citizens poll, and the running edge serves each
 * change without refusing or failing a request and without moving anyone's place. The change is kept
 * across a restart of `npm start` on the same state folder until `reset`, and so are the demo cohorts'
 * openings.
 */

/** The bound: a change is visible over HTTP this soon after the command returns. */
const VISIBLE_WITHIN_MS = 2_000;
const COHORT = "55-59";

let stack: Stack | undefined;
let stateRoot: string;
let edgeState: string;
/** The stack's own bindings: the demo cohorts (npm start's), a line that does not move by itself. */
const BINDINGS = { SHARDS: "1", ADMIT_PER_MINUTE: "1", MAX_ACTIVE: "1", CLAIM_WINDOW_SECONDS: "600" };

beforeAll(async () => {
  stateRoot = mkdtempSync(join(tmpdir(), "waiting-room-ops-"));
  edgeState = join(stateRoot, "edge-state");
  stack = await startStack(BINDINGS, { edgeState });
});

afterAll(async () => {
  await stack?.stop();
  rmSync(stateRoot, { recursive: true, force: true });
});

/** `npm run ops -- <args>` against the stack's state folder: its exit code and output. */
function ops(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "-s", "ops", "--", ...args], { cwd: root, env: { ...process.env, EDGE_STATE_DIR: edgeState, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("exit", (code) => resolve({ code, out, err }));
  });
}

async function opsView(s: Stack, cookie: string): Promise<OpsQueue> {
  const res = await fetch(`${s.base}/api/ops/queue`, { headers: { cookie } });
  expect(res.status, await res.clone().text()).toBe(200);
  return opsQueue.parse(await res.json());
}

/** Waits (up to VISIBLE_WITHIN_MS) until `seen` holds for what `look` answers; returns whether it did. */
async function visibleSoon<T>(look: () => Promise<T>, seen: (value: T) => boolean): Promise<boolean> {
  const deadline = Date.now() + VISIBLE_WITHIN_MS;
  for (;;) {
    if (seen(await look())) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/** Citizens polling as their pages do, a few at once, recording every answer that is not a plain 200. */
function pollers(s: Stack, tickets: string[]) {
  const failures: string[] = [];
  const seen = new Map<string, QueueStatus[]>(tickets.map((t) => [t, []]));
  let polls = 0;
  let running = true;
  const loop = async (ticket: string) => {
    while (running) {
      try {
        const res = await fetch(`${s.base}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` }, signal: AbortSignal.timeout(15_000) });
        const body = await res.text();
        polls++;
        if (res.status !== 200) failures.push(`${res.status} ${body}`);
        else seen.get(ticket)!.push(queueStatus.parse(JSON.parse(body)));
      } catch (err) {
        failures.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      }
      // The page's fastest pace near the front; within POLL_LIMIT (30 per 10 s per ticket).
      await sleep(400);
    }
  };
  const done = Promise.all(tickets.map(loop));
  return {
    failures,
    seen,
    polls: () => polls,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** The latest status each poller saw of its ticket. */
function latest(seen: Map<string, QueueStatus[]>, ticket: string): QueueStatus | undefined {
  return seen.get(ticket)!.at(-1);
}

describe("npm run ops against a running npm start", () => {
  it("pauses, changes the rate and resumes with no request failed and no place moved; kept across a restart until reset", async () => {
    let s = stack!;
    const openingsBefore = cohortsResponse.parse(await (await fetch(`${s.base}/api/cohorts`)).json()).cohorts;
    // The first citizen is let in and holds the one place of capacity; the others wait behind them.
    const citizens = [];
    for (let i = 0; i < 5; i++) citizens.push(await joinAs(s, "1964-05-17"));
    const tickets = citizens.map((c) => c.ticket);
    const waiting = tickets.slice(1);
    const cookie = await operatorCookie(s);
    expect((await opsView(s, cookie)).cohorts.find((c) => c.id === COHORT)!.policy).toEqual({ admitPerMinute: 1, maxActive: 1, paused: false });

    const polling = pollers(s, waiting);
    await sleep(1_500);

    const paused = await ops("pause", COHORT);
    expect(paused.code, paused.err).toBe(0);
    expect(paused.out).toContain(`Paused cohort ${COHORT}`);
    expect(paused.out).toMatch(/The running edge .* serves it now/);
    // Through the operators' view and through a citizen's own status, both public ends of the edge.
    expect(await visibleSoon(() => opsView(s, cookie), (v) => v.cohorts.find((c) => c.id === COHORT)!.policy.paused)).toBe(true);
    expect(await visibleSoon(async () => latest(polling.seen, waiting[0]!)?.state, (state) => state === "paused")).toBe(true);
    // The other cohorts are not paused.
    expect((await opsView(s, cookie)).cohorts.filter((c) => c.id !== COHORT).every((c) => !c.policy.paused)).toBe(true);

    const rated = await ops("rate", COHORT, "30");
    expect(rated.code, rated.err).toBe(0);
    expect(await visibleSoon(() => opsView(s, cookie), (v) => v.cohorts.find((c) => c.id === COHORT)!.policy.admitPerMinute === 30)).toBe(true);

    const resumed = await ops("resume", COHORT);
    expect(resumed.code, resumed.err).toBe(0);
    expect(await visibleSoon(() => opsView(s, cookie), (v) => !v.cohorts.find((c) => c.id === COHORT)!.policy.paused)).toBe(true);
    expect(await visibleSoon(async () => latest(polling.seen, waiting[0]!)?.state, (state) => state === "waiting")).toBe(true);

    // A bad overrides file is named on the edge's console and changes nothing; the edge keeps serving.
    const since = s.output().length;
    writeFileSync(join(edgeState, "operators.json"), '{"admitPerMinute": -5}');
    await visibleSoon(async () => s.output().slice(since), (out) => out.includes("still serving the previous settings"));
    expect(s.output().slice(since)).toMatch(/operators\.json: admitPerMinute must be above 0; still serving the previous settings/);
    const refusedStatus = await ops("status");
    expect(refusedStatus.code).toBe(1);
    expect(refusedStatus.err).toContain("npm run ops -- reset");
    // Put back as the last command left it.
    const again = await ops("rate", COHORT, "30");
    expect(again.code).toBe(1);
    writeFileSync(join(edgeState, "operators.json"), JSON.stringify({ cohorts: { [COHORT]: { admitPerMinute: 30, paused: false } } }));
    await sleep(1_500);

    await polling.stop();
    expect(polling.polls()).toBeGreaterThan(20);
    expect(polling.failures).toEqual([]);
    // Nobody's place moved: each ticket kept its place, never lost it, and the count ahead never grew.
    for (const ticket of waiting) {
      const statuses = polling.seen.get(ticket)!;
      expect(new Set(statuses.map((st) => st.seq)).size).toBe(1);
      expect(statuses.every((st) => st.state === "waiting" || st.state === "paused")).toBe(true);
      for (let i = 1; i < statuses.length; i++) expect(statuses[i]!.ahead).toBeLessThanOrEqual(statuses[i - 1]!.ahead);
    }
    const places = waiting.map((t) => latest(polling.seen, t)!.seq);

    const status = await ops("status");
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(new RegExp(`${COHORT} \\(Ages 55-59\\): open, admitting 30/min +\\[rate 30/min from ops override; not paused, from ops override\\]`));
    expect(status.out).toMatch(/53-54 \(Ages 53-54\): open, admitting 1\/min +\[rate 1\/min from environment; not paused, from wrangler\.toml\]/);
    expect(status.out).toMatch(/50-52 \(Ages 50-52\): not open yet \(opens \d{4}-\d\d-\d\d \d\d:\d\d KST\)/);

    // A restart of npm start on the same state folder: the override, the places and the openings stay.
    await s.stop();
    stack = undefined;
    s = stack = await startStack(BINDINGS, { edgeState });
    expect(s.output()).toContain(`Cohort ${COHORT} (Ages 55-59): admitting 30/min (npm run ops override)`);
    const cookie2 = await operatorCookie(s);
    expect((await opsView(s, cookie2)).cohorts.find((c) => c.id === COHORT)!.policy).toEqual({ admitPerMinute: 30, maxActive: 1, paused: false });
    expect(cohortsResponse.parse(await (await fetch(`${s.base}/api/cohorts`)).json()).cohorts.map((c) => [c.id, c.opensAt])).toEqual(openingsBefore.map((c) => [c.id, c.opensAt]));
    for (const [i, ticket] of waiting.entries()) {
      const res = await fetch(`${s.base}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
      expect(res.status).toBe(200);
      expect(queueStatus.parse(await res.json()).seq).toBe(places[i]);
    }

    const reset = await ops("reset");
    expect(reset.code, reset.err).toBe(0);
    expect(reset.out).toContain("Removed the operators' overrides");
    expect(await visibleSoon(() => opsView(s, cookie2), (v) => v.cohorts.find((c) => c.id === COHORT)!.policy.admitPerMinute === 1)).toBe(true);
    // Two starts of the whole stack and four reloads.
  }, 360_000);
});
