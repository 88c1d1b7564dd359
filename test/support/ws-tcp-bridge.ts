import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { WebSocketServer, type RawData, type WebSocket } from "ws";

/**
 * A WebSocket-to-TCP bridge, so the Neon serverless driver (which speaks the Postgres protocol over a
 * WebSocket) can reach a plain PostgreSQL server. The driver asks for its target in the query string,
 * `ws://bridge/v2?address=host:port`, and each WebSocket becomes one TCP connection to that address,
 * bytes copied both ways unchanged.
 *
 * It relays to any address it is asked for, so it listens on the loopback interface only: it is for
 * tests, benchmarks and a developer's machine, never a public network.
 */
export interface WsTcpBridge {
  port: number;
  close(): Promise<void>;
}

export interface WsTcpBridgeOptions {
  /** 0 or unset: any free port (read it back from the result). */
  port?: number;
}

const ADDRESS = /^(?:\[(?<v6>[0-9a-fA-F:.]+)\]|(?<host>[\w.-]+)):(?<port>\d{1,5})$/;

function parseAddress(requestUrl: string | undefined): { host: string; port: number } | undefined {
  const address = new URL(requestUrl ?? "/", "http://bridge").searchParams.get("address");
  const match = address === null ? null : ADDRESS.exec(address);
  const host = match?.groups?.v6 ?? match?.groups?.host;
  const port = Number(match?.groups?.port);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function relay(socket: WebSocket, tcp: Socket): void {
  // Bytes the driver sends before the TCP connection is up are queued by the socket itself.
  socket.on("message", (data) => tcp.write(toBuffer(data)));
  tcp.on("data", (chunk) => socket.send(chunk));
  // Either side ending ends the other, so Postgres sees the client leave and the driver sees the
  // server go (an unreachable server shows up as a WebSocket that closes at once).
  tcp.on("error", () => socket.terminate());
  tcp.on("close", () => socket.close());
  socket.on("close", () => tcp.destroy());
  socket.on("error", () => tcp.destroy());
}

/** Starts the bridge on 127.0.0.1; `close()` drops every open connection and stops listening. */
export async function startWsTcpBridge(options: WsTcpBridgeOptions = {}): Promise<WsTcpBridge> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: options.port ?? 0 });
  const tcpSockets = new Set<Socket>();
  server.on("connection", (socket, request) => {
    const target = parseAddress(request.url);
    if (target === undefined) {
      socket.close(1008, "expected ?address=host:port");
      return;
    }
    const tcp = connect({ host: target.host, port: target.port });
    tcp.setNoDelay(true);
    tcpSockets.add(tcp);
    tcp.on("close", () => tcpSockets.delete(tcp));
    relay(socket, tcp);
  });
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the bridge expected a TCP address");
  return {
    port: address.port,
    close: async () => {
      for (const client of server.clients) client.terminate();
      for (const tcp of tcpSockets) tcp.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
