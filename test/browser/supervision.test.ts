import { readFileSync } from "node:fs";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { bookingResponse, slotsResponse } from "../../src/contract/booking.js";
import { errorBody } from "../../src/contract/errors.js";
import { rawRequest, type RawRequest } from "../support/raw-http.js";
import { running, sleep, startStack, type Stack, type StackProcess } from "./support/stack.js";
import { joinAs, statusOf, untilAdmitted } from "./support/app-client.js";

/**
 * `npm start` as a product that survives: no request stops the edge, and a child killed outright is
 * restarted (and said so) while the others keep serving, without a citizen losing a place. The stack is
 * started exactly as `npm start` starts it; children are found by the pids it prints.
 */

let stack: Stack;
let edgePort = 0;

beforeAll(async () => {
  stack = await startStack({
    SHARDS: "1",
    ADMIT_PER_MINUTE: "60",
    // One admitted person per cohort at a time: later joiners keep waiting, so their places can be watched.
    // Each test joins a cohort of its own (50-52, 55-59, 53-54), so none waits behind another's citizens.
    MAX_ACTIVE: "1",
    CLAIM_WINDOW_SECONDS: "300",
    COHORTS: cohortsBinding(["55-59", "53-54", "50-52"]),
  });
  edgePort = Number(new URL(stack.base).port);
});

afterAll(async () => {
  await stack?.stop();
});

async function status(url: string): Promise<number | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return res.status;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Waits (bounded) until the stack's output matches `pattern` after `since` characters; returns the match. */
async function printed(pattern: RegExp, since: number, withinMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const m = pattern.exec(stack.output().slice(since));
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`the stack did not print ${pattern} within ${withinMs / 1000} s:\n${stack.output().slice(since)}`);
    await sleep(200);
  }
}

/** Waits (bounded) until `name` has a new pid and the supervisor says it serves again. */
async function restarted(name: StackProcess, oldPid: number, since: number): Promise<number> {
  await printed(new RegExp(`^${name} is serving again$`, "m"), since, 120_000);
  const pid = stack.pid(name);
  expect(pid).not.toBe(oldPid);
  expect(running(pid)).toBe(true);
  return pid;
}

/** The workerd process under the edge's pid (Linux lists a process's children in /proc). */
function workerdUnder(edgePid: number): number {
  const children = readFileSync(`/proc/${edgePid}/task/${edgePid}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
  const workerd = children.find((pid) => /^workerd\b/.test(readFileSync(`/proc/${pid}/comm`, "utf8").trim()));
  if (workerd === undefined) throw new Error(`no workerd among the edge's children (${children.join(", ")})`);
  return workerd;
}

/** One GET on a connection of its own: its status, headers and body, or the connection's error (ECONNREFUSED, ...). */
function getOnce(url: string): Promise<{ status: number; retryAfter?: string; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }));
      res.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

const TRUNCATED_ROOT = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n";

