import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode } from "../contract/errors.js";
import { errorAnswer } from "./errors.js";

/**
 * Node's HTTP parser refuses some requests before any handler sees them: headers over `maxHeaderSize`
 * (16 KB), a malformed request line or header, a bad `Content-Length` (`-1`, `abc`, two different ones),
 * broken chunked framing, a request too slow to arrive. Left to itself Node answers those with a bare
 * `HTTP/1.1 431` or `400` and no body; this answers them in the project's one error shape instead, from
 * both Node servers (the origin and the development provider). The connection is closed after it: the
 * parser has lost its place in the byte stream, so nothing more can be read from it.
 */

const ANSWERS: Record<string, { status: ContentfulStatusCode; reason: string; code: ErrorCode; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: "Request Header Fields Too Large", code: "headers_too_large", message: "the request's headers are too large" },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, reason: "Payload Too Large", code: "payload_too_large", message: "the body's chunk extensions are too large" },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: "Request Timeout", code: "request_timeout", message: "the request took too long to arrive" },
};
const BAD_REQUEST = { status: 400, reason: "Bad Request", code: "invalid_request", message: "the request is not well-formed HTTP" } as const;

/**
 * An answer in the one error shape (built by `errorAnswer`, as every other refusal is) written out as raw
 * HTTP/1.1, for a socket no response object owns; it closes the connection.
 */
function rawErrorAnswer(status: ContentfulStatusCode, reason: string, code: ErrorCode, message: string, headers: Record<string, string> = {}): string {
  const answer = errorAnswer(status, code, message, { headers: { ...headers, connection: "close" } });
  const lines = Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${reason}\r\n${lines.join("")}content-length: ${Buffer.byteLength(answer.body)}\r\n\r\n${answer.body}`;
}

/** The raw HTTP/1.1 answer for a parser error with Node's `code` (exported for tests). */
export function clientErrorResponse(code: string | undefined): string {
  const answer = (code !== undefined ? ANSWERS[code] : undefined) ?? BAD_REQUEST;
  return rawErrorAnswer(answer.status, answer.reason, answer.code, answer.message);
}

// Node sets this on a socket while a response is being written to it.
type HttpSocket = Duplex & { _httpMessage?: { headersSent: boolean } | null };

/**
 * Answers the parser's refusals on `server` in the error shape (see above), and CONNECT, which Node hands
 * to a `connect` listener and, with none, answers by closing the connection without a word.
 */
export function answerClientErrors(server: Server): void {
  server.on("connect", (_req: unknown, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    socket.end(
      rawErrorAnswer(405, "Method Not Allowed", "method_not_allowed", "CONNECT is not supported: this server is not a proxy", {
        allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
      }),
      () => socket.destroy(),
    );
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: HttpSocket) => {
    // As Node's own handler does: write only where no response has started on this socket (a pipelined
    // request after one being answered), and never to a connection the client has already dropped.
    if (err.code !== "ECONNRESET" && socket.writable && !socket._httpMessage?.headersSent) {
      // Destroyed once written: the client may still be sending the rest of what the parser refused.
      socket.end(clientErrorResponse(err.code), () => socket.destroy());
    } else {
      socket.destroy();
    }
  });
}

/**
 * Lets `server` answer a client that half-closes its side after sending its request (a `socket.end()`,
 * `curl -T`, many scripts): Node otherwise aborts the request and closes the connection at the client's
 * FIN, before an answer that takes any time (a database, a runtime behind a proxy) can be written.
 * `httpAllowHalfOpen` is the switch Node's own HTTP server reads for this; the connection still closes once
 * the answer is written.
 */
export function answerHalfClosedClients(server: Server): void {
  Object.assign(server, { httpAllowHalfOpen: true });
}

/** Answers in the one error shape from a request handler, where a response object owns the socket. */
function sendErrorAnswer(res: ServerResponse, status: ContentfulStatusCode, code: ErrorCode, message: string): void {
  const answer = errorAnswer(status, code, message, { headers: { connection: "close" } });
  res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

/**
 * A Node HTTP server for `listener` whose every refusal is in the error shape: the parser's (above), and a
 * request without a `Host` header, which Node would otherwise answer itself with a bare, empty 400 before
 * the listener runs (`requireHostHeader`). It is refused here the same way, naming the header, whatever
 * the HTTP version: every URL the origin and the provider build starts from the Host.
 */
export function createShapedServer(listener: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const withHost: RequestListener = (req, res) => {
    if (req.headers.host === undefined || req.headers.host === "") {
      return sendErrorAnswer(res, 400, "invalid_request", "the request has no Host header; name the host it is for");
    }
    listener(req, res);
  };
  const server = createServer({ requireHostHeader: false }, withHost);
  answerClientErrors(server);
  answerHalfClosedClients(server);
  return server;
}
