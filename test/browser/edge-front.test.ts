import { once } from "node:events";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorBody } from "../../src/contract/errors.js";
import { startStack, type Stack } from "./support/stack.js";

/**
 * The Node front `npm start` puts on the edge's port (scripts/edge-front.ts) does what Cloudflare's front
 * end does for a deployed Worker: it says who is asking (CF-Connecting-IP from the connection, whatever the
 * client wrote), hands the Worker's own refusals back as they were given, and does not read on after
 * refusing a body. The stack is started as `npm start` starts it.
 */

let stack: Stack;
let edgePort = 0;

beforeAll(async () => {
  stack = await startStack({});
  edgePort = Number(new URL(stack.base).port);
});

afterAll(async () => {
  await stack?.stop();
});

/** The error code of an answer's body in the one error shape; undefined for any other body. */
function errorCodeOf(text: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = errorBody.safeParse(json);
  return parsed.success ? parsed.data.error.code : undefined;
}

/** A request with `body`, on a kept-alive connection of `agent`: its status and error code, or the connection's error. */
function send(agent: Agent, method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; code?: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port: edgePort, method, path, agent, headers: { ...headers, "content-length": String(body.byteLength) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        const code = errorCodeOf(text);
        resolve({ status: res.statusCode ?? 0, ...(code !== undefined ? { code } : {}) });
      });
      res.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

/**
 * Sends `head`, then `piece` after `piece` without waiting for an answer (a client that does not read
 * one), until the server closes the connection or `totalBytes` are sent. The client stops writing at the
 * server's FIN (its socket ends); with `afterFin` its socket stays half-open and it goes on writing until
 * the connection is cut, as a client that has not yet looked at its socket does. Returns the answer's
 * status and error code, and how many bytes the server took before closing.
 */
async function uploadUntilClosed(head: string, piece: Buffer, totalBytes: number, { afterFin = false } = {}): Promise<{ status?: number; code?: string; sent: number; closed: boolean }> {
  const socket = connect({ port: edgePort, host: "127.0.0.1", allowHalfOpen: afterFin });
  await once(socket, "connect");
  let raw = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => (raw += chunk.toString("latin1")));
  socket.on("error", () => {});
  const gone = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  socket.write(`${head}\r\n`);
  let sent = 0;
  while (sent < totalBytes && !closed) {
    const flowing = socket.write(piece);
    sent += piece.byteLength;
    // A write the closed connection refuses ends the upload as its close does.
    if (!flowing) await Promise.race([once(socket, "drain").catch(() => undefined), gone]);
  }
  socket.destroy();
  const status = /^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1];
  const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  return { status: status === undefined ? undefined : Number(status), code: errorCodeOf(body), sent, closed };
}

describe("the edge's front", () => {
  it("sets CF-Connecting-IP from the connection: a client cannot escape the failed-identity limit by naming another address", async () => {
    const statuses: number[] = [];
    // The limit is 20 failed identity checks a minute per address: 50, each claiming another address,
    // overrun it in whichever minute most of them fall.
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${stack.base}/api/queue/join`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": `198.51.100.${i + 1}` },
        body: JSON.stringify({ idToken: `forged.${i}.token` }),
      });
      statuses.push(res.status);
      if (res.status === 429) expect(errorBody.parse(await res.json()).error.code).toBe("rate_limited");
      else await res.body?.cancel();
    }
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(statuses).toContain(429);
  });

  it("answers requests the Worker refuses without reading their multi-KB bodies with the Worker's own status, never a 503", async () => {
    const body = Buffer.alloc(6 * 1024, 0x7b);
    const cases = [
      { method: "POST", path: "/api/bookings", headers: { "content-type": "application/json" }, status: 401 },
      { method: "POST", path: "/api/queue/join", headers: { "content-type": "text/plain" }, status: 415 },
      { method: "POST", path: "/index.html", headers: { "content-type": "application/json" }, status: 405 },
      { method: "PUT", path: "/api/queue/join", headers: { "content-type": "application/json" }, status: 405 },
    ];
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    // Many, and 16 at a time: the answer was lost to a race in a few of every hundred.
    const total = 1_200;
    const wrong: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          const c = cases[next++ % cases.length]!;
          const answer = await send(agent, c.method, c.path, c.headers, body);
          if (!("status" in answer) || answer.status !== c.status || answer.code === undefined) wrong.push(`${c.method} ${c.path}: ${JSON.stringify(answer)}`);
        }
      }),
    );
    agent.destroy();
    expect(wrong.slice(0, 10), `${wrong.length} of ${total} wrong`).toEqual([]);
  });

  // Two uploads over the limit, of 256 MB each: one declared (refused before a byte of the body is read)
  // and one chunked (refused at the first chunk past the limit).
  const uploadBytes = 256 * 1024 * 1024;
  const declaredHead = `PUT /api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${uploadBytes}\r\n`;
  const block = Buffer.alloc(64 * 1024, 0x20);
  const chunkedHead = "POST /api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n";
  const frame = Buffer.concat([Buffer.from(`${block.byteLength.toString(16)}\r\n`), block, Buffer.from("\r\n")]);

  it("closes the connection after a 413 instead of reading the rest of the upload", async () => {
    const declared = await uploadUntilClosed(declaredHead, block, uploadBytes);
    const chunked = await uploadUntilClosed(chunkedHead, frame, uploadBytes);
    for (const upload of [declared, chunked]) {
      expect(upload.status).toBe(413);
      expect(upload.closed).toBe(true);
      // What the kernel buffers on both sides and what was in flight, not the upload.
      expect(upload.sent).toBeLessThan(uploadBytes / 16);
    }
    expect((await fetch(`${stack.base}/api/cohorts`)).status).toBe(200);
  });

  it("stops reading a refused upload whose client goes on sending after the FIN, and still answers it 413", async () => {
    // Such a client fills the buffers between it and a server that has stopped reading, waits, reads its
    // answer meanwhile, and is cut when the server gives up on it.
    const declared = await uploadUntilClosed(declaredHead, block, uploadBytes, { afterFin: true });
    const chunked = await uploadUntilClosed(chunkedHead, frame, uploadBytes, { afterFin: true });
    for (const upload of [declared, chunked]) {
      expect(upload.status).toBe(413);
      expect(upload.code).toBe("payload_too_large");
      expect(upload.sent).toBeLessThan(uploadBytes / 16);
      expect(upload.closed).toBe(true);
    }
    expect((await fetch(`${stack.base}/api/cohorts`)).status).toBe(200);
  });
});
