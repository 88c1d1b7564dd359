import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { okPerSecond, runLoad, shortfall } from "../../bench/lib/load.js";

/*
 * A count-bounded load is also bounded in time (issue 29): autocannon ignores its duration once given a
 * count, so a target too slow for the count ran on until the bench killed the load generator and lost
 * the whole suite. Against a server that answers each request after 100 ms, a count it cannot reach
 * must stop at the duration on its own and say what it got; a count it can reach stops at the count.
 */

const ANSWER_MS = 100;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((_req, res) => void setTimeout(() => res.end("ok"), ANSWER_MS));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("a load with a count", () => {
  it("stops at its time bound when the count cannot be reached in time, and says what it got", async () => {
    const started = Date.now();
    const r = await runLoad({ url, method: "GET", connections: 4, durationSeconds: 2, amount: 1_000_000, timeoutSeconds: 5 });
    // The child's start-up (tsx) and autocannon's 1 s sampling tick, nothing like the hard kill (37 s).
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stoppedBy).toBe("time");
    expect(r.amount).toBe(1_000_000);
    expect(r.durationSeconds).toBeGreaterThanOrEqual(2);
    expect(r.durationSeconds).toBeLessThan(4);
    // 4 connections, one answer per 100 ms each: about 40 answers a second.
    expect(r.requests).toBeGreaterThan(20);
    expect(r.requests).toBeLessThan(4 * (r.durationSeconds * 1000) / ANSWER_MS + 8);
    expect(okPerSecond(r)).toBeCloseTo(r.ok / r.durationSeconds);
    expect(shortfall(r)).toMatch(new RegExp(`^cut short by its time bound: ${r.requests} of 1,000,000 requests answered in \\d+\\.\\d s$`));
  });

  it("stops at its count when it can reach it, and is not flagged", async () => {
    const r = await runLoad({ url, method: "GET", connections: 4, durationSeconds: 30, amount: 20, timeoutSeconds: 5 });
    expect(r.stoppedBy).toBe("count");
    expect(r.requests).toBe(20);
    expect(r.durationSeconds).toBeLessThan(10);
    expect(shortfall(r)).toBeUndefined();
  });

  it("is timed to its last answer, not to autocannon's next sampling tick", async () => {
    // 4 connections, 12 requests: three rounds of one 100 ms answer each. autocannon ends the load at its
    // next 1 s tick and its own duration runs to it (about 1.0 s), which the rate must not count.
    const r = await runLoad({ url, method: "GET", connections: 4, durationSeconds: 30, amount: 12, timeoutSeconds: 5 });
    expect(r.stoppedBy).toBe("count");
    expect(r.ok).toBe(12);
    expect(r.durationSeconds).toBeGreaterThanOrEqual((3 * ANSWER_MS) / 1000);
    expect(r.durationSeconds).toBeLessThan(0.95);
    expect(okPerSecond(r)).toBeCloseTo(12 / r.durationSeconds);
  });
});
