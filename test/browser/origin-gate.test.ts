import { createServer, request as httpRequest, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { slotsResponse } from "../../src/contract/booking.js";
import { errorBody } from "../../src/contract/errors.js";
import { freePort, sleep, startStack, type Stack } from "./support/stack.js";
import { joinAs, statusOf, untilAdmitted } from "./support/app-client.js";

/**
 * The edge in front of the origin, with the stack as `npm start` runs it and a relay in between that the
 * test can make slow or absent. One admitted person at a time (MAX_ACTIVE=1), so whether a booking frees
 * capacity at once is visible: the next citizen gets in within seconds, not after the pass's 15 minutes.
 */

type RelayMode = "forward" | "stall" | "down";

/** Forwards to the origin, or holds every request unanswered, or drops the connection. */
async function startRelay(target: () => number): Promise<{ server: Server; port: number; mode: (m: RelayMode) => void }> {
  let mode: RelayMode = "forward";
  const server = createServer((req, res) => {
    if (mode === "stall") return;
    if (mode === "down") return req.socket.destroy();
    const upstream = httpRequest({ host: "127.0.0.1", port: target(), path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { server, port, mode: (m) => (mode = m) };
}

let stack: Stack;
let relay: Awaited<ReturnType<typeof startRelay>>;
let originPort = 0;

beforeAll(async () => {
  originPort = await freePort();
  relay = await startRelay(() => originPort);
  stack = await startStack(
    {
      SHARDS: "1",
      ADMIT_PER_MINUTE: "60",
      MAX_ACTIVE: "1",
      CLAIM_WINDOW_SECONDS: "60",
      PASS_TTL_SECONDS: "900",
      ORIGIN_URL: `http://127.0.0.1:${relay.port}`,
      // Each test has a cohort, and so a cap, of its own.
      COHORTS: cohortsBinding(["55-59", "53-54"]),
    },
    { origin: originPort },
  );
});

afterAll(async () => {
  await stack?.stop();
  relay?.server.closeAllConnections();
  await new Promise((r) => relay?.server.close(r));
});

const jti = (pass: string) => (JSON.parse(Buffer.from(pass.split(".")[1]!, "base64url").toString()) as { jti: string }).jti;

describe("the edge in front of the origin", () => {
  it("frees the citizen's capacity as soon as the origin confirms the booking", async () => {
    const a = await joinAs(stack, "1963-02-03");
    const admittedA = await untilAdmitted(stack, a.ticket, 15_000);
    expect(admittedA.state).toBe("admitted");

    const b = await joinAs(stack, "1963-02-03");
    // The cap is one: while A holds the pass, B waits, however many turns the rate would allow.
    await sleep(4_000);
    expect((await statusOf(stack, b.ticket)).state).toBe("waiting");

    const pass = { authorization: `Bearer ${admittedA.pass!}` };
    const listed = slotsResponse.parse(await (await fetch(`${stack.base}/api/slots?region=11`, { headers: pass })).json());
    const slot = listed.slots.find((s) => s.remaining > 0)!;
    const booked = await fetch(`${stack.base}/api/bookings`, { method: "POST", headers: { ...pass, "content-type": "application/json" }, body: JSON.stringify({ slotId: slot.id }) });
    expect(booked.status).toBe(201);

    // Without the edge telling the shard, B would wait for A's pass to expire (15 minutes).
    expect((await untilAdmitted(stack, b.ticket, 15_000)).state).toBe("admitted");
  });

  it("answers a retryable 503 when the origin is slow or down, and the citizen keeps pass and place", async () => {
    const c = await joinAs(stack, "1967-04-05");
    const admitted = await untilAdmitted(stack, c.ticket, 30_000);
    expect(admitted.state).toBe("admitted");
    const pass = { authorization: `Bearer ${admitted.pass!}` };

    // A region no test here has read: the edge has no list of its slots to serve while the origin is away
    // (a list it read within the last 10 s would be served, stale, instead of a 503).
    for (const mode of ["stall", "down"] as const) {
      relay.mode(mode);
      const res = await fetch(`${stack.base}/api/slots?region=26`, { headers: pass, signal: AbortSignal.timeout(30_000) });
      expect(res.status, mode).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      const body = errorBody.parse(await res.json());
      expect(body.error.code).toBe("unavailable");
      expect(body.error.retryAfterSeconds).toBeGreaterThan(0);
    }

    // Still admitted, with the same pass id: nothing was lost.
    const after = await statusOf(stack, c.ticket);
    expect(after.state).toBe("admitted");
    expect(jti(after.pass!)).toBe(jti(admitted.pass!));

    relay.mode("forward");
    const back = await fetch(`${stack.base}/api/slots?region=11`, { headers: { authorization: `Bearer ${after.pass!}` } });
    expect(back.status).toBe(200);
  });
});
