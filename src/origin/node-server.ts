import { getRequestListener, RequestError } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { errorResponse, internalErrorResponse } from "../http/errors.js";
import { createShapedServer } from "../http/node-client-errors.js";
import type { OriginFetch } from "./app.js";

/**
 * How long an idle kept-alive connection stays open. The edge's runtime keeps idle connections to the
 * origin in a pool and sends the next request on one; a server that closes an idle connection first
 * (Node's default is 5 s) races that reuse, and a request written as the connection closes fails at the
 * edge as "Network connection lost", which the citizen sees as a 503 and the edge's breaker as the origin
 * failing. Outlasting the client's pool makes the client the side that closes, which it does safely.
 */
export const KEEP_ALIVE_MS = 120_000;

/**
 * The origin's fetch (`originFetch`) on a Node HTTP server (what @hono/node-server's `serve` builds),
 * with every answer in the error shape, including the ones that never reach the fetch: Node's parser
 * refuses some requests itself (headers over 16 KB, a bad Content-Length, broken framing, no Host: see
 * createShapedServer), and @hono/node-server refuses a request it cannot turn into a `Request` (a bad
 * Host header, a backslash in an absolute target) with a bare 400 unless it is given an `errorHandler`,
 * which `serve` cannot pass.
 */
export function serveOrigin(fetch: OriginFetch, options: { port: number; hostname: string }, onListening?: (info: AddressInfo) => void): Server {
  const listener = getRequestListener(fetch, {
    hostname: options.hostname,
    errorHandler: (err: unknown) => {
      // RequestError: the request could not be built, which is the client's doing. Anything else was
      // thrown past the origin's own error answers, which should not happen; it is logged, never shown.
      if (err instanceof RequestError) return errorResponse(400, "invalid_request", "the request's target or Host header is not valid");
      return internalErrorResponse("origin (node server)", err);
    },
  });
  const server = createShapedServer(listener);
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.listen(options.port, options.hostname, () => onListening?.(server.address() as AddressInfo));
  return server;
}
