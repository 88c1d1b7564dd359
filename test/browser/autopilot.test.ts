import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinMany } from "../../bench/lib/edge-client.js";
import { idTokens } from "../../bench/lib/identity.js";
import { startEdge, type Edge } from "../../bench/lib/miniflare.js";
import { mintOperatorSession, OPERATOR_COOKIE } from "../../src/edge/operators/operator-tokens.js";
import { passOf, readBookings } from "./support/bookings-load.js";

/**
 * Issue 14's stack test: the edge in workerd (the bundle a deploy makes, through bench/lib/miniflare.ts)
 * in front of a real HTTP origin that this test slows down and speeds up again. One admitted citizen keeps
 * asking for its booking through the gate, as a crowd's bookings would, so the shard hears the origin's latency;
 * the admission pace is read from the shard's own counters (GET /api/ops/queue: admitted, and the rate in
 * force), never from the controller directly.
 *
 * AUTOPILOT_TIME_SCALE=20 makes the controller's intervals twenty times shorter (decide every 250 ms, climb
 * floor to ceiling in 15 s, let a latency cut settle 3 s), so a few seconds here are a minute of the real
 * controller; everything else is as deployed.
 */

const ADMIT_PER_MINUTE = 240;
const TIME_SCALE = 20;
// Wide apart, so a machine busy with other work does not make the quick origin look slow.
const TARGET_P95_MS = 200;
const SLOW_MS = 500;
const COHORT = "55-59";

let origin: Server;
let delayMs = 0;
/** What the origin answers: 200, or 500 while a test makes it fail. */
let originStatus = 200;
let originRequests = 0;
let edge: Edge;

interface OpsCohort {
  id: string;
  admitted: number;
  waiting: number;
  ratePerMinute: number;
  configuredPerMinute: number;
  origin: { errorShare: number | null; p95Ms: number | null };
  rateChange: { reason: string } | null;
}

async function cohortNow(at: Edge = edge): Promise<OpsCohort> {
  // The ops view is for operators: a session signed with this edge's OPERATOR_SECRET.
  const session = await mintOperatorSession(at.vars.OPERATOR_SECRET!);
  const res = await fetch(`${at.url}/api/ops/queue`, { headers: { cookie: `${OPERATOR_COOKIE}=${session}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { cohorts: OpsCohort[] };
  return body.cohorts.find((c) => c.id === COHORT)!;
}

/** Admissions per second over `seconds`, from the shard's counter, and the lowest rate in force seen. */
async function paceOver(seconds: number): Promise<{ perSecond: number; lowestRate: number; last: OpsCohort }> {
  const first = await cohortNow();
  let lowestRate = first.ratePerMinute;
  let last = first;
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 500));
    last = await cohortNow();
    lowestRate = Math.min(lowestRate, last.ratePerMinute);
  }
  return { perSecond: (last.admitted - first.admitted) / ((Date.now() - started) / 1000), lowestRate, last };
}

beforeAll(async () => {
  origin = createServer((req, res) => {
    originRequests++;
    setTimeout(() => {
      res.writeHead(originStatus, { "content-type": "application/json" });
      res.end(JSON.stringify(originStatus === 200 ? { slots: [] } : { error: { code: "internal", message: "failing on purpose" } }));
    }, delayMs);
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  const { port } = origin.address() as AddressInfo;
  edge = await startEdge({
    bundle: "edge",
    vars: {
      ORIGIN_URL: `http://127.0.0.1:${port}`,
      SHARDS: "1",
      ADMIT_PER_MINUTE: String(ADMIT_PER_MINUTE),
      MAX_ACTIVE: "10000",
      CLAIM_WINDOW_SECONDS: "900",
      // The line is joins that never poll; what is measured is the pace the autopilot allows, not presence.
      PRESENCE_SECONDS: "3600",
      AUTOPILOT: "true",
      ADMIT_FLOOR_PER_MINUTE: String(ADMIT_PER_MINUTE / 10),
      ORIGIN_TARGET_P95_MS: String(TARGET_P95_MS),
      AUTOPILOT_TIME_SCALE: String(TIME_SCALE),
    },
    // One admitted citizen's requests play a crowd's bookings here, far past what one person sends:
    // the per-pass limit (PASS_LIMIT) is raised for this edge, since what is measured is the origin's pace.
    rateLimits: { PASS_LIMIT: { limit: 100_000, period: 10 } },
  });
});

afterAll(async () => {
  await edge?.dispose();
  await new Promise((resolve) => origin?.close(resolve));
});

