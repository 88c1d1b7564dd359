import type { TestProject } from "vitest/node";
import { startWsTcpBridge } from "../../support/ws-tcp-bridge.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The WebSocket-to-TCP bridge through which the Neon driver reaches a plain PostgreSQL server. */
    neonBridgePort: number;
  }
}

/** One bridge for the whole run; each test file still gets its own database behind it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bridge = await startWsTcpBridge();
  project.provide("neonBridgePort", bridge.port);
  return () => bridge.close();
}
