/**
 * The front door of `npm start`'s edge: a Node HTTP server on EDGE_PORT that parses each request and hands
 * it to workerd, listening on a loopback port of its own. Deployed, Cloudflare's front end parses HTTP
 * before any Worker runs and answers what it cannot parse; locally, workerd's own server would answer
 * such requests itself, in plain text and mostly as 5xx, before a line of the Worker runs: a bare 500
 * for a `Content-Length` of -1, a `*` or absolute-form target or a Host that names no host, a 501 for a
 * method it does not know. Here each is answered in the project's error shape with a 4xx.
 *
 * The front lives in the edge's Node process, workerd in a child of it, so the front outlives workerd:
 * while workerd is away (killed, crashed, being restarted by scripts/edge.ts) every request is answered
 * 503 `unavailable` with Retry-After, never a refused or reset connection; a request workerd was
 * answering when it died gets that 503 too (see pass()).
 *
 * While scripts/edge.ts gives workerd new bindings (an operator's change: `npm run ops`), which restarts
 * it, the front holds new requests instead: each waits, unanswered, until workerd serves again, and is
 * then passed on as if nothing happened. Only a hold that lasts HOLD_LIMIT_MS (workerd did not come back)
 * ends in the 503 a restart promises.
 *
 * As Cloudflare's front end does, it sets CF-Connecting-IP to the address the connection came from,
 * replacing whatever the client sent (the abuse limits key on it), and reads a request's body whole (at
 * most the one body limit) before workerd is asked; a body over the limit is refused with a 413 and the
 * connection closed, not read to its end. Everything else passes through untouched: the Worker sees the
 * request the client sent, and the client the Worker's answer, streamed, except the static-asset
 * handler's bare, empty 4xx refusals (a POST to a page), which get the shape too.
 */
import { Agent, createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { UNAVAILABLE_RETRY_AFTER_SECONDS, type ErrorCode } from "../src/contract/errors.js";
import { declaredLength, MAX_BODY_BYTES } from "../src/http/body-limit.js";
import { ApiError, errorAnswer, type ErrorExtras } from "../src/http/errors.js";
import { answerClientErrors, answerHalfClosedClients } from "../src/http/node-client-errors.js";

/** The methods the edge answers; anything else is refused here, as a 405 naming these. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/** A Host header workerd can build a URL from: a name or an address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
/** Per connection, not end to end: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

/**
 * How long a refused upload's connection stays open after the answer, reading nothing, before it is cut:
 * time for a client still uploading, whose writes have stalled, to read the answer that a reset would
 * otherwise destroy unread.
 */
const LINGER_MS = 2_000;
/**
 * Should a lingering socket be read all the same (see closeWithoutReading), it is cut once it has read this
 * much more than at the answer, looked at every LINGER_CHECK_MS, so never sooner than that after the answer:
 * a client slow to read its answer (a loaded machine) still gets it before the reset.
 */
const LINGER_READ_LIMIT = 8 * 1024 * 1024;
const LINGER_CHECK_MS = 200;

/**
 * Ends the connection after this answer without reading on: a refusal made before the body was read
 * leaves the rest of it on the wire, and reading it only to throw it away (a 400 MB upload after its
 * 413) is what closing spares. The answer goes out, then the server's FIN, and the socket reads nothing
 * more: a client still uploading fills the buffers between it and the server and its writes stall, while
 * it can still read the answer. The connection is cut LINGER_MS after the answer (a socket that reads
 * nothing does not see its client go). Cut at once, the reset could reach a client still uploading before
 * it has read the answer, and all it would see is the reset. Node ends a `Connection: close` answer's
 * connection through the socket's destroySoon(), so that is where this hooks in.
 *
 * Pausing the socket is not enough: Node's HTTP server resumes it to read a request answered unread to
 * its end and throw the body away, and its parser reads from the socket's handle once resumed, so a
 * client that goes on sending after the FIN would have its whole upload read during the linger (a
 * gigabyte on loopback). Every such start goes through the socket's resume(), which is therefore made
 * to do nothing from the answer on. That rests on how Node's HTTP server reads, which no documentation
 * promises; should a Node version read the socket some other way, the bytes it reads (`bytesRead`, which
 * is documented) still bound the damage through LINGER_READ_LIMIT.
 */
function closeWithoutReading(res: ServerResponse): void {
  res.setHeader("connection", "close");
  const socket = res.socket;
  if (!socket) return;
  socket.destroySoon = () => {
    socket.resume = () => socket;
    socket.pause();
    socket.end();
    const readAtAnswer = socket.bytesRead;
    const readOn = setInterval(() => {
      if (socket.bytesRead - readAtAnswer > LINGER_READ_LIMIT) socket.destroy();
    }, LINGER_CHECK_MS);
    const cut = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once("close", () => {
      clearInterval(readOn);
      clearTimeout(cut);
    });
  };
}

/**
 * Answers in the one error shape, built by the same function as every Worker's and the origin's refusals.
 * `close`: the body is left unread, and the connection is closed after the answer (closeWithoutReading).
 */
function refuse(res: ServerResponse, status: ContentfulStatusCode, code: ErrorCode, message: string, extras: ErrorExtras = {}, close = false): void {
  const answer = errorAnswer(status, code, message, extras);
  if (close) closeWithoutReading(res);
  res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) kept[name] = value;
  return kept;
}

