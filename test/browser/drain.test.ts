import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bookingResponse, slotsResponse } from "../../src/contract/booking.js";
import { errorBody } from "../../src/contract/errors.js";
import { joinResponse, queueStatus, type QueueStatus } from "../../src/contract/queue.js";
import { probeHttp } from "../../scripts/http-probe.js";
import { rawRequest } from "../support/raw-http.js";
import { idTokens, newPhone } from "./support/identity.js";
import { running, sleep, startStack, type Stack } from "./support/stack.js";

/**
 * Ctrl-C on `npm start` with requests in flight: the edge stops accepting, the requests that have started
 * are answered (a booking still reaches the origin, which is stopped only after the edge), and everything
 * is gone within the drain's bound even when a client never finishes its request.
 */

let stack: Stack;
let edgePort = 0;

beforeAll(async () => {
  stack = await startStack({
    SHARDS: "1",
    ADMIT_PER_MINUTE: "60",
    MAX_ACTIVE: "4",
    CLAIM_WINDOW_SECONDS: "300",
  });
  edgePort = Number(new URL(stack.base).port);
});

afterAll(async () => {
  await stack?.stop();
});

async function admittedPass(): Promise<string> {
  const [idToken] = await idTokens(stack, [{ phoneNumber: newPhone(), birthdate: "1963-02-03" }]);
  const joined = await fetch(`${stack.base}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ idToken }) });
  expect(joined.status).toBe(200);
  const { ticket } = joinResponse.parse(await joined.json());
  const deadline = Date.now() + 60_000;
  let s: QueueStatus;
  do {
    await sleep(500);
    const res = await fetch(`${stack.base}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
    s = queueStatus.parse(await res.json());
  } while (s.state !== "admitted" && Date.now() < deadline);
  expect(s.state).toBe("admitted");
  return s.pass!;
}

/** Whether a new connection to the edge gets an answer. */
function edgeAnswers(): Promise<boolean> {
  return probeHttp(`${stack.base}/api/cohorts`, () => true);
}

describe("Ctrl-C on npm start", () => {
  it("answers the requests in flight, refuses new ones, and stops within the drain's bound", async () => {
    const pass = await admittedPass();
    const slots = slotsResponse.parse(await (await fetch(`${stack.base}/api/slots?region=11`, { headers: { authorization: `Bearer ${pass}` } })).json());
    const slot = slots.slots.find((s) => s.remaining > 0)!;
    // The origin verifies passes with the edge's published keys: fetched (and cached) now, while the edge
    // still accepts connections, as they would be long before anyone pressed Ctrl-C.
    const mine = await fetch(`${stack.base}/api/bookings/me`, { headers: { authorization: `Bearer ${pass}` } });
    await mine.body?.cancel();
    expect(mine.status).toBeLessThan(500);
    expect(mine.status).not.toBe(401);
    const pids = { supervisor: stack.pid("supervisor"), edge: stack.pid("edge"), origin: stack.pid("origin"), idp: stack.pid("identity provider") };

    // Requests whose bodies trickle in over 3 s: in flight when Ctrl-C comes, 1 s after they start.
    const joinBody = JSON.stringify({ idToken: "x".repeat(64) });
    const slowJoin = rawRequest(edgePort, {
      head: `POST /api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${joinBody.length}\r\n`,
      body: joinBody,
      pieces: 30,
      everyMs: 100,
      waitMs: 30_000,
    });
    const bookingBody = JSON.stringify({ slotId: slot.id });
    const slowBooking = rawRequest(edgePort, {
      head: `POST /api/bookings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${pass}\r\nContent-Type: application/json\r\nContent-Length: ${bookingBody.length}\r\n`,
      body: bookingBody,
      pieces: bookingBody.length,
      everyMs: Math.ceil(3_000 / bookingBody.length),
      waitMs: 30_000,
    });
    // A client that never finishes its body: it must not hold the stack past the bound.
    const neverFinished = rawRequest(edgePort, {
      head: "POST /api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n",
      body: '{"idToken":',
      waitMs: 30_000,
    });
    await Promise.all([slowJoin.sent, slowBooking.sent, neverFinished.sent]);
    await sleep(1_000);

    // A terminal's Ctrl-C: SIGINT to npm start's process group (its children are in groups of their own).
    const signalledAt = Date.now();
    process.kill(-pids.supervisor, "SIGINT");

    // New connections stop being answered while the drain goes on.
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      refused = !(await edgeAnswers());
      if (!refused) await sleep(100);
    }
    expect(refused, stack.output()).toBe(true);

    const [join, booking] = await Promise.all([slowJoin.answer, slowBooking.answer]);
    expect(join.error, JSON.stringify(join)).toBeUndefined();
    expect(join.status).toBeGreaterThanOrEqual(400);
    expect(join.status).toBeLessThan(500);
    errorBody.parse(JSON.parse(join.body));
    // Answered by the origin, which the edge's drain kept up.
    expect(booking.status, JSON.stringify(booking)).toBe(201);
    expect(bookingResponse.parse(JSON.parse(booking.body)).booking.slot.id).toBe(slot.id);

    // Everything gone: bounded by 5 s for the edge and 5 s for the rest (plus a second each), generously.
    const deadline = signalledAt + 30_000;
    while (Object.values(pids).some(running) && Date.now() < deadline) await sleep(100);
    expect(Object.entries(pids).filter(([, pid]) => running(pid)), stack.output()).toEqual([]);
    expect(await neverFinished.answer).toBeDefined();
    expect(stack.output()).toMatch(/SIGINT: answering the requests in flight/);
    expect(stack.output()).not.toMatch(/exited \((code|signal) [^)]*\); restarting/);
  });
});
