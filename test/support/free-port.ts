/**
 * A port for a test's server to listen on. Asking the kernel (`listen(0)`) and closing again is racy: the
 * kernel hands the same ephemeral ports to everything else running at once (workerd's own listeners, the
 * Node fronts, other test files' clients), so between the close and the child's own `listen` another
 * process may take it. Picking at random below the kernel's ephemeral range (32768–60999 on Linux) avoids
 * those; the bind check skips a port another test already holds.
 */
import { createServer } from "node:net";

const LOWEST = 20_000;
const BELOW_EPHEMERAL = 32_768;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (BELOW_EPHEMERAL - LOWEST));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${LOWEST} and ${BELOW_EPHEMERAL - 1}`);
}