/** The client's address as Cloudflare gives it in CF-Connecting-IP: an IPv4 address in dotted form, not as IPv6-mapped. */
function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice("::ffff:".length) : address;
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

/**
 * Answers up to this size, with their length given, are read whole from workerd before they are passed on;
 * longer or unframed ones are streamed.
 */
const MAX_HELD_ANSWER_BYTES = 1024 * 1024;

/** A held request is answered 503 after waiting this long: workerd is not coming back soon. */
export const HOLD_LIMIT_MS = 10_000;

export interface EdgeFront {
  server: Server;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Requests passed to workerd whose answer has not ended yet. */
  forwarding(): number;
  /** New requests wait, unanswered, until `release`: workerd is being given new bindings. */
  hold(): void;
  /** Passes the held requests on to workerd at `port` (undefined: answers them 503), and stops holding. */
  release(port: number | undefined): void;
  /** The longest a request waited in the last hold, in ms. */
  longestHoldMs(): number;
  /** Where workerd listens now, on 127.0.0.1; undefined while it is away (restarting): requests get a 503. */
  setRuntime(port: number | undefined): void;
  /** Stops accepting connections and closes idle ones; requests in flight are still answered. */
  close(): void;
}

const RESTARTING = "the waiting room is restarting; your place is kept, please try again shortly";