describe("npm start survives", () => {
  it("keeps serving after requests that once stopped the edge, without restarting it", async () => {
    const edgePid = stack.pid("edge");
    const since = stack.output().length;
    // The request that made `wrangler dev` exit: 100 bytes declared, 10 sent; then closed, or left hanging.
    const odd: RawRequest[] = [
      { head: TRUNCATED_ROOT, body: "0123456789", endAfter: true, waitMs: 3_000 },
      { head: TRUNCATED_ROOT, body: "0123456789", waitMs: 1_500 },
      { head: "POST /api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", body: '{"idToken":', endAfter: true, waitMs: 3_000 },
      { head: "POST /api/bookings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer x\r\nContent-Length: 100\r\n", body: '{"slotId":', endAfter: true, waitMs: 3_000 },
      { head: "PUT /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n", body: "x".repeat(1000), endAfter: true, waitMs: 3_000 },
      { head: "POST /api/queue/join HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n", body: "100\r\nabc", endAfter: true, waitMs: 3_000 },
      { head: "POST /api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n", body: "{}", waitMs: 3_000 },
      { head: "GET /api/cohorts HTTP/1.1\r\nHost: x\r\nX-Half: abc", unfinishedHead: true, endAfter: true, waitMs: 1_500 },
      { head: `GET /api/cohorts HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(200_000)}\r\n`, waitMs: 3_000 },
      { head: "\u0000\u0001\u0002 GARBAGE\r\n", waitMs: 3_000 },
      { head: "GET http://elsewhere.example/api/cohorts HTTP/1.1\r\nHost: x\r\n", waitMs: 3_000 },
      { head: "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n", waitMs: 3_000 },
      { head: "PRI * HTTP/2.0\r\n", body: "SM\r\n\r\n", waitMs: 3_000 },
    ];
    for (const request of odd) await rawRequest(edgePort, request).answer;
    // Slowloris: headers that never end, on many connections at once, while a citizen asks for the cohorts.
    const slow = Array.from({ length: 200 }, () => rawRequest(edgePort, { head: "GET /api/cohorts HTTP/1.1\r\nHost: x\r\n", unfinishedHead: true, waitMs: 3_000 }));
    await Promise.all(slow.map((s) => s.sent));
    expect(await status(`${stack.base}/api/cohorts`)).toBe(200);
    await Promise.all(slow.map((s) => s.answer));

    expect(await status(`${stack.base}/api/cohorts`)).toBe(200);
    const joined = await joinAs(stack, "1970-08-09");
    expect(joined.status.state).not.toBe("expired");
    // Still the same process: answering after a restart would not be surviving.
    expect(stack.pid("edge")).toBe(edgePid);
    expect(running(edgePid)).toBe(true);
    expect(stack.output().slice(since)).not.toMatch(/edge exited/);
  });

  it("restarts an origin killed with -9; meanwhile the edge serves and a booking is a retryable 503", async () => {
    const citizen = await joinAs(stack, "1964-05-17");
    const admitted = await untilAdmitted(stack, citizen.ticket, 60_000);
    expect(admitted.state).toBe("admitted");
    const pass = { authorization: `Bearer ${admitted.pass!}` };
    const listed = slotsResponse.parse(await (await fetch(`${stack.base}/api/slots?region=11`, { headers: pass })).json());
    const slot = listed.slots.find((s) => s.remaining > 0)!;
    const book = () => fetch(`${stack.base}/api/bookings`, { method: "POST", headers: { ...pass, "content-type": "application/json" }, body: JSON.stringify({ slotId: slot.id }) });

    const originPid = stack.pid("origin");
    const since = stack.output().length;
    process.kill(originPid, "SIGKILL");

    // The supervisor waits at least half a second before starting it again: this booking finds no origin.
    const during = await book();
    expect(during.status).toBe(503);
    expect(Number(during.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(errorBody.parse(await during.json()).error.code).toBe("unavailable");

    await printed(/^origin exited \(signal SIGKILL\); restarting in \d+\.\d s \(restart \d+\)$/m, since, 15_000);
    // The edge and the provider keep serving until the origin is back.
    let polls = 0;
    while (!/^origin is serving again$/m.test(stack.output().slice(since))) {
      expect(await status(`${stack.base}/api/cohorts`)).toBe(200);
      expect(await status(`${stack.idp}/.well-known/openid-configuration`)).toBe(200);
      polls += 1;
      if (polls > 400) throw new Error(`the origin did not come back:\n${stack.output().slice(since)}`);
      await sleep(300);
    }
    await restarted("origin", originPid, since);

    // The same pass books through the edge: nothing was recorded by the attempt that got the 503.
    const after = await book();
    expect(after.status, await after.clone().text()).toBe(201);
    expect(bookingResponse.parse(await after.json()).booking.slot.id).toBe(slot.id);
  });

  it("keeps the edge's port answering while workerd is killed and restarted: a shaped 503, never a refused connection", async () => {
    const citizen = await joinAs(stack, "1971-02-03");
    const edgePid = stack.pid("edge");
    const workerd = workerdUnder(edgePid);
    const since = stack.output().length;
    process.kill(workerd, "SIGKILL");

    // From the kill until the edge says workerd serves again, every request reaches the front and is
    // answered: 200 by a workerd already back, or the restart's 503.
    const answers: Array<Awaited<ReturnType<typeof getOnce>>> = [];
    do answers.push(await getOnce(`${stack.base}/api/cohorts`));
    while (!/workerd is serving again/.test(stack.output().slice(since)) && answers.length < 5_000);
    expect(answers.filter((a) => "error" in a)).toEqual([]);
    const unavailable = answers.filter((a) => "status" in a && a.status === 503);
    // workerd is gone the moment the kill returns, and its restart waits at least half a second.
    expect(answers[0]).toMatchObject({ status: 503 });
    for (const answer of unavailable) {
      if (!("status" in answer)) continue;
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
      expect(errorBody.parse(JSON.parse(answer.body)).error).toMatchObject({ code: "unavailable", retryAfterSeconds: Number(answer.retryAfter) });
    }
    expect(answers.filter((a) => "status" in a && a.status !== 503 && a.status !== 200)).toEqual([]);
    await printed(/workerd exited unexpectedly; restarting it in \d+\.\d s/, since, 1_000);

    // The edge itself never went away: the same process, a new workerd, the citizen's place kept.
    expect(stack.pid("edge")).toBe(edgePid);
    expect(stack.output().slice(since)).not.toMatch(/edge exited/);
    expect(workerdUnder(edgePid)).not.toBe(workerd);
    expect(await status(`${stack.base}/api/cohorts`)).toBe(200);
    const after = await statusOf(stack, citizen.ticket);
    expect([after.cohort, after.seq]).toEqual([citizen.status.cohort, citizen.status.seq]);
  });

  it("restarts an edge killed with -9, and waiting citizens keep their places", async () => {
    // One cohort, cap one: the first is admitted, the rest wait behind them.
    const citizens = [];
    for (let i = 0; i < 4; i++) citizens.push(await joinAs(stack, "1967-04-05"));
    const before = await Promise.all(citizens.map((c) => statusOf(stack, c.ticket)));
    expect(before.filter((s) => s.state === "waiting").length).toBeGreaterThan(0);

    const edgePid = stack.pid("edge");
    const since = stack.output().length;
    process.kill(edgePid, "SIGKILL");
    await printed(/^edge exited \(signal SIGKILL\); restarting in \d+\.\d s \(restart \d+\)$/m, since, 15_000);
    // The origin and the provider keep serving while the edge is away (the origin refusing a request
    // without the edge's pass, as it refuses every one).
    expect(await status(`${stack.origin}/api/slots?region=11`)).toBe(401);
    expect(await status(`${stack.idp}/.well-known/openid-configuration`)).toBe(200);
    await restarted("edge", edgePid, since);
    expect(await status(`${stack.base}/api/cohorts`)).toBe(200);

    const after = await Promise.all(citizens.map((c) => statusOf(stack, c.ticket)));
    for (const [i, s] of after.entries()) {
      expect(s.cohort).toBe(before[i]!.cohort);
      expect(s.seq).toBe(before[i]!.seq);
      expect(s.state).not.toBe("expired");
    }
  });
});