describe("admission that follows the origin's health, on the stack", () => {
  it("admits more slowly while the origin is slow, and returns to the configured pace after", async () => {
    // A line long enough to keep admitting at the full rate for the whole test (4 a second for ~60 s, and
    // up to 15 s more of healthy stretches measured again).
    const tickets = await joinMany(edge.url, await idTokens(0, 400), 8);
    const pass = await passOf(edge.url, tickets.find((t) => t.seq === 1)!.ticket);

    // The admitted citizen's requests through the gate (fewer a second while the origin is slow).
    const { statuses, stop } = readBookings(edge.url, pass);

    try {
      // A machine busy with other work (CI runs the suites side by side) can hold up this process, and
      // with it the test's origin, long enough for one decision window to look degraded; the autopilot is
      // right to cut then. So the healthy claim is made of a stretch with no cut in it, measured again at most
      // three times more while the rate climbs back; a cut in every stretch still fails the test.
      let healthy = await paceOver(5);
      for (let i = 0; i < 3 && healthy.lowestRate < ADMIT_PER_MINUTE; i++) healthy = await paceOver(5);
      delayMs = SLOW_MS;
      const slow = await paceOver(15);
      delayMs = 0;
      // The climb back: up to 15 s from the floor plus the gentle last tenth, in scaled time.
      let back = await paceOver(5);
      for (let i = 0; i < 8 && back.last.ratePerMinute < ADMIT_PER_MINUTE * 0.95; i++) back = await paceOver(5);
      const after = await paceOver(5);
      console.log(
        `[autopilot stack] admitted per second: healthy ${healthy.perSecond.toFixed(2)}, slow ${slow.perSecond.toFixed(2)} ` +
          `(rate in force down to ${slow.lowestRate.toFixed(1)}/min, p95 ${slow.last.origin.p95Ms} ms), after ${after.perSecond.toFixed(2)} ` +
          `(rate ${after.last.ratePerMinute}/min); origin requests ${originRequests}; gate answers ${JSON.stringify(Object.fromEntries(statuses))}`,
      );

      // Healthy: the configured pace (4 a second), within a counting second either way.
      expect(healthy.perSecond).toBeGreaterThan((ADMIT_PER_MINUTE / 60) * 0.75);
      expect(healthy.lowestRate).toBe(ADMIT_PER_MINUTE);
      expect(healthy.last.ratePerMinute).toBe(ADMIT_PER_MINUTE);
      // Slow: the shard's own counters show the rate cut for latency, and the pace fell with it.
      expect(slow.last.rateChange?.reason).toBe("latency above target");
      expect(slow.lowestRate).toBeLessThan(ADMIT_PER_MINUTE * 0.7);
      expect(slow.perSecond).toBeLessThan(healthy.perSecond * 0.8);
      expect(slow.last.origin.p95Ms).toBeGreaterThanOrEqual(SLOW_MS);
      // After: back at (or within a climb step or two of) the configured rate, and admitting at that pace.
      expect(after.last.ratePerMinute).toBeGreaterThanOrEqual(ADMIT_PER_MINUTE * 0.95);
      expect(after.last.ratePerMinute).toBeLessThanOrEqual(ADMIT_PER_MINUTE);
      expect(after.perSecond).toBeGreaterThan((ADMIT_PER_MINUTE / 60) * 0.75);
      expect(after.last.waiting).toBeGreaterThan(0);
      // A slow origin is not a failing one: the gate forwarded every read.
      expect([...statuses.keys()]).toEqual([200]);
    } finally {
      await stop();
    }
  });
});

describe("AUTOPILOT=false", () => {
  it("admits at the configured rate and forwards every request to a failing origin, with the usual short Retry-After", async () => {
    const off = await startEdge({
      bundle: "edge",
      vars: { ORIGIN_URL: edge.vars.ORIGIN_URL!, SHARDS: "1", ADMIT_PER_MINUTE: String(ADMIT_PER_MINUTE), MAX_ACTIVE: "10000", AUTOPILOT: "false", AUTOPILOT_TIME_SCALE: String(TIME_SCALE) },
    });
    try {
      const tickets = await joinMany(off.url, await idTokens(1_000, 20), 4);
      const pass = await passOf(off.url, tickets.find((t) => t.seq === 1)!.ticket);
      originStatus = 500;
      const before = originRequests;
      const answers: Array<[number, string | null]> = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${off.url}/api/slots?region=11`, { headers: { authorization: `Bearer ${pass}` } });
        answers.push([res.status, res.headers.get("retry-after")]);
        await res.arrayBuffer();
      }
      // No breaker: every request reached the origin, and each failure is the designed 503 with 3 s.
      expect(originRequests - before).toBe(20);
      expect(answers.every(([status, retryAfter]) => status === 503 && retryAfter === "3")).toBe(true);
      // No cut: twenty failures are far more than a decision needs, and far longer than one takes at this scale.
      await new Promise((r) => setTimeout(r, 1_500));
      const cohort = await cohortNow(off);
      expect(cohort.ratePerMinute).toBe(ADMIT_PER_MINUTE);
      expect(cohort.configuredPerMinute).toBe(ADMIT_PER_MINUTE);
      expect(cohort.rateChange?.reason).toBe("disabled");
    } finally {
      originStatus = 200;
      await off.dispose();
    }
  });
});