/** Serves 127.0.0.1:`port`, passing requests to workerd on the loopback port `setRuntime` names. */
export function startEdgeFront(port: number, onListening: () => void): EdgeFront {
  // A fresh loopback connection per request: a kept-alive one that workerd closes just as it is reused
  // would fail a request that never reached the Worker.
  const agent = new Agent({ keepAlive: false });
  let runtimePort: number | undefined;
  let inFlight = 0;
  let forwarding = 0;
  let closing = false;
  /** Requests waiting for workerd while it takes new bindings; undefined when not holding. */
  let held: Array<{ since: number; go: () => void }> | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  let longestHold = 0;
  const unavailable = (res: ServerResponse) => refuse(res, 503, "unavailable", RESTARTING, { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });

  /** Hands a request whose body has been read whole to workerd, and its answer back. */
  function pass(req: IncomingMessage, res: ServerResponse, method: string, path: string, body: Buffer): void {
    if (held) {
      const since = Date.now();
      held.push({
        since,
        go: () => {
          longestHold = Math.max(longestHold, Date.now() - since);
          if (!res.destroyed) pass(req, res, method, path, body);
        },
      });
      return;
    }
    if (runtimePort === undefined) return unavailable(res);
    forwarding++;
    let counted = true;
    const done = () => {
      if (counted) forwarding--;
      counted = false;
    };
    res.once("close", done);
    const headers = endToEnd(req.headers);
    // The body goes whole, with its length, whatever framing the client used.
    if (body.byteLength > 0 || req.headers["content-length"] !== undefined) headers["content-length"] = String(body.byteLength);
    // As Cloudflare's front end does: the address the connection came from, never what the client claims.
    headers["cf-connecting-ip"] = clientAddress(req);
    let answerEnded = false;
    const upstream = forward({ host: "127.0.0.1", port: runtimePort, method, path, headers, agent }, (answer) => {
      answer.once("end", () => {
        answerEnded = true;
        done();
      });
      const status = answer.statusCode ?? 502;
      // The static-asset handler answers ahead of the Worker, and refuses a POST to a page with a bare,
      // empty 405 or 404; the front gives those the error shape, as the Worker gives its own.
      if (status >= 400 && status < 500 && answer.headers["content-length"] === "0" && method !== "HEAD") {
        answer.resume();
        const allow = answer.headers.allow;
        if (status === 405) return refuse(res, 405, "method_not_allowed", `${method} is not allowed on ${path.split("?")[0]}`, allow ? { headers: { allow } } : {});
        if (status === 404) return refuse(res, 404, "not_found", `no such page: ${path.split("?")[0]}`);
        // Any other 4xx: every status from 400 to 499 may carry a body.
        return refuse(res, status as ContentfulStatusCode, "invalid_request", "the request was refused");
      }
      const length = Number(answer.headers["content-length"] ?? Number.NaN);
      if (method !== "HEAD" && length <= MAX_HELD_ANSWER_BYTES) {
        // An answer that says its length and is small (the Worker's JSON answers are) is read whole before
        // the client sees any of it, so workerd dying in the middle of it (kill -9 between its writes)
        // leaves nothing sent, and the client gets the 503 a restart promises instead of a cut connection.
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.once("end", () => {
          res.writeHead(status, answer.statusMessage, endToEnd(answer.headers));
          res.end(Buffer.concat(chunks));
        });
        // An answer cut short ends in "close" without "end" (and an "error", which must have a listener).
        answer.once("error", () => {});
        answer.once("close", () => {
          if (!res.headersSent && !res.destroyed) unavailable(res);
        });
        return;
      }
      res.writeHead(status, answer.statusMessage, endToEnd(answer.headers));
      answer.pipe(res);
      answer.once("error", () => {
        if (!answerEnded) res.destroy();
      });
    });
    // Workerd gone (killed, restarting) before its answer was whole: the 503 a restart promises. Only an
    // answer streamed as it comes (no length, or a large one) can have begun; if workerd died in the middle
    // of that, the client gets a cut connection. An error after the whole answer arrived (workerd
    // resetting a connection it is done with) changes nothing.
    upstream.once("error", () => {
      done();
      if (!res.headersSent) unavailable(res);
      else if (!answerEnded) res.destroy();
    });
    // A client that goes away takes its forwarded request with it.
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // Headers and body in one write, before workerd can answer: nothing is left to write to a connection
    // that workerd closes as soon as it has answered (it does, for a request it refuses without reading
    // the body), so the answer is never lost to a write on a closed connection.
    upstream.end(body);
  }

  // A request without Host is refused below, in the error shape, rather than by Node with an empty 400.
  const server = createServer({ requireHostHeader: false }, (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once("close", () => inFlight--);
    req.once("error", () => res.destroy());
    if (closing) res.setHeader("connection", "close");
    const method = req.method ?? "";
    if (!METHODS.includes(method)) return refuse(res, 405, "method_not_allowed", `${method} is not a method this service answers`, { headers: { allow: METHODS.join(", ") } }, true);
    const path = pathOf(req.url ?? "");
    if (path === undefined) return refuse(res, 400, "invalid_request", "the request's target must be a path, such as /api/cohorts", {}, true);
    const host = req.headers.host;
    if (host === undefined || !HOST.test(host)) return refuse(res, 400, "invalid_request", "the request's Host header must name a host", {}, true);
    // The project's one body limit, here too: a body over it never reaches workerd.
    try {
      declaredLength(req.headers["content-length"]);
    } catch (err) {
      if (err instanceof ApiError) return refuse(res, err.status as ContentfulStatusCode, err.code, err.message, {}, true);
      throw err;
    }
    // The body is read whole (at most MAX_BODY_BYTES) before workerd is asked, as Cloudflare's front end
    // buffers a request: see pass() for why that matters.
    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      received += chunk.byteLength;
      if (received <= MAX_BODY_BYTES) return void chunks.push(chunk);
      refused = true;
      req.pause();
      refuse(res, 413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`, {}, true);
    });
    req.once("end", () => {
      if (!refused) pass(req, res, method, path, Buffer.concat(chunks, received));
    });
  });
  answerClientErrors(server);
  answerHalfClosedClients(server);
  server.listen(port, "127.0.0.1", onListening);
  return {
    server,
    inFlight: () => inFlight,
    forwarding: () => forwarding,
    setRuntime(port) {
      runtimePort = port;
    },
    hold() {
      if (held) return;
      held = [];
      longestHold = 0;
      // Bounded: a reload that never ends must not leave citizens waiting on a silent connection.
      holdTimer = setTimeout(() => this.release(undefined), HOLD_LIMIT_MS);
    },
    release(port) {
      clearTimeout(holdTimer);
      runtimePort = port;
      const waiting = held ?? [];
      held = undefined;
      for (const request of waiting) request.go();
    },
    longestHoldMs: () => longestHold,
    close() {
      closing = true;
      server.close();
      server.closeIdleConnections();
    },
  };
}
