/**
 * HTTP/1.1 over a bare TCP socket, for what fetch cannot send: bodies shorter than they declare, bodies
 * that trickle in or never end, headers never finished or too large, request lines no client would write.
 * The browser tests send these to the edge, the origin and provider tests to their Node servers.
 */
import { connect, type Socket } from "node:net";
import { errorBody, type ErrorBody } from "../../src/contract/errors.js";

export interface RawAnswer {
  /** The status of a complete answer; undefined when none came. */
  status?: number;
  /** The status line and headers, as they came (empty when no answer did). */
  head: string;
  /** The answer's body, de-chunked. */
  body: string;
  /** A socket error (ECONNRESET, ECONNREFUSED, …), if the connection ended with one. */
  error?: string;
}

export interface RawRequest {
  /** The request line and headers, each line ending in CRLF, without the blank line that ends them. */
  head: string;
  /** Written after the blank line (unless `unfinishedHead`). */
  body?: string | Buffer;
  /** Send the body in this many pieces, one every `everyMs`; 1 sends it at once. */
  pieces?: number;
  everyMs?: number;
  /** Never send the blank line that ends the headers (and no body). */
  unfinishedHead?: boolean;
  /** Half-close the socket after the last byte (a client that gave up sending). */
  endAfter?: boolean;
  /** Give up waiting for an answer after this long, and close the socket. */
  waitMs?: number;
}

export interface RawExchange {
  /** Resolves once the connection is open and the first bytes are written. */
  sent: Promise<void>;
  answer: Promise<RawAnswer>;
}

/** Decodes a chunked body; undefined until the last chunk has arrived. */
function dechunk(raw: string): string | undefined {
  let out = "";
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(raw.slice(at, lineEnd), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return out;
    const start = lineEnd + 2;
    if (raw.length < start + size + 2) return undefined;
    out += raw.slice(start, start + size);
    at = start + size + 2;
  }
}

/** Parses what arrived so far; returns the answer once it is complete (or, once `closed`, whatever there is). */
function complete(raw: string, closed = false): RawAnswer | undefined {
  const headEnd = raw.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const head = raw.slice(0, headEnd);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  if (!Number.isInteger(status)) return undefined;
  // `raw` holds one character per byte (latin1), so lengths are byte counts; the body is UTF-8.
  const utf8 = (bytes: string) => Buffer.from(bytes, "latin1").toString("utf8");
  const rest = raw.slice(headEnd + 4);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const body = dechunk(rest);
    return body === undefined ? undefined : { status, head, body: utf8(body) };
  }
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (length !== undefined) return rest.length >= Number(length) ? { status, head, body: utf8(rest.slice(0, Number(length))) } : undefined;
  // Neither length nor chunks: the body ends with the connection.
  return closed ? { status, head, body: utf8(rest) } : undefined;
}

/**
 * Opens a connection, lets `send` write to it, and reads the answer (if any) without trusting it to be well
 * formed. `headArrived` tells `send` that the server has begun to answer, so it can stop sending.
 */
function exchange(port: number, waitMs: number, send: (socket: Socket, headArrived: () => boolean) => Promise<void>): RawExchange {
  let markSent!: () => void;
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  const answer = new Promise<RawAnswer>((resolve) => {
    let raw = "";
    let error: string | undefined;
    let done = false;
    const socket = connect(port, "127.0.0.1");
    const finish = (result: RawAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      markSent();
      resolve(result);
    };
    const whatCame = (closed: boolean) => ({ ...(complete(raw, closed) ?? { head: "", body: "" }), ...(error ? { error } : {}) });
    const timer = setTimeout(() => finish(whatCame(false)), waitMs);
    socket.on("connect", () => {
      const writing = send(socket, () => raw.includes("\r\n\r\n"));
      markSent();
      // Should sending fail, the exchange ends with what the server said by then.
      writing.catch(() => socket.destroy());
    });
    socket.on("data", (chunk: Buffer) => {
      raw += chunk.toString("latin1");
      const answered = complete(raw);
      if (answered) finish(answered);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on("close", () => finish(whatCame(true)));
  });
  return { sent, answer };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends one request as the pieces of `request` say; `sent` resolves once its first bytes are written. */
export function rawRequest(port: number, request: RawRequest): RawExchange {
  const { head, body = "", pieces = 1, everyMs = 0, unfinishedHead = false, endAfter = false, waitMs = 10_000 } = request;
  return exchange(port, waitMs, async (socket) => {
    socket.write(unfinishedHead ? head : `${head}\r\n`);
    if (unfinishedHead) return;
    const size = Math.ceil(body.length / pieces);
    for (let i = 0; i < body.length; i += size) {
      if (i > 0 && everyMs > 0) await sleep(everyMs);
      // Once the answer is complete the socket is destroyed, and the rest of the body is not sent.
      if (socket.destroyed) return;
      socket.write(body.slice(i, i + size));
    }
    if (endAfter && !socket.destroyed) socket.end();
  });
}

/** Sends `request` exactly as written, in one write, and reads the answer. */
export function rawExchange(port: number, request: string | Buffer, waitMs = 5_000): Promise<RawAnswer> {
  return exchange(port, waitMs, async (socket) => {
    socket.write(request);
  }).answer;
}

/**
 * Streams a chunked body of up to `totalBytes` after `head`, 64 KB every 2 ms (a client far slower than
 * the server), and stops as soon as the server begins to answer: how much was sent by then shows whether
 * the server refused the body early or read it all first.
 */
export async function chunkedUntilAnswered(port: number, head: string, totalBytes: number): Promise<{ answer: RawAnswer; sentWhenAnswered: number }> {
  const piece = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const answer = await exchange(port, 60_000, async (socket, headArrived) => {
    socket.write(`${head}\r\n`);
    while (sent < totalBytes && !headArrived() && !socket.destroyed) {
      socket.write(`${piece.length.toString(16)}\r\n`);
      socket.write(piece);
      socket.write("\r\n");
      sent += piece.length;
      await sleep(2);
    }
  }).answer;
  return { answer, sentWhenAnswered: sent };
}

/**
 * The status and error of an answer that must be in the one error shape: JSON by its Content-Type, and a
 * body the contract's `errorBody` accepts. Throws, naming what came, when it is anything else.
 */
export function shapedError(answer: RawAnswer): { status: number | undefined; head: string; error: ErrorBody["error"] } {
  if (!/\r\ncontent-type:\s*application\/json/i.test(answer.head)) {
    throw new Error(`expected a JSON answer in the error shape, got ${JSON.stringify(answer.head.slice(0, 300))}${answer.error ? ` (${answer.error})` : ""}`);
  }
  return { status: answer.status, head: answer.head, error: errorBody.parse(JSON.parse(answer.body)).error };
}
