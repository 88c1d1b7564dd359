import { once } from "node:events";
import { request } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorBody } from "../../src/contract/errors.js";
import { startEdgeFront, type EdgeFront } from "../../scripts/edge-front.js";

/**
 * What the edge's front (scripts/edge-front.ts) tells a client whose request workerd was answering when it
 * died. The front's upstream here is a TCP server that writes what workerd writes and then dies the way a
 * kill -9 leaves it: the connection reset part-way through an answer, which a real workerd cannot be made
 * to do on cue. The whole stack's kill is bench/faults' workerd-kill scenario.
 */

/** How the stand-in answers: the bytes it writes, then whether it resets the connection or closes it. */
let script: { bytes: string; reset: boolean } = { bytes: "", reset: false };
let upstream: Server;
let front: EdgeFront;
let frontPort = 0;

beforeAll(async () => {
  upstream = createServer((socket: Socket) => {
    socket.once("data", () => {
      socket.write(script.bytes, () => {
        if (script.reset) socket.resetAndDestroy();
        else socket.end();
      });
    });
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  await new Promise<void>((resolve) => {
    front = startEdgeFront(0, resolve);
  });
  front.setRuntime((upstream.address() as AddressInfo).port);
  frontPort = (front.server.address() as AddressInfo).port;
});

afterAll(async () => {
  front?.close();
  upstream?.close();
});

function ask(): Promise<{ status: number; retryAfter?: string; text: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port: frontPort, path: "/api/cohorts", agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], text }));
      res.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

const BODY = JSON.stringify({ cohorts: [{ id: "born-1961", opensAt: "2026-12-06T09:00:00.000Z" }] });
const HEAD = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n`;

describe("the edge's front when workerd dies in the middle of an answer", () => {
  it("passes a whole answer on as it was given", async () => {
    script = { bytes: HEAD + BODY, reset: false };
    const answer = await ask();
    expect(answer).toEqual({ status: 200, retryAfter: undefined, text: BODY });
  });

  it("answers 503 unavailable with Retry-After, not a cut connection, when only the head arrived", async () => {
    script = { bytes: HEAD, reset: true };
    const answer = await ask();
    if ("error" in answer) throw new Error(`the client's connection was cut: ${answer.error}`);
    expect(answer.status).toBe(503);
    expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    expect(errorBody.parse(JSON.parse(answer.text)).error.code).toBe("unavailable");
  });

  it("answers 503 unavailable, not a cut connection, when half the body arrived", async () => {
    script = { bytes: HEAD + BODY.slice(0, BODY.length / 2), reset: true };
    const answer = await ask();
    if ("error" in answer) throw new Error(`the client's connection was cut: ${answer.error}`);
    expect(answer.status).toBe(503);
    expect(errorBody.parse(JSON.parse(answer.text)).error.code).toBe("unavailable");
  });

  it("answers 503 when workerd closes the connection cleanly before the answer's length was reached", async () => {
    script = { bytes: HEAD + BODY.slice(0, 10), reset: false };
    const answer = await ask();
    if ("error" in answer) throw new Error(`the client's connection was cut: ${answer.error}`);
    expect(answer.status).toBe(503);
  });
});
