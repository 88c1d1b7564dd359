import type { AddressInfo } from "node:net";
import { Agent, request, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../src/http/errors.js";
import { declaredLength, MAX_BODY_BYTES, readWithin } from "../../src/http/body-limit.js";
import { serveOrigin } from "../../src/origin/node-server.js";
import { chunkedUntilAnswered, rawExchange, shapedError } from "../support/raw-http.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { errorOf, openOrigin, type OriginApp } from "./support/origin.js";
import { signPass, type PassKeys } from "./support/passes.js";

/**
 * The origin reads every body through the one limit (src/http/body-limit.ts): the declared length is
 * refused before anything else runs, the bytes are counted as they arrive. And every answer, including
 * the ones Node's parser gives before the app runs, is in the error shape.
 */

// HTTP behaviour, not storage: the embedded database is enough.
const backend = backends.find((b) => b.name === "pglite")!;

let database: TestDatabase;
let keys: PassKeys;
let app: OriginApp;
let server: Server;
let port: number;

beforeAll(async () => {
  ({ database, keys, app } = await openOrigin(backend));
  server = await new Promise<Server>((resolve) => {
    const s = serveOrigin(app.fetch, { port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await database?.close();
});

/** A body that sends `total` bytes in `chunk`-byte pieces and counts what it sent. */
function countedStream(total: number, chunk: number) {
  const sent = { bytes: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent.bytes >= total) return controller.close();
      sent.bytes += chunk;
      controller.enqueue(new Uint8Array(chunk).fill(0x20));
    },
  });
  return { stream, sent };
}

describe("the one body limit", () => {
  const status = (f: () => unknown) => {
    try {
      f();
      return "ok";
    } catch (err) {
      return err instanceof ApiError ? err.status : "other";
    }
  };

  it("reads a declared length only as plain decimal digits, refusing one over the limit", () => {
    expect(declaredLength(undefined)).toBeUndefined();
    expect(declaredLength("0")).toBe(0);
    expect(declaredLength(String(MAX_BODY_BYTES))).toBe(MAX_BODY_BYTES);
    expect(declaredLength("000000000000000000012")).toBe(12);
    expect(status(() => declaredLength(String(MAX_BODY_BYTES + 1)))).toBe(413);
    expect(status(() => declaredLength("9".repeat(40)))).toBe(413);
    for (const bad of ["-1", "abc", "1e3", "0x10", "1, 2", "", "+5", "5.0", "Infinity"]) expect(status(() => declaredLength(bad)), bad).toBe(400);
  });

  it("stops reading a stream at the first chunk past the limit, and turns a broken stream into a 400", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    await expect(readWithin(endless)).rejects.toMatchObject({ status: 413 });
    // The limit's worth of chunks, the one that passed it, and whatever the stream queued ahead.
    expect(pulled).toBeLessThan(MAX_BODY_BYTES / 1024 + 4);

    async function* nodeChunks() {
      yield new Uint8Array(10);
      throw new Error("aborted");
    }
    await expect(readWithin(nodeChunks())).rejects.toMatchObject({ status: 400 });
    expect(await readWithin(null)).toHaveLength(0);
  });
});

describe("bodies at the origin", () => {
  it("a declared length over the limit is a 413 before the pass is even looked at", async () => {
    const res = await app.request("/api/bookings", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(MAX_BODY_BYTES + 1) },
      body: "{}",
    });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
  });

  it("a Content-Length that is not a non-negative integer is a 400", async () => {
    for (const length of ["-1", "abc", "1e3", "1, 2"]) {
      const res = await app.request("/api/bookings", { method: "POST", headers: { "content-type": "application/json", "content-length": length }, body: "{}" });
      expect(res.status, length).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_request");
    }
  });

  it("a body with no declared length is counted as it arrives and refused past the limit", async () => {
    const { stream, sent } = countedStream(4 * 1024 * 1024, 1024);
    const res = await app.request("/api/bookings", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await signPass(keys)}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    expect(sent.bytes).toBeLessThan(64 * 1024);
  });
});

describe("methods at the origin", () => {
  it("a known path with a wrong method is a 405 with Allow, before the pass or the database", async () => {
    for (const [method, path, allow] of [
      ["GET", "/api/bookings", "POST"],
      ["PUT", "/api/slots", "GET, HEAD"],
      ["POST", "/api/bookings/me", "GET, HEAD, PATCH, DELETE"],
    ] as const) {
      const res = await app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect((await errorOf(res)).code).toBe("method_not_allowed");
    }
    const unknown = await app.request("/api/nothing", { method: "PUT" });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe("not_found");
  });
});

describe("connections at the origin", () => {
  it("keeps an idle kept-alive connection open past Node's default 5 s, for the edge's pool to reuse", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ask = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/api/slots", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      expect((await ask()).reused).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 6_500));
      // Closed by the server, the socket would have left the agent's pool and this would open a new one.
      expect(await ask()).toEqual({ status: 401, reused: true });
    } finally {
      agent.destroy();
    }
  }, 15_000);
});

describe("what Node's parser refuses, in the error shape", () => {
  it("headers over 16 KB: 431", async () => {
    const { status, error } = shapedError(await rawExchange(port, `GET /api/slots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"a".repeat(20_000)}\r\n\r\n`));
    expect(status).toBe(431);
    expect(error.code).toBe("headers_too_large");
  });

  it("a malformed Content-Length, a garbled request line, a bad Host: 400", async () => {
    for (const request of [
      "POST /api/bookings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}",
      "POST /api/bookings HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
      "GARBAGE\r\n\r\n",
      "GET /api/slots HTTP/1.1\r\nHost: bad host\r\nConnection: close\r\n\r\n",
    ]) {
      const { status, error } = shapedError(await rawExchange(port, request));
      expect(status, request.split("\r\n")[0]).toBe(400);
      expect(error.code).toBe("invalid_request");
    }
  });

  it("a request without Host: 400 in the error shape, not Node's bare 400", async () => {
    for (const request of ["GET /api/slots HTTP/1.1\r\nConnection: close\r\n\r\n", "GET /api/slots HTTP/1.0\r\n\r\n", "POST /api/bookings HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"]) {
      const { status, error, head } = shapedError(await rawExchange(port, request));
      expect(status, request.split("\r\n")[0]).toBe(400);
      expect(error.code).toBe("invalid_request");
      expect(error.message).toMatch(/Host/);
      expect(head).toMatch(/\r\nconnection: close/i);
    }
  });

  it("CONNECT: a 405 in the error shape, not a silently closed connection", async () => {
    const { status, error } = shapedError(await rawExchange(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"));
    expect(status).toBe(405);
    expect(error.code).toBe("method_not_allowed");
  });

  it("a slow 64 MB chunked body is answered 413 while most of it is unsent, and the origin keeps serving", async () => {
    const total = 64 * 1024 * 1024;
    const { answer, sentWhenAnswered } = await chunkedUntilAnswered(
      port,
      `POST /api/bookings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${await signPass(keys)}\r\nTransfer-Encoding: chunked\r\n`,
      total,
    );
    const { status, error } = shapedError(answer);
    expect(status).toBe(413);
    expect(error.code).toBe("payload_too_large");
    expect(sentWhenAnswered).toBeLessThan(total / 16);

    const after = shapedError(await rawExchange(port, "GET /api/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    expect(after.status).toBe(404);
  });
});
