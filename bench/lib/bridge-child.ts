/**
 * The WebSocket-to-TCP bridge (test/support/ws-tcp-bridge.ts) as a process of its own, for the origin
 * suite: the kernel then counts its CPU apart from the bench process's, as it counts each side's, the
 * load generator's and PostgreSQL's. Prints `bridge listening on <port>` once it listens; stops on
 * SIGTERM or SIGINT.
 *
 *   node --import tsx bench/lib/bridge-child.ts
 */
import { startWsTcpBridge } from "../../test/support/ws-tcp-bridge.js";

const bridge = await startWsTcpBridge();
console.log(`bridge listening on ${bridge.port}`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => void bridge.close().finally(() => process.exit(0)));
}
