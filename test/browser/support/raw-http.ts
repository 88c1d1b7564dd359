/**
 * HTTP/1.1 over a bare TCP socket, for what fetch cannot send: bodies shorter than they declare, bodies
 * that trickle in, headers never finished, request lines no client would write.
 */
import { connect } from "node:net";

export interface RawAnswer {
  /** The status of a complete answer; undefined when none came. */
  status?: number;
  /** The answer's body, de-chunked. */
  body: string;
  /** A socket error (ECONNRESET, ECONNREFUSED, …), if the connection ended with one. */
  error?: string;
}

export interface RawRequest {
  /** The request line and headers, each line ending in CRLF, without the blank line that ends them. */
  head: string;
  /** Written after the blank line (unless `unfinishedHead`). */
  body?: string;
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
    return body === undefined ? undefined : { status, body: utf8(body) };
  }
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (length !== undefined) return rest.length >= Number(length) ? { status, body: utf8(rest.slice(0, Number(length))) } : undefined;
  // Neither length nor chunks: the body ends with the connection.
  return closed ? { status, body: utf8(rest) } : undefined;
}

/** Sends one request as written, and reads the answer (if any) without trusting it to be well formed. */
export function rawRequest(port: number, request: RawRequest): RawExchange {
  const { head, body = "", pieces = 1, everyMs = 0, unfinishedHead = false, endAfter = false, waitMs = 10_000 } = request;
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
    const timer = setTimeout(() => finish({ ...(complete(raw) ?? { body: "" }), ...(error ? { error } : {}) }), waitMs);
    socket.on("connect", async () => {
      socket.write(unfinishedHead ? head : `${head}\r\n`);
      markSent();
      if (unfinishedHead) return;
      const size = Math.ceil(body.length / pieces);
      for (let i = 0; i < body.length && !done; i += size) {
        if (i > 0 && everyMs > 0) await new Promise((r) => setTimeout(r, everyMs));
        if (socket.destroyed) return;
        socket.write(body.slice(i, i + size));
      }
      if (endAfter && !socket.destroyed) socket.end();
    });
    socket.on("data", (chunk: Buffer) => {
      raw += chunk.toString("latin1");
      const answered = complete(raw);
      if (answered) finish(answered);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on("close", () => finish({ ...(complete(raw, true) ?? { body: "" }), ...(error ? { error } : {}) }));
  });
  return { sent, answer };
}
