/**
 * The front door of `npm start`'s edge: a Node HTTP server on EDGE_PORT that parses each request and hands
 * it to workerd, listening on a loopback port of its own. Deployed, Cloudflare's front end parses HTTP
 * before any Worker runs and answers what it cannot parse; locally, workerd's own server would answer
 * such requests itself, in plain text and mostly as 5xx, before a line of the Worker runs: a bare 500
 * for a `Content-Length` of -1, a `*` or absolute-form target or a Host that names no host, a 501 for a
 * method it does not know. Here each is answered in the project's error shape with a 4xx, and a runtime
 * that is away (stopping, crashed) is a 503 `unavailable` rather than a reset connection.
 *
 * Everything else passes through untouched, bodies streamed both ways: the Worker sees the request the
 * client sent, and the client the Worker's answer.
 */
import { Agent, createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { UNAVAILABLE_RETRY_AFTER_SECONDS, type ErrorCode } from "../src/contract/errors.js";
import { answerClientErrors } from "../src/http/node-client-errors.js";

/** The methods the edge answers; anything else is refused here, as a 405 naming these. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/** A Host header workerd can build a URL from: a name or an address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
/** Per connection, not end to end: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

function refuse(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: code === "unavailable" ? { code, message, retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS } : { code, message } });
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
    ...(code === "unavailable" ? { "retry-after": String(UNAVAILABLE_RETRY_AFTER_SECONDS) } : {}),
    ...headers,
  });
  res.end(body);
}

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) kept[name] = value;
  return kept;
}

/** The path and query to ask workerd for, from an origin-form or absolute-form target; undefined for any other. */
function pathOf(target: string): string | undefined {
  if (target.startsWith("/")) return target;
  if (!/^https?:\/\//i.test(target)) return undefined;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

export interface EdgeFront {
  server: Server;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Stops accepting connections and closes idle ones; requests in flight are still answered. */
  close(): void;
}

/** Serves 127.0.0.1:`port`, passing requests to workerd at 127.0.0.1:`runtimePort`. */
export function startEdgeFront(port: number, runtimePort: number, onListening: () => void): EdgeFront {
  const agent = new Agent({ keepAlive: true });
  let inFlight = 0;
  let closing = false;
  // A request without Host is refused below, in the error shape, rather than by Node with an empty 400.
  const server = createServer({ requireHostHeader: false }, (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once("close", () => inFlight--);
    if (closing) res.setHeader("connection", "close");
    const method = req.method ?? "";
    if (!METHODS.includes(method)) return refuse(res, 405, "method_not_allowed", `${method} is not a method this service answers`, { allow: METHODS.join(", ") });
    const path = pathOf(req.url ?? "");
    if (path === undefined) return refuse(res, 400, "invalid_request", "the request's target must be a path, such as /api/cohorts");
    const host = req.headers.host;
    if (host === undefined || !HOST.test(host)) return refuse(res, 400, "invalid_request", "the request's Host header must name a host");

    const upstream = forward({ host: "127.0.0.1", port: runtimePort, method, path, headers: endToEnd(req.headers), agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      answer.pipe(res);
      answer.once("error", () => res.destroy());
    });
    upstream.once("error", () => {
      if (!res.headersSent) refuse(res, 503, "unavailable", "the waiting room is restarting; your place is kept, please try again shortly");
      else res.destroy();
    });
    // A client that goes away takes its forwarded request with it.
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  answerClientErrors(server);
  server.listen(port, "127.0.0.1", onListening);
  return {
    server,
    inFlight: () => inFlight,
    close() {
      closing = true;
      server.close();
      server.closeIdleConnections();
    },
  };
}
